"""harness.loader: safe YAML parsing, bounded expansion, located problems."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from harness.errors import ConfigError, ValidationFailed
from harness.loader import Limits, load_model, load_models, parse_yaml_bytes, parse_yaml_text, read_yaml_file

PROBLEM = re.compile(r"^(?P<file>[^\n]+?):(?P<line>\d+):(?P<col>\d+): (?P<path>\S+): (?P<msg>.+)$")


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    count: int = Field(ge=0)


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    items: list[Item] = Field(default_factory=list)
    limits: dict[str, float] = Field(default_factory=dict)


def problems_of(exc: ValidationFailed) -> list[dict[str, str]]:
    parsed = []
    for line in exc.problems:
        assert "\n" not in line
        match = PROBLEM.match(line)
        assert match, f"not FILE:LINE:COL: path: message -> {line!r}"
        parsed.append(match.groupdict())
    return parsed


def fail_text(text: str, source: str = "doc.yaml") -> list[dict[str, str]]:
    with pytest.raises(ValidationFailed) as info:
        parse_yaml_text(text, source)
    return problems_of(info.value)


def test_plain_yaml_parses_to_plain_data() -> None:
    doc = parse_yaml_text("title: t\nitems:\n  - {name: a, count: 1}\n", "x.yaml")
    assert doc.data == {"title": "t", "items": [{"name": "a", "count": 1}]}
    assert doc.source == "x.yaml"


def test_merge_keys_are_plain_data() -> None:
    doc = parse_yaml_text("base: &b {count: 1}\nitem:\n  <<: *b\n  name: a\n", "x.yaml")
    assert doc.data["item"] == {"count": 1, "name": "a"}


def test_syntax_error_has_line_and_column() -> None:
    [problem] = fail_text("title: t\nitems: [1, 2\nlimits: {}\n")
    assert problem["file"] == "doc.yaml"
    assert problem["line"] == "3"
    assert problem["path"] == "(yaml)"


def test_tab_indentation_is_a_located_syntax_error() -> None:
    [problem] = fail_text("title: t\nitems:\n\t- a\n")
    assert problem["line"] == "3"


def test_object_constructing_tags_are_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    text = (
        "title: t\n"
        f"a: !!python/object/apply:pathlib.Path.touch [{marker}]\n"
        "b: !!python/object/new:os.system [echo hi]\n"
        "c: !!python/name:os.system\n"
        "d: !custom 3\n"
    )
    problems = fail_text(text)
    assert [p["line"] for p in problems] == ["2", "3", "4", "5"]
    assert [p["path"] for p in problems] == ["a", "b", "c", "d"]
    assert all("not allowed" in p["msg"] for p in problems)
    assert "!!python/object/apply:pathlib.Path.touch" in problems[0]["msg"]
    assert not marker.exists()


def test_tag_on_a_key_is_refused() -> None:
    [problem] = fail_text("!!python/name:os.system : 1\n")
    assert "not allowed" in problem["msg"]


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"l{level}: &l{level} [{refs}]")
    started = time.monotonic()
    [problem] = fail_text("\n".join(lines) + "\n")
    assert time.monotonic() - started < 5.0
    assert "alias" in problem["msg"] and "beyond" in problem["msg"]
    assert int(problem["line"]) >= 2


def test_moderate_aliases_are_fine() -> None:
    doc = parse_yaml_text("a: &a [1, 2, 3]\nb: [*a, *a]\n", "x.yaml")
    assert doc.data["b"] == [[1, 2, 3], [1, 2, 3]]


def test_expansion_limit_is_configurable() -> None:
    with pytest.raises(ValidationFailed, match="beyond 10 nodes"):
        parse_yaml_text("a: &a [1, 2, 3, 4]\nb: [*a, *a, *a]\n", "x.yaml", Limits(max_expanded_nodes=10))


def test_recursive_alias_is_refused() -> None:
    [problem] = fail_text("a: &a [1, *a]\n")
    assert "recursive" in problem["msg"]
    assert problem["line"] == "1"


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    [problem] = fail_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "deeper" in problem["msg"]


def test_duplicate_keys_each_reported_at_the_duplicate() -> None:
    problems = fail_text("title: a\nitems: []\ntitle: b\nlimits:\n  x: 1\n  x: 2\n")
    located = [(p["line"], p["col"], p["path"]) for p in problems]
    assert located == [("3", "1", "title"), ("6", "3", "limits.x")]
    assert "first defined on line 1" in problems[0]["msg"]


def test_empty_and_comment_only_files_are_errors() -> None:
    for text in ("", "   \n", "# nothing here\n"):
        [problem] = fail_text(text)
        assert "empty" in problem["msg"]


def test_several_documents_are_an_error() -> None:
    [problem] = fail_text("a: 1\n---\nb: 2\n")
    assert problem["line"] == "2"


def test_control_characters_are_located() -> None:
    [problem] = fail_text("title: t\nname: a\x07b\n")
    assert (problem["line"], problem["col"]) == ("2", "8")


def test_unreadable_scalars_are_located_not_raised() -> None:
    problems = fail_text("a: 2020-13-45\n")
    assert problems[0]["line"] == "1" and "month" in problems[0]["msg"]
    problems = fail_text("title: t\nn: " + "9" * 6000 + "\n")
    assert problems[0]["line"] == "2"


def test_non_utf8_is_one_located_error() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_yaml_bytes(b"title: t\nname: caf\xe9\n", "latin1.yaml")
    [problem] = problems_of(info.value)
    assert (problem["line"], problem["col"]) == ("2", "10")
    assert "UTF-8" in problem["msg"]


def test_utf8_bom_is_accepted_and_utf16_refused() -> None:
    assert parse_yaml_bytes("\ufefftitle: t\n".encode(), "bom.yaml").data == {"title": "t"}
    with pytest.raises(ValidationFailed, match="UTF-16"):
        parse_yaml_bytes("title: t\n".encode("utf-16"), "u16.yaml")


def test_binary_with_nul_bytes_is_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_yaml_bytes(b"title: t\n\x00\x01\x02\xff", "bin.yaml")
    [problem] = problems_of(info.value)
    assert "NUL" in problem["msg"] and problem["line"] == "2"


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"a: " + b"x" * (1024 * 1024) + b"\n")
    started = time.monotonic()
    with pytest.raises(ValidationFailed) as info:
        read_yaml_file(path)
    assert time.monotonic() - started < 5.0
    [problem] = problems_of(info.value)
    assert problem["path"] == "(file)" and "limit" in problem["msg"]


def test_node_count_is_bounded() -> None:
    text = "".join(f"k{i}: {i}\n" for i in range(600))
    with pytest.raises(ValidationFailed, match="more than 500 nodes"):
        parse_yaml_text(text, "many.yaml", Limits(max_nodes=500))


def test_special_files_never_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ValidationFailed, match="not a regular file"):
        read_yaml_file(fifo)
    with pytest.raises(ValidationFailed, match="directory"):
        read_yaml_file(tmp_path)
    with pytest.raises(ValidationFailed, match="no such file"):
        read_yaml_file(tmp_path / "missing.yaml")


def test_model_errors_point_at_the_offending_node(tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(
        "title: t\nitems:\n  - name: a\n    count: -1\n  - name: b\n    cuont: 2\nlimits: {x: nope}\n"
    )
    with pytest.raises(ValidationFailed) as info:
        load_model(path, Doc)
    problems = problems_of(info.value)
    assert [(p["line"], p["col"], p["path"]) for p in problems] == [
        ("4", "12", "items.0.count"),
        ("5", "5", "items.1.count"),  # required, and missing (misspelt below)
        ("6", "5", "items.1.cuont"),
        ("7", "13", "limits.x"),
    ]
    assert all(p["file"] == str(path) for p in problems)
    assert "required" in problems[1]["msg"]
    assert "did you mean 'count'" in problems[2]["msg"]
    assert "(got 'nope')" in problems[3]["msg"]


def test_missing_keys_point_at_their_mapping() -> None:
    doc = parse_yaml_text("items:\n  - count: 1\n", "m.yaml")
    from harness.loader import validate_document

    with pytest.raises(ValidationFailed) as info:
        validate_document(doc, Doc)
    problems = problems_of(info.value)
    assert ("1", "1", "title") in [(p["line"], p["col"], p["path"]) for p in problems]
    assert ("2", "5", "items.0.name") in [(p["line"], p["col"], p["path"]) for p in problems]


def test_top_level_list_is_a_root_problem() -> None:
    doc = parse_yaml_text("- a\n- b\n", "l.yaml")
    from harness.loader import validate_document

    with pytest.raises(ValidationFailed) as info:
        validate_document(doc, Doc)
    [problem] = problems_of(info.value)
    assert problem["path"] == "(root)"


def test_load_models_reports_every_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("title: ok\n")
    bad1 = tmp_path / "bad1.yaml"
    bad1.write_text("title: [\n")
    bad2 = tmp_path / "bad2.yaml"
    bad2.write_text("titel: x\n")
    with pytest.raises(ValidationFailed) as info:
        load_models([good, bad1, bad2], Doc)
    files = [p["file"] for p in problems_of(info.value)]
    assert str(bad1) in files and str(bad2) in files and str(good) not in files
    assert isinstance(info.value, ConfigError)
    assert [d.title for d in load_models([good], Doc)] == ["ok"]


def test_too_many_model_problems_are_capped() -> None:
    from harness.loader import validate_document

    text = "title: t\nitems:\n" + "".join(f"  - {{name: n, count: -{i + 1}}}\n" for i in range(200))
    with pytest.raises(ValidationFailed) as info:
        validate_document(parse_yaml_text(text, "cap.yaml"), Doc)
    assert len(info.value.problems) == 51
    assert "150 more problems" in info.value.problems[-1]


class Flag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["flag"]
    flag: str
    enabled: bool


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["note"]
    text: str


class Steps(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[Annotated[Flag | Note, Field(discriminator="kind")]]


def test_tagged_union_tags_do_not_appear_in_paths() -> None:
    from harness.loader import validate_document

    text = "steps:\n  - {kind: note, txt: hi}\n  - kind: flag\n    flagg: x\n    enabled: true\n"
    with pytest.raises(ValidationFailed) as info:
        validate_document(parse_yaml_text(text, "u.yaml"), Steps)
    problems = problems_of(info.value)
    assert [(p["line"], p["col"], p["path"]) for p in problems] == [
        ("2", "5", "steps.0.text"),
        ("2", "18", "steps.0.txt"),
        ("3", "5", "steps.1.flag"),
        ("4", "5", "steps.1.flagg"),
    ]
    assert "did you mean 'text'" in problems[1]["msg"] and "enabled" not in problems[1]["msg"]
    assert "did you mean 'flag'" in problems[3]["msg"]
