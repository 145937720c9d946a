"""Bad inputs and faults a user can cause, each with its expected behaviour: a right result or a clear error.

One case per finding of the hardening issue, grouped by where it enters; the module grows with each fix.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import actlab.harness.cell as cell_module
from actlab.data import Dataset, fingerprint
from actlab.harness import compare
from actlab.training import TrainConfig, load_checkpoint, train

# --- runs: a changed run never resumes an old one ------------------------------------------------

GRID = {"task": "mnist1d", "acts": ["relu"], "seeds": 1, "model": "linear", "max_test": 64}
CFG = TrainConfig(epochs=3, batch_size=64)


def _interrupted(out, monkeypatch, **grid):
    """Run the grid until two optimizer steps into epoch 2, as a kill would leave it."""
    real, steps = cell_module.train, []

    def stop(model):
        steps.append(1)
        if len(steps) == 4 + 2:  # 256 samples / 64: 4 steps per epoch
            raise KeyboardInterrupt

    monkeypatch.setattr(cell_module, "train", lambda *a, **k: real(*a, step_callbacks=[stop], **k))
    with pytest.raises(KeyboardInterrupt):
        compare(out_dir=out, config=CFG, **{**GRID, **grid})
    monkeypatch.setattr(cell_module, "train", real)


def test_a_changed_max_train_refuses_to_resume_and_names_the_field(tmp_path, monkeypatch):
    _interrupted(tmp_path, monkeypatch, max_train=256)
    assert (tmp_path / "cells/relu/seed0/checkpoint.pt").exists()
    with pytest.raises(ValueError, match=r"differs in .*data_sha.*max_train: 256 -> 128"):
        compare(out_dir=tmp_path, config=CFG, **GRID, max_train=128)
    resumed = compare(out_dir=tmp_path, config=CFG, **GRID, max_train=256)  # the same run resumes
    assert len(resumed.cells[0]["history"]) == 3
    with pytest.raises(ValueError, match=r"differs in .*max_train: 256 -> 128"):  # finished cells too
        compare(out_dir=tmp_path, config=CFG, **GRID, max_train=128)


def test_the_data_fingerprint_changes_with_any_sample():
    x, y = torch.randn(8, 3), torch.arange(8) % 2
    a = Dataset("a", x, y, x, y, 2)
    assert fingerprint(a) == fingerprint(Dataset("b", x.clone(), y.clone(), x, y, 2))  # contents, not names
    x2 = x.clone()
    x2[3, 1] += 1e-6
    assert fingerprint(Dataset("a", x2, y, x, y, 2)) != fingerprint(a)


def test_train_names_every_differing_field_of_a_checkpoint(tmp_path):
    x, y = torch.randn(32, 4), torch.arange(32) % 2
    data = Dataset("toy", x, y, x, y, 2)
    ckpt = tmp_path / "c.pt"
    train(nn.Linear(4, 2), data, TrainConfig(epochs=1), checkpoint=ckpt, identity={"data": "a"})
    with pytest.raises(
        ValueError,
        match=r"config.lr: 0.001 -> 0.01; .*optimizer.groups\[0\].lr: '0.001' -> '0.01'; identity.data: 'a' -> 'b'",
    ):
        train(nn.Linear(4, 2), data, TrainConfig(epochs=1, lr=1e-2), checkpoint=ckpt, identity={"data": "b"})


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", None])
def test_an_empty_truncated_or_foreign_checkpoint_is_named(tmp_path, content):
    ckpt = tmp_path / "c.pt"
    if content is None:  # a real checkpoint cut in half
        x, y = torch.randn(8, 4), torch.arange(8) % 2
        train(nn.Linear(4, 2), Dataset("t", x, y, x, y, 2), TrainConfig(epochs=1), checkpoint=ckpt)
        content = ckpt.read_bytes()[: ckpt.stat().st_size // 2]
    ckpt.write_bytes(content)
    with pytest.raises(ValueError, match=r"load_checkpoint: `path` must be a complete checkpoint .*c\.pt"):
        load_checkpoint(ckpt)


# --- modules: hyperparameters travel with the state --------------------------------------------


@pytest.mark.parametrize(
    ("saved", "loaded", "field"),
    [
        ("terelu(mu=2.0)", "terelu()", "mu"),
        ("terelu(alpha=0.5)", "terelu()", "alpha"),
        ("quantize(levels=4)", "quantize(levels=8)", "levels"),
        ("quantize(ste='identity')", "quantize()", "ste"),
        ("binary(ste='identity')", "binary()", "ste"),
    ],
)
def test_a_state_saved_with_other_hyperparameters_is_refused(saved, loaded, field):
    import actlab

    state = actlab.create(saved).state_dict()
    with pytest.raises(ValueError, match=rf"`state_dict` must be saved with this module's {field} "):
        actlab.create(loaded).load_state_dict(state)
    actlab.create(saved).load_state_dict(state)  # the same configuration loads


# --- spec strings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("terelu(mu=1, mu=2)", "keyword argument repeated: mu"),
        ("terelu(mu=" + "9" * 400 + ")", "is an integer beyond the float range"),
        ("quantize(range=(-1, " + "9" * 400 + "))", "is an integer beyond the float range"),
    ],
)
def test_spec_strings_refuse_repeated_keywords_and_huge_integers(spec, message):
    import actlab

    with pytest.raises(ValueError, match=message):
        actlab.create(spec)


# --- inputs: integers and booleans are refused, the same way in every family --------------------

OURS = [s.name for s in __import__("actlab").core.registry.ACTIVATIONS if s.family != "torch"]


@pytest.mark.parametrize("name", OURS)
@pytest.mark.parametrize("x", [torch.tensor([1, -2, 3]), torch.tensor([True, False])], ids=["int64", "bool"])
def test_integer_and_bool_inputs_are_a_type_error_naming_the_dtype(name, x):
    import actlab

    module = actlab.create(name).train()
    with pytest.raises(TypeError, match=rf"`input` must be a floating-point tensor .*got {x.dtype}"):
        module(x)
    module(x.double())  # the same values as floats are fine
