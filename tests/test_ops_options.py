"""The keywords of `ops.run`/`ops.prepare` are declared once (RunOptions = OperationOptions +
Roots) and must stay the fields of OperationSpec (what `run_batch` takes) and of the kinds'
Context; a keyword no signature declares is refused as before."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from kfm_wal import Wal
from kfm_wal.ops import OperationOptions, OperationSpec, Roots, RunOptions, Write, prepare, run, run_batch
from kfm_wal.ops.kinds import Context
from test_ops_support import META, count


def test_operation_options_are_the_fields_of_operation_spec() -> None:
    fields = dataclasses.fields(OperationSpec)[1:]  # after `actions`
    assert list(OperationOptions.__annotations__) == [f.name for f in fields]
    required = {f.name for f in fields if f.default is dataclasses.MISSING}
    assert OperationOptions.__required_keys__ == required


def test_roots_are_where_the_kinds_act() -> None:
    assert set(Roots.__annotations__) <= {f.name for f in dataclasses.fields(Context)}
    assert Roots.__required_keys__ == frozenset()
    assert RunOptions.__required_keys__ == OperationOptions.__required_keys__
    governed = {"governor"}  # not a root: who decides the operation (ops/governed.py)
    assert (
        set(RunOptions.__optional_keys__) == set(Roots.__annotations__) | OperationOptions.__optional_keys__ | governed
    )


def test_an_unknown_keyword_is_refused_before_anything_is_recorded(wal: Wal, tmp_path: Path) -> None:
    before = count(wal)
    with pytest.raises(TypeError, match="rooot"):
        run(wal, [Write("a.csv", b"a")], **META, rooot=tmp_path)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="actor"):
        prepare(wal, [Write("a.csv", b"a")], tier=1, governance={"care": "public"}, telemetry={"id": "t"})  # type: ignore[call-arg]
    spec = OperationSpec([Write("a.csv", b"a")], META["actor"], 1, META["governance"], META["telemetry"])
    with pytest.raises(TypeError, match="rooot"):
        run_batch(wal, [spec], rooot=tmp_path)  # type: ignore[call-arg]
    assert count(wal) == before and not (tmp_path / "a.csv").exists()
