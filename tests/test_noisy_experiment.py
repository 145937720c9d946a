"""The noisy experiment's pieces on a tiny budget: the set-up really saturates, runs are seeded."""

from __future__ import annotations

import pytest
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


def test_associative_recall_task_and_runs():
    from actlab.harness.tasks import make_associative_recall

    task = make_associative_recall(items=3, symbols=5, n_train=50, n_test=20, seed=4)
    x, y = task.data.x_train, task.data.y_train
    assert x.shape == (50, 8, 6) and task.num_classes == 5
    tokens = x.argmax(-1)
    for row, target in zip(tokens, y):
        keys, values = row[0:6:2].tolist(), row[1:6:2].tolist()
        assert len(set(keys)) == 3 and row[6] == 5 and values[keys.index(int(row[7]))] == target
    again = make_associative_recall(items=3, symbols=5, n_train=50, n_test=20, seed=4)
    assert torch.equal(again.data.x_test, task.data.x_test)
    with pytest.raises(
        ValueError, match=r"^make_associative_recall: `items` must be <= symbols \(5\) \(keys are distinct\), got 6$"
    ):
        make_associative_recall(items=6, symbols=5)
    kw = {"items": 2, "symbols": 4, "steps": 4, "hidden": 4, "batch": 8}
    a = exp._run_recall("NAN hard_sigmoid gates, c annealed 30 -> 0.5", 0, **kw)
    b = exp._run_recall("NAN hard_sigmoid gates, c annealed 30 -> 0.5", 0, **kw)
    assert a["test_acc"] == b["test_acc"] and len(a["test_acc"]) == 4
    assert 0 <= a["gates_saturated_final"] <= 1


def test_recall_verdict_rule():
    arms = list(exp.RECALL_ARMS)

    def summary(soft, hard, noisy):
        return {arms[0]: {"mean": soft}, arms[1]: {"mean": hard}, arms[2]: {"mean": noisy}, arms[3]: {"mean": 0.0}}

    assert exp.recall_verdict(summary(0.5, 0.4, 0.6)) == "reproduced"
    assert exp.recall_verdict(summary(0.5, 0.4, 0.45)) == "partly"
    assert exp.recall_verdict(summary(0.5, 0.4, 0.3)) == "not reproduced"
