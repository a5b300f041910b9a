"""Faults: the base class, the registry, the fault proxy, the fault kinds and the fault ledger.

See docs/ARCHITECTURE.md ("Fault proxy", "Formats") and harness/faults/base.py.
"""

from harness.faults.base import FakeFault, Fault, FaultContext, FaultParams, FaultState
from harness.faults.heal import HealItem, HealOutcome, HealReport, heal
from harness.faults.ledger import FaultLedger, LedgerEntry
from harness.faults.registry import build_fault, fault_type, known_kinds, validate_params
from harness.faults.signals import revert_on_signals

__all__ = [
    "FakeFault",
    "Fault",
    "FaultContext",
    "FaultLedger",
    "FaultParams",
    "FaultState",
    "HealItem",
    "HealOutcome",
    "HealReport",
    "LedgerEntry",
    "build_fault",
    "fault_type",
    "heal",
    "known_kinds",
    "revert_on_signals",
    "validate_params",
]
