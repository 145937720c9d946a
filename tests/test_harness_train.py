"""Harness tasks, models and the resumable trainer: real data, real training, exact resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import actlab
from actlab.harness.models import MODELS, build_model
from actlab.harness.tasks import load_task, make_adding, make_copy
from actlab.training import TrainConfig, load_checkpoint, train


def _strip(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def _small(task, n_train=512, n_test=256):
    from dataclasses import replace

    d = task.data
    return replace(
        task,
        data=replace(
            d,
            x_train=d.x_train[:n_train],
            y_train=d.y_train[:n_train],
            x_test=d.x_test[:n_test],
            y_test=d.y_test[:n_test],
        ),
    )


def test_synthetic_tasks_are_deterministic_and_correct():
    a, b = make_adding(length=20, n_train=64, n_test=8, seed=3), make_adding(length=20, n_train=64, n_test=8, seed=3)
    assert torch.equal(a.data.x_train, b.data.x_train)
    assert not torch.equal(a.data.x_train, make_adding(length=20, n_train=64, n_test=8, seed=4).data.x_train)
    x = a.data.x_train
    assert torch.all(x[:, :, 1].sum(1) == 2)  # exactly two marks
    assert torch.allclose((x[:, :, 0] * x[:, :, 1]).sum(1), a.data.y_train)
    c = make_copy(symbols=4, n_copy=3, delay=5, n_train=16, n_test=4, seed=0)
    assert c.input_shape == (11, 6) and c.out_steps == 3 and c.num_classes == 4
    assert torch.equal(c.data.x_train[:, :3, :4].argmax(-1), c.data.y_train)  # the symbols to copy come first
    assert torch.all(c.data.x_train[:, 7, 5] == 1)  # go marker on the last blank


@pytest.mark.parametrize("task_name", ["mnist1d", "digits", "adding", "copy"])
def test_every_model_that_fits_the_task_maps_to_its_outputs(task_name):
    task = load_task(task_name)
    x = task.data.x_train[:5]
    fits = [
        m
        for m in MODELS
        if not (task.out_steps and m != "rnn")
        and not (m == "cnn2d" and len(task.input_shape) not in (2, 3))
        and not (m == "cnn1d" and len(task.input_shape) not in (1, 2))
    ]
    assert task.default_model in fits
    for name in fits:
        out = build_model(name, task, "gelu")(x)
        expected = (5, task.num_outputs) if task.out_steps is None else (5, task.out_steps, task.num_outputs)
        assert out.shape == expected, name


def test_every_nonlinearity_gets_its_own_module_from_the_spec():
    task = load_task("mnist1d")
    model = build_model("mlp", task, "terelu(mu=2.0)", hidden=(16, 16, 16))
    sites = actlab.activation_modules(model, type(actlab.create("terelu")))
    assert len(sites) == 3 and all(m.mu == 2.0 for _, m in sites)
    assert len({id(m.beta) for _, m in sites}) == 3  # learnable parameters are not shared between layers
    with pytest.raises(ValueError, match="unknown activation 'reul'"):
        build_model("mlp", task, "reul")
    with pytest.raises(ValueError, match="build_model: `name` must be 'rnn' for the per-step task 'copy'"):
        build_model("mlp", load_task("copy"))


def test_rnn_cls_hook_receives_the_recurrent_layer_arguments():
    seen = {}

    class Recorder(nn.GRU):
        def __init__(self, input_size, hidden_size, **kwargs):
            seen.update(input_size=input_size, hidden_size=hidden_size, **kwargs)
            super().__init__(input_size, hidden_size)

    task = load_task("adding")
    model = build_model("rnn", task, "tanh", hidden=8, rnn_cls=Recorder, rnn_kwargs={"bias": True})
    assert model(task.data.x_train[:2]).shape == (2, 1)
    assert seen == {"input_size": 2, "hidden_size": 8, "bias": True}


def test_training_learns_mnist1d():
    task = _small(load_task("mnist1d"), 2000, 500)
    torch.manual_seed(0)
    result = train(build_model("mlp", task, "relu"), task.data, TrainConfig(epochs=8, lr=3e-3))
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.final["test_acc"] > 0.35  # chance is 0.10


def test_interrupt_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    task = _small(load_task("mnist1d"))
    cfg = TrainConfig(epochs=4, batch_size=64, schedule="cosine", seed=2)
    torch.manual_seed(2)
    full = train(build_model("mlp", task, "gelu"), task.data, cfg)

    steps = []

    def interrupt(model):
        steps.append(1)
        if len(steps) == 8 * 2 + 3:  # 8 steps per epoch: 3 steps into epoch 3
            raise KeyboardInterrupt

    ckpt = tmp_path / "cell.pt"
    torch.manual_seed(2)
    with pytest.raises(KeyboardInterrupt):
        train(build_model("mlp", task, "gelu"), task.data, cfg, checkpoint=ckpt, step_callbacks=[interrupt])
    saved = load_checkpoint(ckpt)
    assert saved["epoch"] == 2 and len(saved["history"]) == 2
    torch.manual_seed(99)  # the resumed model's fresh init must be overwritten by the checkpoint
    resumed = train(build_model("mlp", task, "gelu"), task.data, cfg, checkpoint=ckpt)
    assert resumed.resumed_from == 2
    assert _strip(resumed.history) == _strip(full.history)
    for a, b in zip(resumed.model.state_dict().values(), full.model.state_dict().values()):
        assert torch.equal(a, b)


def test_resume_refuses_a_different_config(tmp_path):
    task = _small(load_task("mnist1d"), 128, 64)
    train(build_model("mlp", task), task.data, TrainConfig(epochs=1), checkpoint=tmp_path / "c.pt")
    with pytest.raises(ValueError, match="train: `checkpoint` must be written with this config"):
        train(build_model("mlp", task), task.data, TrainConfig(epochs=1, lr=0.1), checkpoint=tmp_path / "c.pt")


def test_annealer_is_stepped_each_epoch_and_checkpointed(tmp_path):
    class Annealer:
        def __init__(self):
            self.steps = 0

        def step(self):
            self.steps += 1

        def state_dict(self):
            return {"steps": self.steps}

        def load_state_dict(self, state):
            self.steps = state["steps"]

    task = _small(load_task("mnist1d"), 128, 64)
    first = Annealer()
    train(build_model("mlp", task), task.data, TrainConfig(epochs=2), checkpoint=tmp_path / "c.pt", annealer=first)
    assert first.steps == 2
    second = Annealer()
    train(build_model("mlp", task), task.data, TrainConfig(epochs=3), checkpoint=None, annealer=second)
    assert second.steps == 3
    resumed = Annealer()
    cfg = TrainConfig(epochs=2)
    result = train(build_model("mlp", task), task.data, cfg, checkpoint=tmp_path / "c.pt", annealer=resumed)
    assert resumed.steps == 2 and result.resumed_from == 2  # restored, not stepped again


def test_early_stop_and_schedules():
    task = _small(load_task("mnist1d"), 256, 128)
    result = train(build_model("mlp", task), task.data, TrainConfig(epochs=30, lr=0.5, optim="sgd", patience=2))
    assert result.stopped_early and len(result.history) < 30
    losses = [r["test_loss"] for r in result.history]
    assert min(losses[-2:]) >= min(losses[:-2])  # stopped after 2 epochs without improvement
    stepped = train(build_model("mlp", task), task.data, TrainConfig(epochs=3, schedule="step", step_size=2, gamma=0.5))
    assert [r["lr"] for r in stepped.history] == [1e-3, 1e-3, 5e-4]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"optim": "rmsprop"}, "TrainConfig: `optim` must be one of 'sgd', 'adam', 'adamw'"),
        ({"optim": "sgd+lookahead"}, "must be '<optimizer>' or '<optimizer>\\+gaf"),
        ({"schedule": "linear"}, "`schedule` must be one of 'none', 'cosine', 'step'"),
        ({"epochs": 0}, "TrainConfig: `epochs` must be an int >= 1, got 0"),
        ({"lr": -1.0}, "TrainConfig: `lr` must be > 0, got -1.0"),
    ],
)
def test_bad_train_config_is_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_bad_data_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="load_task: `name` must be one of .* \\(did you mean 'mnist1d'\\?\\)"):
        load_task("mnist1")
    with pytest.raises(ValueError, match="load_task: `path` must be an existing .npz file"):
        load_task("npz", path=tmp_path / "nope.npz")
    with pytest.raises(ValueError, match="`path` must be given for task 'folder'"):
        load_task("folder")
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((4, 3)), y_train=np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="missing x_test, y_test"):
        load_task("npz", path=tmp_path / "bad.npz")
    np.savez(
        tmp_path / "bad2.npz",
        x_train=np.zeros((4, 3)),
        y_train=np.zeros(3, dtype=int),
        x_test=np.zeros((2, 3)),
        y_test=np.zeros(2, dtype=int),
    )
    with pytest.raises(ValueError, match="`y_train` must be a 1-D array of 4 labels"):
        load_task("npz", path=tmp_path / "bad2.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="must be a readable .npz file"):
        load_task("npz", path=tmp_path / "junk.npz")


def test_npz_and_image_folder_tasks_load_and_train(tmp_path):
    import matplotlib.image as mpimg

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 8, 8, 3)).astype(np.float32)  # channels-last, as CIFAR arrays come
    y = (x[..., 0].mean((1, 2)) > 0.5).astype(np.int64)
    np.savez(tmp_path / "d.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    task = load_task("npz", path=tmp_path / "d.npz")
    assert task.input_shape == (3, 8, 8) and task.num_classes == 2 and task.default_model == "cnn2d"
    train(build_model(None, task, "relu"), task.data, TrainConfig(epochs=1, batch_size=8))
    for split, n in (("train", 3), ("test", 2)):
        for cls, value in (("cat", 0.1), ("dog", 0.9)):
            (tmp_path / "imgs" / split / cls).mkdir(parents=True)
            for i in range(n):
                mpimg.imsave(tmp_path / "imgs" / split / cls / f"{i}.png", np.full((6, 5), value), cmap="gray")
    folder = load_task("folder", path=tmp_path / "imgs")
    assert folder.num_classes == 2 and len(folder.data.x_train) == 6 and folder.input_shape[1:] == (6, 5)
    assert folder.data.y_train.tolist() == [0, 0, 0, 1, 1, 1]
    train(build_model(None, folder, "relu"), folder.data, TrainConfig(epochs=1, batch_size=4))


def test_hybrid_spec_puts_slaf_in_conv_layers_and_bn_relu_in_dense_layers():
    task = load_task("digits")
    model = build_model("cnn2d", task, "hybrid(conv='slaf_bn(degree=3)', dense='relu')", channels=(4, 6), dense=(5,))
    kinds = [type(m).__name__ for m in model.features]
    assert kinds == ["Conv2d", "SLAFBN", "MaxPool2d", "Conv2d", "SLAFBN", "AdaptiveAvgPool2d", "Flatten", "Linear"] + [
        "Sequential"
    ]
    assert [m.num_parameters for m in model.features if type(m).__name__ == "SLAFBN"] == [4, 6]  # per channel
    bn, relu = model.features[-1]
    assert isinstance(bn, nn.BatchNorm1d) and bn.num_features == 5 and isinstance(relu, nn.ReLU)
    assert model(task.data.x_train[:3]).shape == (3, 10)
    mlp = build_model("mlp", task, "hybrid(conv='relu', dense='slaf_bn', dense_norm=False)", hidden=(7,))
    assert [type(m).__name__ for m in mlp.net] == ["Flatten", "Linear", "SLAFBN", "Linear"] and mlp.net[
        2
    ].num_parameters == 7
    plain = build_model("cnn2d", task, "slaf_bn", channels=(4,), dense=(5,))  # no hybrid: act everywhere, unchanged
    assert [type(m).__name__ for m in plain.features].count("SLAFBN") == 2
    with pytest.raises(ValueError, match=r"build_model: `name` must be 'mlp', 'cnn1d' or 'cnn2d' for a hybrid"):
        build_model("resnet", task, "hybrid(conv='slaf_bn')")
    with pytest.raises(ValueError, match=r"unknown activation 'slaf_bm'"):
        build_model("cnn2d", task, "hybrid(conv='slaf_bm')")
    with pytest.raises(TypeError, match=r"hybrid: `spec` must be arguments among conv, dense"):
        build_model("cnn2d", task, "hybrid(conv='slaf_bn', lin='relu')")


def test_compare_runs_a_hybrid_arm_and_records_its_learned_curves(tmp_path):
    from actlab.harness.compare import compare

    acts = ["relu", "hybrid(conv='slaf_bn(degree=2)', dense='relu')"]
    res = compare(
        task="digits",
        acts=acts,
        out_dir=tmp_path / "run",
        seeds=1,
        config=TrainConfig(epochs=1, batch_size=64, lr=3e-3),
        model="cnn2d",
        max_train=128,
        max_test=64,
    )
    learned = [c["learned"] for c in res.cells if c["act"] == acts[1]][0]
    assert len(learned["sites"]) == 2 and (tmp_path / "run" / "learned_activations.png").stat().st_size > 0
