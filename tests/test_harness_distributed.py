"""DDP through torchrun: two gloo ranks on shards of each global batch == one process on the batch."""

from __future__ import annotations

import pytest

from actlab.harness.compare import CellSpec, run_cell
from actlab.harness.distributed import torchrun_command
from actlab.training import TrainConfig


def test_two_process_run_matches_one_process_on_the_same_global_batch(tmp_path):
    # 501 samples, batch 64: the last global batch (53) splits unevenly (27 + 26), which the loss
    # scaling must handle. No BatchNorm: per-rank batch statistics would differ by design.
    cfg = TrainConfig(epochs=2, batch_size=64, lr=3e-3, schedule="cosine")
    common = dict(task="mnist1d", act="gelu", config=cfg, max_train=501, max_test=200)
    one = run_cell(CellSpec(dir=str(tmp_path / "one"), **common))
    two = run_cell(CellSpec(dir=str(tmp_path / "two"), nproc=2, **common))
    assert (tmp_path / "two" / "checkpoint.pt").exists()
    assert len(two["history"]) == 2
    for a, b in zip(one["history"], two["history"]):
        for key in ("train_loss", "train_acc", "test_loss", "test_acc", "lr"):
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-7), key
    assert one["history"][0]["train_loss"] != one["history"][1]["train_loss"]  # it did train


def test_torchrun_command_is_single_machine_by_default(tmp_path):
    cmd = torchrun_command(tmp_path / "cell.json", 4)
    assert cmd[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4"]
    assert cmd[-2:] == ["actlab.harness.distributed", str(tmp_path / "cell.json")]
