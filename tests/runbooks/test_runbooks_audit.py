"""The hash-chained audit ledger: tampering is found, with the right line number."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.runbook import ledger
from harness.clock import FakeClock
from harness.errors import AuditLedgerError
from harness.runbooks.audit import AuditLedger, record_hash, verify


def write(path: Path, n: int = 5) -> list[str]:
    book = AuditLedger(path, FakeClock())
    for i in range(n):
        book.append("step_finished", {"i": i, "output": f"line {i}"})
    return path.read_text().splitlines(keepends=True)


def lines_of(report_path: Path) -> list[int]:
    return [p.line for p in verify(report_path).problems]


def test_intact_ledger_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path)
    report = verify(path)
    assert report.ok and report.records == 5
    assert report.head_hash == json.loads(path.read_text().splitlines()[-1])["hash"]
    first = json.loads(path.read_text().splitlines()[0])
    assert (
        first["seq"] == 1
        and first["prev_hash"] == "0" * 64
        and set(first) == {"seq", "ts", "event", "payload", "prev_hash", "hash"}
    )


def test_edited_line_is_found(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write(path)
    lines[2] = lines[2].replace('"line 2"', '"line two"')
    path.write_text("".join(lines))
    assert lines_of(path) == [3]


def test_edit_with_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write(path)
    record = json.loads(lines[1])
    record["payload"]["output"] = "forged"
    record["hash"] = record_hash(record)
    lines[1] = json.dumps(record) + "\n"
    path.write_text("".join(lines))
    assert lines_of(path) == [3]


def test_deleted_line_is_found(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write(path)
    del lines[1]
    path.write_text("".join(lines))
    assert lines_of(path)[0] == 2


def test_reordered_lines_are_found(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write(path)
    lines[2], lines[3] = lines[3], lines[2]
    path.write_text("".join(lines))
    assert lines_of(path)[:2] == [3, 4]  # line 5 no longer links to its predecessor either


def test_torn_line_is_found_and_blocks_appends(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write(path)
    path.write_text("".join(lines[:4]) + lines[4][:40])
    assert lines_of(path) == [5]
    with pytest.raises(AuditLedgerError, match="torn"):
        AuditLedger(path).append("x", {})
    with pytest.raises(AuditLedgerError) as info:
        verify(path).raise_for_problems()
    assert info.value.line == 5


def test_cut_off_end_needs_the_head_hash(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write(path)
    head = verify(path).head_hash
    path.write_text("".join(lines[:3]))
    assert verify(path).ok  # undetectable without an anchor ...
    assert not verify(path, expect_head=head).ok  # ... detected with one


def test_threads_and_instances_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    books = [AuditLedger(path), AuditLedger(path)]

    def worker(n: int) -> None:
        for i in range(50):
            books[n % 2].append("e", {"worker": n, "i": i})

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    report = verify(path)
    assert report.ok, report.problems[:3]
    assert report.records == 200


def test_cli_verify_reports_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write(path)
    runner = CliRunner()
    ok = runner.invoke(ledger, ["verify", "--path", str(path)])
    assert ok.exit_code == 0 and "OK: 5 record(s)" in ok.output
    for tamper, line in (("edit", 2), ("delete", 4), ("reorder", 1)):
        changed = list(lines)
        if tamper == "edit":
            changed[1] = changed[1].replace('"i":1', '"i":7')
        elif tamper == "delete":
            del changed[3]
        else:
            changed[0], changed[1] = changed[1], changed[0]
        path.write_text("".join(changed))
        result = runner.invoke(ledger, ["verify", "--path", str(path)])
        assert result.exit_code == 1, tamper
        assert f"{path}:{line}:" in result.output, (tamper, result.output)


def test_cli_verify_missing_ledger(tmp_path: Path) -> None:
    result = CliRunner().invoke(ledger, ["verify", "--path", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 1 and "cannot read audit ledger" in result.output


def test_two_processes_keep_one_chain(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "audit.jsonl"
    code = (
        "import sys; from pathlib import Path; from harness.runbooks.audit import AuditLedger\n"
        "book = AuditLedger(Path(sys.argv[1]))\n"
        "for i in range(100): book.append('e', {'pid_i': i})\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=Path(__file__).resolve().parents[2])
        for _ in range(2)
    ]
    try:
        for proc in procs:
            assert proc.wait(timeout=120) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    report = verify(path)
    assert report.ok, report.problems[:3]
    assert report.records == 200
