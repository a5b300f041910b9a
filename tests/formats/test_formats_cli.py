"""``drillctl validate`` and ``drillctl list`` through click's CliRunner: exit codes, one line per problem."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.cli import scenarios as cli_scenarios
from harness.cli.scenarios import list_scenarios, validate
from harness.paths import repo_root
from harness.scenarios import faultspec

EXAMPLE = repo_root() / "scenarios" / "examples" / "http-5xx-example.yaml"
PROBLEM = re.compile(r"^.+:\d+:\d+: \S+: .+$")


@pytest.fixture(autouse=True)
def no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faultspec, "_fault_registry", lambda: None)


def run(*args: str) -> Result:
    return CliRunner().invoke(validate, list(args))


def assert_clean_failure(result: Result, count: int | None = None) -> list[str]:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert lines and all(PROBLEM.match(line) for line in lines), lines
    if count is not None:
        assert len(lines) == count, lines
    return lines


def test_valid_example_prints_ok() -> None:
    result = run(str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"OK {EXAMPLE}"


MALFORMED: dict[str, bytes] = {
    "syntax": b"name: x\nschedule: [daily\n",
    "types": b"name: x\ndescription: d\nschedule: daily\nseverity: SEV1\n"
    b"fault: 3\nexpect: []\nrecovery: {}\n",
    "typo": b"nmae: x\n",
    "negative": b"fault: {kind: k, max_duration_seconds: -1}\n",
    "infinite": b"fault: {kind: k, max_duration_seconds: .inf}\n",
    "tag": b"name: !!python/object/apply:os.system [touch /tmp/never]\n",
    "bomb": b"a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    b"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e]\n",
    "latin1": b"name: caf\xe9\n",
    "binary": b"\x7fELF\x02\x01\x01\x00\x00\x00",
    "empty": b"",
    "dupe": b"name: a\nname: b\n",
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_each_malformed_class_exits_1_with_located_lines(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.yaml"
    path.write_bytes(MALFORMED[kind])
    lines = assert_clean_failure(run(str(path)))
    assert all(line.startswith(f"{path}:") for line in lines)


def test_huge_file(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * (2 * 1024 * 1024))
    assert_clean_failure(run(str(path)), count=1)


def test_missing_file_and_empty_directory(tmp_path: Path) -> None:
    assert_clean_failure(run(str(tmp_path / "nope.yaml")), count=1)
    assert_clean_failure(run(str(tmp_path)), count=1)


def test_directory_mixes_scenarios_and_runbooks(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "a.yaml")
    (tmp_path / "bad.yaml").write_text("name: bad\n")
    result = run(str(tmp_path))
    lines = assert_clean_failure(result)
    assert f"OK {tmp_path / 'a.yaml'}" in result.stdout
    assert all(str(tmp_path / "bad.yaml") in line for line in lines)


def test_runbook_files_are_detected(tmp_path: Path) -> None:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "broken.yaml").write_text("id: error_rate_spike\ntitel: typo\nsteps: []\n")
    result = run(str(runbooks / "broken.yaml"))
    if cli_scenarios._runbook_model() is None:
        pytest.skip("harness.runbooks.models is not available")
    lines = assert_clean_failure(result)
    assert any("titel" in line for line in lines)
    assert not any("unknown key 'id'" in line for line in lines)  # not read as a scenario


def test_scenario_runbook_reference_is_checked_against_checked_runbooks(tmp_path: Path) -> None:
    if cli_scenarios._runbook_model() is None:
        pytest.skip("harness.runbooks.models is not available")
    shutil.copy(EXAMPLE, tmp_path / "a.yaml")
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "other.yaml").write_text(
        "id: other\ntitle: t\nseverity: SEV2\nautomation: automatic\nexpected_recovery_seconds: 60\n"
        "steps:\n  - {id: s1, kind: notify, webhook: chat, text: hi}\n"
    )
    result = run(str(tmp_path))
    if result.exit_code == 1 and "other.yaml" in result.stderr:
        pytest.skip(f"runbook fixture does not match the current runbook format: {result.stderr}")
    lines = assert_clean_failure(result, count=1)
    assert "expect.runbook" in lines[0] and "no runbook 'error_rate_spike'" in lines[0]


def test_internal_errors_are_one_line_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("kaboom\nsecond line")

    monkeypatch.setattr(cli_scenarios, "_validate_file", boom)
    result = run(str(EXAMPLE))
    assert result.exit_code == 2
    assert result.stderr.strip() == "internal error: RuntimeError: kaboom second line"
    assert "Traceback" not in result.output


def test_list_prints_a_table(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "http.yaml")
    manual = EXAMPLE.read_text().replace("name: http-5xx-example", "name: manual-one").replace(
        "runbook: error_rate_spike", "runbook: null"
    )
    (tmp_path / "manual.yaml").write_text(manual)
    result = CliRunner().invoke(list_scenarios, [str(tmp_path)])
    assert result.exit_code == 0, result.output
    for text in ("http-5xx-example", "manual-one", "monthly", "SEV2", "http_errors", "error_rate_spike",
                 "manual", "MTTR≤90s"):
        assert text in result.stdout


def test_list_reports_problems(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: [\n")
    assert_clean_failure(CliRunner().invoke(list_scenarios, [str(tmp_path)]), count=1)
    assert_clean_failure(CliRunner().invoke(list_scenarios, [str(tmp_path / "nope")]), count=1)


def test_list_defaults_to_the_checkouts_scenarios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./scenarios here
    result = CliRunner().invoke(list_scenarios, [])
    assert result.exit_code in (0, 1), result.output  # 1 only if a shipped scenario is invalid
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        assert str(repo_root() / "scenarios") in result.stdout.replace("\n", "")
