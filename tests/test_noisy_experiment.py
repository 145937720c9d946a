"""The noisy experiment's pieces on a tiny budget: the set-up really saturates, runs are seeded."""

from __future__ import annotations

import torch

from actlab.experiments import get_experiment, noisy as exp


def test_registered():
    assert get_experiment("noisy").run is exp.run


def test_saturated_init_and_seeded_runs():
    a = exp._run_mlp("NAN alpha=1.15 (annealed)", 0, epochs=1, depth=3, width=16, gain=8.0)
    b = exp._run_mlp("NAN alpha=1.15 (annealed)", 0, epochs=1, depth=3, width=16, gain=8.0)
    assert a["saturated_init"] > 0.6  # the point of the set-up: most units start in the flat part
    assert a["final_acc"] == b["final_acc"] and a["train_loss"] == b["train_loss"]
    r = exp._run_lstm("hard_sigmoid gates", 0, length=6, steps=4, hidden=4, batch=8)
    assert len(r["test_mse"]) == 4 and all(m > 0 for m in r["test_mse"])


def test_hard_sigmoid_is_the_papers():
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 3.0])
    assert torch.equal(exp._HardSigmoid()(x), torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))


def test_finished_runs_are_reused_and_a_changed_config_reruns(tmp_path):
    calls = []

    def fake(arm, seed, *, steps, checkpoint):
        calls.append((arm, seed, steps))
        return {"arm": arm, "seed": seed, "final_mse": 0.1 * steps}

    first = exp._resumable(tmp_path, "lstm", "NAN hard_sigmoid gates (annealed)", 1, {"steps": 3}, fake)
    again = exp._resumable(tmp_path, "lstm", "NAN hard_sigmoid gates (annealed)", 1, {"steps": 3}, fake)
    assert again == first and len(calls) == 1  # the second call read the saved run
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["lstm-nan-hard-sigmoid-gates-annealed-seed1.json"]
    changed = exp._resumable(tmp_path, "lstm", "NAN hard_sigmoid gates (annealed)", 1, {"steps": 4}, fake)
    assert changed["final_mse"] == 0.4 and len(calls) == 2  # a different config is not reused
