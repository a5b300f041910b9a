"""Unit tests without servers: rules evaluation, state persistence, settings, supervisor helpers."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import target_procs  # noqa: F401  (puts fixtures/target on sys.path)
from demo_target.config import Settings, SettingsError
from demo_target.rules import (
    DEFAULT_RULES,
    OrderRejected,
    RulesError,
    base_price_cents,
    compile_rules,
    order_total_cents,
)
from demo_target.state import NothingToRollBack, StateStore, UnknownName

from harness.stack.memlimit import MemoryLimit, MemoryLimitMode
from harness.stack.supervisor import (
    Supervisor,
    SupervisorStatus,
    parse_args,
    read_status,
    supervisor_command,
)

# -- rules -----------------------------------------------------------------------------


def test_default_rules_price_orders() -> None:
    rules = compile_rules(DEFAULT_RULES)
    assert order_total_cents("sku-coffee", 3, rules) == 3 * 899
    assert rules.currency == "EUR"


def test_discount_and_max_quantity() -> None:
    rules = compile_rules({"max_quantity": 5, "discount_pct": 25, "currency": "USD"})
    assert order_total_cents("sku-coffee", 2, rules) == 2 * round(899 * 0.75)
    with pytest.raises(OrderRejected):
        order_total_cents("sku-coffee", 6, rules)


@pytest.mark.parametrize(
    "rules",
    [
        {"max_quantity": 0},
        {"max_quantity": -1},
        {"max_quantity": 2.5},
        {"max_quantity": True},
        {"max_quantity": "10"},
        {"discount_pct": -1},
        {"discount_pct": 100.5},
        {"discount_pct": 250},
        {"discount_pct": "5"},
        {"currency": ""},
    ],
)
def test_broken_rules_raise(rules: dict[str, Any]) -> None:
    with pytest.raises(RulesError):
        compile_rules(rules)


def test_boundaries_are_accepted() -> None:
    assert compile_rules({"discount_pct": 100, "max_quantity": 1}).discount_pct == 100
    assert compile_rules({}).max_quantity == 100


def test_unknown_sku_price_is_stable_and_bounded() -> None:
    assert base_price_cents("sku-zz-unknown") == base_price_cents("sku-zz-unknown")
    assert all(100 <= base_price_cents(f"sku-{i}") <= 10000 for i in range(200))


# -- state -----------------------------------------------------------------------------


def fixed_now() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)


def test_fresh_state_is_written_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = StateStore(path, now=fixed_now)
    assert store.summary(0) == {
        "flags": {"cache_bypass": False, "read_only": False, "throttle_noncritical": False},
        "breakers": {"redis": "closed", "postgres": "closed"},
        "rules_version": 1,
        "restarts": 0,
    }
    on_disk = json.loads(path.read_text())
    assert on_disk["rules_version"] == 1 and on_disk["history"][0]["rules"] == DEFAULT_RULES


def test_changes_survive_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    changes: list[int] = []
    store = StateStore(path, now=fixed_now, on_change=lambda s: changes.append(s.rules_version))
    store.set_flag("cache_bypass", True)
    store.set_breaker("redis", True)
    store.deploy_rules({"max_quantity": 3})
    assert changes == [1, 1, 2]
    reloaded = StateStore(path, now=fixed_now)
    assert reloaded.flag("cache_bypass") and not reloaded.flag("read_only")
    assert reloaded.breaker_open("redis") and not reloaded.breaker_open("postgres")
    assert reloaded.rules_version == 2 and reloaded.compiled_rules().max_quantity == 3
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"], "no temp files left behind"


def test_unknown_names(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    with pytest.raises(UnknownName):
        store.set_flag("turbo", True)
    with pytest.raises(UnknownName):
        store.set_breaker("kafka", True)
    with pytest.raises(UnknownName):
        store.rollback(7)
    with pytest.raises(NothingToRollBack):
        store.rollback()


def test_rollback_walks_back_and_versions_stay_monotonic(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json", now=fixed_now)
    assert store.deploy_rules({"discount_pct": 10}) == 2
    assert store.deploy_rules({"discount_pct": 500}) == 3
    with pytest.raises(RulesError):
        store.compiled_rules()
    assert store.rollback() == 2
    assert store.compiled_rules().discount_pct == 10
    assert store.rollback() == 1
    assert store.deploy_rules({"discount_pct": 5}) == 4
    assert store.rollback(to_version=3) == 3
    doc = store.rules_document()
    assert doc["current"] == {"version": 3, "rules": {"discount_pct": 500}}
    assert [(h["version"], h["action"]) for h in doc["history"]] == [
        (1, "deploy"),
        (2, "deploy"),
        (3, "deploy"),
        (2, "rollback"),
        (1, "rollback"),
        (4, "deploy"),
        (3, "rollback"),
    ]


@pytest.mark.parametrize("content", ["{not json", '{"flags": {"turbo": true}}', '{"rules_version": 9}'])
def test_corrupt_state_file_is_kept_aside(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    store = StateStore(path)
    assert store.rules_version == 1
    assert (tmp_path / "state.json.corrupt").read_text() == content
    assert json.loads(path.read_text())["rules_version"] == 1


# -- settings --------------------------------------------------------------------------


def test_settings_require_the_contract_variables() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({})
    for name in ("DEMO_DATABASE_URL", "DEMO_REDIS_URL", "DEMO_ADMIN_TOKEN"):
        assert name in str(caught.value)


def test_settings_defaults_and_parsing() -> None:
    base = {
        "DEMO_DATABASE_URL": "postgresql://u:p@h:1/d",
        "DEMO_REDIS_URL": "redis://h:2/0",
        "DEMO_ADMIN_TOKEN": "t",
    }
    settings = Settings.from_env(base)
    assert (settings.host, settings.port, settings.rate_limit_rps) == ("127.0.0.1", 8080, 500)
    assert (settings.max_body_bytes, settings.dep_timeout_s) == (16384, 1.0)
    assert (settings.restart_count, settings.last_exit_reason) == (0, "none")
    custom = Settings.from_env(
        {
            **base,
            "DEMO_RESTART_COUNT": "2",
            "DEMO_LAST_EXIT_REASON": "oom_killed",
            "DEMO_DEP_TIMEOUT_SECONDS": "0.25",
        }
    )
    assert (custom.restart_count, custom.last_exit_reason, custom.dep_timeout_s) == (2, "oom_killed", 0.25)
    with pytest.raises(SettingsError, match="DEMO_PORT"):
        Settings.from_env({**base, "DEMO_PORT": "eighty"})
    with pytest.raises(SettingsError, match="DEMO_RATE_LIMIT_RPS"):
        Settings.from_env({**base, "DEMO_RATE_LIMIT_RPS": "0"})


# -- supervisor helpers ----------------------------------------------------------------


class OomLimit(MemoryLimit):
    mode = MemoryLimitMode.CGROUP

    def __init__(self, oom: bool) -> None:
        self.oom = oom

    def oom_killed(self) -> bool:
        return self.oom


@pytest.mark.parametrize(
    ("code", "oom", "reason"),
    [
        (0, False, "exited:0"),
        (3, True, "exited:3"),
        (-signal.SIGKILL, False, "killed"),
        (-signal.SIGKILL, True, "oom_killed"),
        (-signal.SIGTERM, True, "killed"),
        (-signal.SIGSEGV, False, "killed"),
    ],
)
def test_exit_reasons(tmp_path: Path, code: int, oom: bool, reason: str) -> None:
    supervisor = Supervisor("t", tmp_path / "s.json", ["true"], OomLimit(oom))
    assert supervisor.exit_reason(code) == reason


def test_command_line_round_trips_through_the_parser(tmp_path: Path) -> None:
    cmd = supervisor_command("target", tmp_path / "s.json", 256, ["python", "-m", "demo_target", "--x"])
    assert cmd[1:3] == ["-m", "harness.stack.supervisor"]
    args = parse_args(cmd[3:])
    assert (args.name, args.status_file, args.memory_limit_mb, args.memory_limit_mode, args.backoff) == (
        "target",
        tmp_path / "s.json",
        256,
        "auto",
        0.2,
    )
    assert args.cmd == ["python", "-m", "demo_target", "--x"]
    assert "--memory-limit-mb" not in supervisor_command("t", tmp_path / "s.json", None, ["x"])


def test_status_file_format(tmp_path: Path) -> None:
    supervisor = Supervisor("t", tmp_path / "s.json", ["true"], MemoryLimit())
    supervisor.write_status()
    status = read_status(tmp_path / "s.json")
    assert status.restarts == 0 and status.last_exit_reason == "none" and status.child_pid is None
    assert status.memory_limit_mode is MemoryLimitMode.NONE
    with pytest.raises(ValueError):
        SupervisorStatus.model_validate({**status.model_dump(), "extra": 1})
