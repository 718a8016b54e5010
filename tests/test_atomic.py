"""Atomic output files: all or nothing, and readable like any other new file."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from engine.core.atomic import atomic_path, write_table_atomic, write_text_atomic


def test_output_gets_the_mode_of_a_new_file(tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        write_table_atomic(pd.DataFrame({"a": [1]}), tmp_path / "b.csv")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.csv").stat().st_mode & 0o777 == 0o644


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        Path(tmp).write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


# --- what is not ours to replace, and writes that fail --------------------------------------

from engine.core.atomic import AtomicGroup, check_writable
from engine.core.errors import DataError


def test_the_temporary_keeps_the_suffix_so_excel_can_be_written(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for suffix, read in ((".xlsx", pd.read_excel), (".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        target = tmp_path / f"t{suffix}"
        write_table_atomic(df, target)
        pd.testing.assert_frame_equal(read(target), df)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.parquet", "t.xlsx"]


def test_a_device_is_written_to_not_replaced():
    with pytest.raises(DataError) as info:
        write_text_atomic("/dev/full", "x" * 100_000)
    assert info.value.code == "cannot-write" and "/dev/full" in info.value.render()
    assert not os.path.isfile("/dev/full")  # still the device node
    write_text_atomic("/dev/null", "fine")
    assert not os.path.isfile("/dev/null")


def test_a_symlink_is_followed(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_text_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_group_writes_all_or_nothing(tmp_path):
    (tmp_path / "a.txt").write_text("old a")
    with pytest.raises(RuntimeError), AtomicGroup() as group:
        Path(group.path(tmp_path / "a.txt")).write_text("new a")
        Path(group.path(tmp_path / "b.txt")).write_text("new b")
        raise RuntimeError("the second output failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old a"
    with AtomicGroup() as group:
        Path(group.path(tmp_path / "a.txt")).write_text("new a")
        Path(group.path(tmp_path / "b.txt")).write_text("new b")
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "b.txt").read_text() == "new b"


@pytest.mark.parametrize("where", ["file/out.csv", "folder"])
def test_check_writable_refuses_what_cannot_be_written(tmp_path, where):
    (tmp_path / "file").write_text("a file, not a folder")
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError) as info:
        check_writable(tmp_path / where, "--out")
    assert info.value.code == "cannot-write" and "--out" in info.value.render()


def test_check_writable_knows_table_formats(tmp_path):
    from engine.core.atomic import TABLE_FORMATS

    check_writable(tmp_path / "new" / "deeper" / "x.xlsx", "--out", formats=TABLE_FORMATS)
    check_writable(tmp_path / "no_suffix", "--out", formats=TABLE_FORMATS)  # written as CSV
    with pytest.raises(DataError) as info:
        check_writable(tmp_path / "x.json", "--out", formats=TABLE_FORMATS)
    assert info.value.code == "unknown-format" and ".xlsx" in (info.value.hint or "")
