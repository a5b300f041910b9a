"""LoadSpec, command lines, profile resolution and record reading (no Locust started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.errors import ConfigError, ServiceControlError
from harness.load.models import LoadSpec, ShapeKind
from harness.load.runner import LoadRunner, load_dir, resolve_profile


def flag(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


class TestSpec:
    def test_defaults_are_sized_for_two_cores(self) -> None:
        spec = LoadSpec()
        assert spec.users == 6 and spec.rate_per_user == 5.0 and spec.total_rate == 30.0
        assert spec.shape is ShapeKind.STEADY and spec.workers == 0

    def test_unknown_fields_and_reserved_env_are_refused(self) -> None:
        with pytest.raises(ValidationError):
            LoadSpec.model_validate({"users": 3, "usres": 4})
        with pytest.raises(ValidationError, match="DRILL_RATE_PER_USER"):
            LoadSpec(env={"DRILL_RATE_PER_USER": "100"})
        with pytest.raises(ValidationError):
            LoadSpec(users=0)

    def test_shape_parses_from_text(self) -> None:
        assert LoadSpec.model_validate({"shape": "spike"}).shape is ShapeKind.SPIKE
        assert LoadSpec.model_validate({"shape": None}).shape is None


class TestProfiles:
    def test_shipped_profile_by_name(self) -> None:
        assert resolve_profile("demo_users") == (load_dir() / "demo_users.py").resolve()

    def test_own_locustfile_by_path(self, tmp_path: Path) -> None:
        mine = tmp_path / "my_users.py"
        mine.write_text("# a locustfile\n")
        assert resolve_profile(str(mine)) == mine.resolve()

    def test_unknown_profile_lists_the_shipped_ones(self) -> None:
        with pytest.raises(ConfigError, match="demo_users"):
            resolve_profile("no_such_profile")


class TestCommands:
    def runner(self, tmp_path: Path, **spec: object) -> LoadRunner:
        return LoadRunner(LoadSpec.model_validate(spec), "http://127.0.0.1:9/", tmp_path)

    def test_local_command_is_headless_and_always_bounded(self, tmp_path: Path) -> None:
        runner = self.runner(tmp_path, users=4, spawn_rate=2, max_seconds=12.5)
        cmd = runner.command("local")
        assert "--headless" in cmd and "--master" not in cmd
        assert flag(cmd, "--run-time") == "13s"
        assert flag(cmd, "-u") == "4" and flag(cmd, "--host") == "http://127.0.0.1:9"
        assert flag(cmd, "--csv") == str(tmp_path / "load" / "locust")
        files = flag(cmd, "-f").split(",")
        assert [Path(f).name for f in files] == ["demo_users.py", "drill_events.py", "shapes.py"]

    def test_no_shape_means_no_shapes_file(self, tmp_path: Path) -> None:
        cmd = self.runner(tmp_path, shape=None).command("local")
        assert [Path(f).name for f in flag(cmd, "-f").split(",")] == ["demo_users.py", "drill_events.py"]

    def test_master_and_workers_stay_on_loopback(self, tmp_path: Path) -> None:
        runner = self.runner(tmp_path, workers=2)
        master = runner.command("master", 5557)
        assert flag(master, "--expect-workers") == "2"
        assert flag(master, "--master-bind-host") == "127.0.0.1"
        assert flag(master, "--master-bind-port") == "5557"
        assert "--run-time" in master
        worker = runner.command("worker", 5557)
        assert "--worker" in worker and flag(worker, "--master-host") == "127.0.0.1"
        assert flag(worker, "--master-port") == "5557" and "--headless" not in worker
        with pytest.raises(ValueError):
            runner.command("worker")
        with pytest.raises(ValueError):
            runner.command("chief")

    def test_environment_carries_rate_shape_and_log_dir(self, tmp_path: Path) -> None:
        runner = self.runner(tmp_path, rate_per_user=2.5, shape="spike", env={"MY_TOKEN": "x"})
        env = runner.environment()
        assert env["DRILL_RATE_PER_USER"] == "2.5" and env["DRILL_SHAPE"] == "spike"
        assert env["DRILL_REQUEST_LOG_DIR"] == str(tmp_path / "load" / "requests")
        assert env["MY_TOKEN"] == "x"
        assert env["PYTHONPATH"].split(":")[0] == str(load_dir())


class TestRecords:
    def test_records_are_merged_sorted_and_cut_lines_skipped(self, tmp_path: Path) -> None:
        runner = LoadRunner(LoadSpec(), "http://127.0.0.1:9", tmp_path)
        runner.requests_dir.mkdir(parents=True)
        line = {"t": 2.0, "name": "/catalog", "method": "GET", "status": 200, "ms": 3.0, "ok": True}
        (runner.requests_dir / "requests-a-1.jsonl").write_text(
            json.dumps(line) + "\n" + json.dumps({**line, "t": 5.0}) + "\n{\"t\": 6.0, \"na"
        )
        (runner.requests_dir / "requests-a-2.jsonl").write_text(json.dumps({**line, "t": 3.0}) + "\n\n")
        assert [r.t for r in runner.records()] == [2.0, 3.0, 5.0]

    def test_stop_before_start_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ServiceControlError):
            LoadRunner(LoadSpec(), "http://127.0.0.1:9", tmp_path).stop()
