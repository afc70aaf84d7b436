"""docs/FORMAT.md is the whole contract: its rule table (section 6.8) lists exactly the finding
codes the core can emit, every code is exercised by a golden vector (receipt codes by cases that
carry a receipt) or is named below as not yet reached, and the report example in docs/VERIFY.md is a valid report.

Reads only documents, rust/core/src/finding.rs, the vectors and the report schema (no Rust build is
needed, except by the last test, which compares the example with a fresh run)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
FORMAT = ROOT / "docs" / "FORMAT.md"
VERIFY = ROOT / "docs" / "VERIFY.md"
CORE_SRC = ROOT / "rust" / "core" / "src"
FINDING_RS = CORE_SRC / "finding.rs"
VECTORS = ROOT / "data" / "vectors"
REPORT_SCHEMA = ROOT / "python" / "kfm_wal" / "schemas" / "verify-report-v1.json"

RULE_TABLE_HEADING = "### 6.8 Rule table"
RULE_TABLE_COLUMNS = ["code", "meaning", "located at", "precedence"]

# Codes in the rule table that no invalid vector names as its expected first error yet. Keep this
# set small and honest: each entry is a vector to write (tests/reference/make_vectors.py).
NOT_YET_IN_A_VECTOR: set[str] = set()  # every code is reached (receipt codes by cases with a receipt.json)

# (a file name such as `receipt.json` is not a code)
CODE_SHAPE = re.compile(r"(?:record|chain|seal|time|tail|intent|completion|receipt)\.(?!json\b)[a-z_]+")


def _cells(row: str) -> list[str]:
    """The cells of one markdown table row (`|` escaped as `\\|` stays inside a cell)."""
    inner = row.strip()
    if not (inner.startswith("|") and inner.endswith("|")):
        raise AssertionError(f"not a table row: {row!r}")
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner[1:-1])]


def table_after(text: str, heading: str) -> list[list[str]]:
    """The first markdown table after `heading`: header row first, separator row dropped."""
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        raise AssertionError(f"heading {heading!r} not found") from None
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append(_cells(line))
        elif rows:
            break
    assert len(rows) >= 2, f"no table after {heading!r}"
    header, separator, *body = rows
    assert all(re.fullmatch(r":?-+:?", c) for c in separator), separator
    return [header, *body]


def rule_table(text: str | None = None) -> dict[str, dict[str, str]]:
    """FORMAT.md's rule table: {code: {column: cell}}."""
    header, *rows = table_after(FORMAT.read_text(encoding="utf-8") if text is None else text, RULE_TABLE_HEADING)
    assert header == RULE_TABLE_COLUMNS, header
    table: dict[str, dict[str, str]] = {}
    for row in rows:
        assert len(row) == len(header), row
        m = re.fullmatch(r"`([^`]+)`", row[0])
        assert m, f"the code cell must be one `code`: {row[0]!r}"
        code = m[1]
        assert code not in table, f"{code} listed twice"
        assert all(row), f"{code}: every column must be filled"
        table[code] = dict(zip(header, row, strict=True))
    return table


def finding_source() -> str:
    """rust/core/src/finding.rs, or wherever the core defines `enum Code` if it was moved."""
    if FINDING_RS.exists():
        return FINDING_RS.read_text(encoding="utf-8")
    found = [p for p in sorted(CORE_SRC.rglob("*.rs")) if "pub enum Code" in p.read_text(encoding="utf-8")]
    assert len(found) == 1, f"expected one file defining `pub enum Code` under {CORE_SRC}, found {found}"
    return found[0].read_text(encoding="utf-8")


def core_codes(source: str | None = None) -> set[str]:
    """Every code string of `Code::as_str` in rust/core/src/finding.rs."""
    text = finding_source() if source is None else source
    body = text[text.index("pub fn as_str") :]
    body = body[: body.index("\n    }\n")]
    codes = re.findall(r'Code::\w+\s*=>\s*"([^"]+)"', body)
    variants = re.findall(r"^\s{4}(\w+),$", text[text.index("pub enum Code") : text.index("impl Code")], re.M)
    assert codes and len(codes) == len(variants), (codes, variants)
    return set(codes)


def vector_errors() -> dict[str, str]:
    """{invalid case: its expected first error}."""
    out = {}
    for d in sorted((VECTORS / "invalid").iterdir()):
        out[d.name] = json.loads((d / "expected.json").read_text(encoding="utf-8"))["error"]
    assert out
    return out


def report_example(text: str | None = None) -> dict:
    """The JSON block under VERIFY.md's "### Example" heading."""
    text = VERIFY.read_text(encoding="utf-8") if text is None else text
    after = text[text.index("### Example") :]
    m = re.search(r"```json\n(.*?)\n```", after, re.S)
    assert m, "no ```json block after ### Example"
    return json.loads(m[1])


# ---------------------------------------------------------------- the checks, as functions of
# their inputs, so that the self-tests below can show each one fails on a broken table.


def check_table_matches_core(table: dict, codes: set[str]) -> None:
    missing = codes - set(table)
    unknown = set(table) - codes
    assert not missing, f"codes the core can emit but FORMAT.md's rule table lacks: {sorted(missing)}"
    assert not unknown, f"codes in FORMAT.md's rule table the core does not have: {sorted(unknown)}"


def check_codes_reached(table: dict, errors: dict[str, str], unreached: set[str]) -> None:
    reached = set(errors.values())
    assert reached <= set(table), f"vectors expect codes not in the rule table: {sorted(reached - set(table))}"
    not_covered = set(table) - reached - unreached
    assert not not_covered, f"codes no invalid vector reaches and not listed as such: {sorted(not_covered)}"
    stale = unreached & reached
    assert not stale, f"listed as not reached, but a vector reaches them (drop them from the set): {sorted(stale)}"
    assert unreached <= set(table), f"listed as not reached but not in the table: {sorted(unreached - set(table))}"


def check_precedence_steps(table: dict, text: str) -> None:
    """Every step a rule names (L1, J3, R) exists in FORMAT.md's step tables (6.2, 6.4)."""
    steps = set(re.findall(r"^\| ([LJ]\d+) \|", text, re.M)) | {"R"}
    for code, row in table.items():
        named = re.findall(r"\b([LJ]\d+|R)\b", row["precedence"])
        assert named, f"{code}: no precedence step"
        assert set(named) <= steps, f"{code}: unknown steps {sorted(set(named) - steps)}"


def check_every_code_mentioned_is_in_table(table: dict, *texts: str) -> None:
    for text in texts:
        mentioned = set(re.findall(r"`(" + CODE_SHAPE.pattern + r")`", text))
        unknown = mentioned - set(table)
        assert not unknown, f"codes used in the docs but missing from the rule table: {sorted(unknown)}"


def check_example(example: dict) -> None:
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(example, schema, cls=jsonschema.Draft202012Validator)


# ---------------------------------------------------------------- tests


def test_rule_table_lists_exactly_the_core_codes() -> None:
    check_table_matches_core(rule_table(), core_codes())


def test_every_code_is_reached_by_a_vector_or_listed() -> None:
    check_codes_reached(rule_table(), vector_errors(), NOT_YET_IN_A_VECTOR)


def test_precedence_names_real_steps() -> None:
    check_precedence_steps(rule_table(), FORMAT.read_text(encoding="utf-8"))


def test_every_code_used_in_the_docs_is_in_the_table() -> None:
    docs = [FORMAT, VERIFY, ROOT / "docs" / "FORMAT-conventions.md", VECTORS / "README.md"]
    check_every_code_mentioned_is_in_table(rule_table(), *(p.read_text(encoding="utf-8") for p in docs))


def test_report_example_validates_against_the_schema() -> None:
    example = report_example()
    check_example(example)
    assert example["findings_total"] == len(example["findings"]) and example["ok"] is False
    assert set(example["counts"]) <= set(rule_table())


def test_report_example_is_what_validate_reports() -> None:
    """The example is a real run (only timings, the path and messages may differ)."""
    kfm_wal = pytest.importorskip("kfm_wal")
    example = report_example()
    case = VECTORS / "invalid" / Path(example["path"]).name
    got = kfm_wal.verify(case, str(VECTORS / "keyring.json")).to_dict(100)
    got["quarantined"] = []

    def comparable(d: dict) -> dict:
        d = {k: v for k, v in d.items() if k not in ("elapsed", "throughput", "path")}
        d["findings"] = [{k: v for k, v in f.items() if k != "message"} for f in d["findings"]]
        return d

    assert comparable(got) == comparable(example)


# ---------------------------------------------------------------- the checks can fail


def _format_with(old: str, new: str) -> str:
    text = FORMAT.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


def test_checks_fail_on_a_broken_table() -> None:
    table, codes, errors = rule_table(), core_codes(), vector_errors()
    text = FORMAT.read_text(encoding="utf-8")

    # (a) a row removed, a row for a code the core lacks
    row = next(line for line in text.splitlines() if line.startswith("| `time.regression` |"))
    without = rule_table(_format_with(row + "\n", ""))
    with pytest.raises(AssertionError, match="lacks"):
        check_table_matches_core(without, codes)
    extra = rule_table(_format_with(row, row + "\n" + row.replace("time.regression", "time.travel")))
    with pytest.raises(AssertionError, match="does not have"):
        check_table_matches_core(extra, codes)
    with pytest.raises(AssertionError, match="lacks"):
        check_table_matches_core(table, codes | {"chain.fork"})
    with pytest.raises(AssertionError, match="twice"):
        rule_table(_format_with(row, row + "\n" + row))

    # (b) a code neither reached nor listed; a listed code a vector reaches; a vector's code missing
    without_mismatch = {case: code for case, code in errors.items() if code != "receipt.mismatch"}
    with pytest.raises(AssertionError, match="not listed"):
        check_codes_reached(table, without_mismatch, NOT_YET_IN_A_VECTOR)
    with pytest.raises(AssertionError, match="drop them"):
        check_codes_reached(table, errors, NOT_YET_IN_A_VECTOR | {"record.hash"})
    with pytest.raises(AssertionError, match="not in the rule table"):
        check_codes_reached(without, errors, NOT_YET_IN_A_VECTOR)

    # the precedence column and codes mentioned elsewhere
    with pytest.raises(AssertionError, match="unknown steps"):
        check_precedence_steps(rule_table(_format_with(row, row.replace("L6, J4", "L6, J99"))), text)
    with pytest.raises(AssertionError, match="missing from the rule table"):
        check_every_code_mentioned_is_in_table(without, text)

    # (c) an example that does not satisfy the schema
    broken = dict(report_example())
    del broken["findings_total"]
    with pytest.raises(jsonschema.ValidationError):
        check_example(broken)
    broken = report_example()
    broken["findings"][0]["offset"] = -1
    with pytest.raises(jsonschema.ValidationError):
        check_example(broken)


def test_core_codes_parser_reads_finding_rs() -> None:
    codes = core_codes()
    assert {"record.hash", "tail.torn", "receipt.mismatch"} <= codes
    source = finding_source()
    added = source.replace(
        'Code::TailTorn => "tail.torn",', 'Code::TailTorn => "tail.torn",\n            Code::X => "x.y",'
    )
    with pytest.raises(AssertionError):
        core_codes(added)  # a code string without its enum variant is caught, not silently counted
