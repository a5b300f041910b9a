"""The allow-list that keeps a drill off hosts nobody meant to break.

Faults may touch loopback and the stack's own services. Any other host needs
three things: it is named in the scenario (``safety.allow_hosts``, or it is an
external target's host with ``target.allow_remote: true``), the scenario opts
in (``safety.allow_remote: true``), and the operator opts in on the command
line (``--allow-remote``). Anything less is refused before the drill starts.
"""

from __future__ import annotations

from harness.errors import SafetyError
from harness.scenarios.hosts import host_of_address, is_local_host
from harness.scenarios.models import Scenario


def remote_hosts(scenario: Scenario) -> list[str]:
    """Hosts the scenario would touch that are neither loopback nor stack services."""
    return [host for host in scenario.fault_hosts() if not is_local_host(host)]


def check_allowed(scenario: Scenario, cli_allow_remote: bool) -> None:
    """Raise SafetyError unless every host the scenario touches is allowed."""
    remote = remote_hosts(scenario)
    if not remote:
        return
    declared = {host_of_address(h) for h in scenario.safety.allow_hosts}
    if scenario.target.allow_remote and scenario.target.host is not None:
        declared.add(scenario.target.host)
    undeclared = [h for h in remote if h not in declared]
    reasons: list[str] = []
    if undeclared:
        reasons.append(f"list {', '.join(undeclared)} in safety.allow_hosts")
    if not scenario.safety.allow_remote:
        reasons.append("set safety.allow_remote: true in the scenario")
    if not cli_allow_remote:
        reasons.append("pass --allow-remote on the command line")
    if reasons:
        raise SafetyError(
            f"scenario {scenario.name!r} refused: it would touch {', '.join(remote)}, outside loopback and "
            f"the stack's services; to allow it, {'; '.join(reasons)}"
        )
