"""A harness that injects one fault and then waits to be killed (used by the crash tests).

    python faults_crash_child.py attach RUN_DIR LEDGER KIND PARAMS_JSON
    python faults_crash_child.py own    RUN_DIR LEDGER KIND PARAMS_JSON   (starts its own LocalStack)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from harness.faults import FaultContext, FaultLedger, build_fault
from harness.faults.attach import attach_stack
from harness.stack.base import Stack


def main() -> int:
    how, run_dir, ledger_path, kind, params = sys.argv[1:6]
    stack: Stack | None
    if how == "own":
        from harness.stack.local import LocalSettings, LocalStack

        stack = LocalStack(LocalSettings(run_dir=Path(run_dir)))
        stack.up()
    else:
        stack = attach_stack(Path(run_dir))
        if stack is None:
            print("NO STACK", flush=True)
            return 1
    ctx = FaultContext(stack=stack, ledger=FaultLedger(Path(ledger_path)))
    fault = build_fault(kind, json.loads(params))
    with fault.bind(ctx):
        print("INJECTED", fault.id, flush=True)
        time.sleep(300)  # bounded: the test kills us long before
    return 0


if __name__ == "__main__":
    sys.exit(main())
