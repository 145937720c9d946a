"""Atomic writes: complete or absent, never partial, with ordinary file permissions."""

from __future__ import annotations

import os

import pytest

from actlab.core.io import atomic_write, atomic_write_json


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


def test_save_figure_writes_png_and_releases_pyplot_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from actlab.core.io import save_figure

    fig = plt.figure()
    path = save_figure(fig, tmp_path / "a.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
    standalone = Figure()  # no pyplot state: saved, nothing to close
    assert save_figure(standalone, tmp_path / "b.png", dpi=50).read_bytes()[:4] == b"\x89PNG"
