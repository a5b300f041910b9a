"""Deterministic fuzzing: no input makes the loader raise anything but ValidationFailed, or take long.

hypothesis is not installed, so inputs come from random.Random(seed): random
bytes, random YAML-ish token soup, and mutations of the example scenario
(byte flips, insertions of YAML punctuation and tags, truncation, line
shuffles, duplication).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.scenarios import validate
from harness.errors import ValidationFailed
from harness.loader import parse_yaml_bytes, validate_document
from harness.paths import repo_root
from harness.scenarios import faultspec
from harness.scenarios.models import Scenario

EXAMPLE = (repo_root() / "scenarios" / "examples" / "http-5xx-example.yaml").read_bytes()
TOKENS = [
    b"&a ", b"*a", b"<<: *a", b"!!python/object:os.system", b"!!binary ", b"!!set", b"!local", b"{", b"}",
    b"[", b"]", b": ", b"- ", b"? ", b"|", b">-", b"'", b'"', b"#", b"\t", b"\n", b"  ", b"---", b"...",
    b"%YAML 1.1\n", b".inf", b"-.inf", b".nan", b"-1", b"0", b"1e999", b"9" * 40, b"null", b"~", b"yes",
    b"2020-13-45", b"\xc3\xa9", b"\xe9", b"\xff", b"\x00", b"\x07", b"\xef\xbb\xbf", b"\\u0000",
    b"max_duration_seconds: ", b"kind: ", b"steps:", b"id: x\n", b"\xe2\x80\xa8",
]
PER_CALL_LIMIT_S = 10.0  # generous: the point is "no hang", not speed (2 shared cores)


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        choice = rng.random()
        position = rng.randint(0, len(buf))
        if choice < 0.25 and buf:
            buf[min(position, len(buf) - 1)] = rng.randrange(256)
        elif choice < 0.55:
            buf[position:position] = rng.choice(TOKENS)
        elif choice < 0.65:
            del buf[position:]
        elif choice < 0.8:
            lines = bytes(buf).split(b"\n")
            rng.shuffle(lines)
            buf = bytearray(b"\n".join(lines))
        elif choice < 0.9 and buf:
            end = rng.randint(position, len(buf))
            buf[position:position] = buf[position:end]
        else:
            del buf[position:position + rng.randint(1, 40)]
    return bytes(buf)


def token_soup(rng: random.Random) -> bytes:
    glue = [b"", b"a", b"x: ", b" "]
    return b"".join(rng.choice(TOKENS) + rng.choice(glue) for _ in range(rng.randint(0, 60)))


def inputs(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    made: list[bytes] = []
    for index in range(count):
        kind = index % 3
        if kind == 0:
            made.append(mutate(rng, EXAMPLE))
        elif kind == 1:
            made.append(token_soup(rng))
        else:
            made.append(bytes(rng.randrange(256) for _ in range(rng.randint(0, 400))))
    return made


@pytest.mark.parametrize(("seed", "registry"), [(1, "none"), (2, "none"), (3, "real"), (4, "real")])
def test_only_validation_failed_escapes(seed: int, registry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if registry == "none":
        monkeypatch.setattr(faultspec, "_fault_registry", lambda: None)
    else:
        pytest.importorskip("harness.faults.registry")
    outcomes = {"ok": 0, "refused": 0}
    for data in inputs(seed, 150):
        started = time.monotonic()
        try:
            validate_document(parse_yaml_bytes(data, "fuzz.yaml"), Scenario)
            outcomes["ok"] += 1
        except ValidationFailed as exc:
            outcomes["refused"] += 1
            assert exc.problems, data
            for line in exc.problems:
                assert line.startswith("fuzz.yaml:") and "\n" not in line, (data, line)
        elapsed = time.monotonic() - started
        assert elapsed < PER_CALL_LIMIT_S, (elapsed, data[:200])
    assert outcomes["refused"] > 0


def test_mutations_of_the_example_sometimes_still_load() -> None:
    rng = random.Random(99)
    loaded = 0
    for _ in range(60):
        buf = bytearray(EXAMPLE)
        position = rng.randint(0, len(buf))
        buf[position:position] = b" "  # mostly harmless: inside comments and values
        try:
            validate_document(parse_yaml_bytes(bytes(buf), "m.yaml"), Scenario)
            loaded += 1
        except ValidationFailed:
            pass
    assert loaded > 0  # the fuzzer is not just feeding garbage the parser rejects at byte 0


def test_cli_never_tracebacks_on_fuzz(tmp_path: Path) -> None:
    files = []
    for index, data in enumerate(inputs(7, 30)):
        path = tmp_path / f"f{index}.yaml"
        path.write_bytes(data)
        files.append(str(path))
    result = CliRunner().invoke(validate, files)
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for line in result.stderr.splitlines():
        assert line.startswith(str(tmp_path)), line
