"""Atomic writes: complete or absent, never partial, with ordinary file permissions."""

from __future__ import annotations

import os

import pytest

from actlab._io import atomic_write, atomic_write_json


def test_written_file_has_umask_permissions(tmp_path):
    path = atomic_write_json(tmp_path / "r.json", {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert path.read_text() == '{\n  "a": 1\n}\n'


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "r.txt"
    target.write_text("old")

    def boom(p):
        p.write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        atomic_write(target, boom)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]
