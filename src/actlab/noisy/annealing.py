r"""Noise annealing: schedules that scale the noise of every noisy module in a model.

Gulcehre et al. (2016) start the noise large and decay it during training, which links noisy
units to simulated annealing: early on SGD explores across the saturated regions, late in
training the units approach their deterministic form. A schedule here is stepped like an LR
scheduler (``sched.step()`` after ``optimizer.step()``) and sets the ``noise_scale`` buffer
(the multiplier of ``c``) on every module of the model that has a ``set_noise_scale`` method
(the noisy family, `actlab.noisy.core.NoisyActivation`). ``state_dict()`` /
``load_state_dict()`` carry the step count, so a resumed run continues the same schedule.

Examples:
    >>> import actlab
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 4), actlab.create("noisy_hard_tanh"))
    >>> sched = LinearNoiseAnnealing(model, start=2.0, end=0.0, total_steps=4)
    >>> [round(sched.step(), 2) for _ in range(5)]
    [1.5, 1.0, 0.5, 0.0, 0.0]
    >>> float(model[1].noise_scale)
    0.0
"""

from __future__ import annotations

import math
from typing import Any

import torch  # noqa: F401  (doctest namespace)
from torch import nn

from actlab.core.registry import activation_modules
from actlab.core.validation import check_bound, check_finite, check_int, check_interval, fail
from actlab.noisy.core import NoisyActivation

__all__ = [
    "CosineNoiseAnnealing",
    "ExponentialNoiseAnnealing",
    "LinearNoiseAnnealing",
    "NoiseAnnealing",
    "PaperNoiseAnnealing",
    "noisy_modules",
]


def noisy_modules(model: nn.Module) -> list[NoisyActivation]:
    """The noisy activations of ``model`` (itself included): the modules whose noise a schedule scales.

    Found the one way the tools find activations (`actlab.core.registry.activation_modules`).
    """
    return [m for _, m in activation_modules(model) if isinstance(m, NoisyActivation)]


class NoiseAnnealing:
    """Base schedule: ``scale_at(step)`` gives the multiplier; `step` advances and applies it.

    Args:
        model: a module containing noisy activations (at least one).

    Raises:
        ValueError: ``model`` has no noisy module.
    """

    def __init__(self, model: nn.Module) -> None:
        self.modules = noisy_modules(model)
        if not self.modules:
            fail(type(self).__name__, "model", "a module containing noisy activations", type(model).__name__)
        self.step_count = 0
        self._apply()

    def scale_at(self, step: int) -> float:
        raise NotImplementedError

    def scale_for(self, module: NoisyActivation, step: int) -> float:
        """The multiplier for one module (the same for all, unless a schedule targets absolute ``c``)."""
        return self.scale_at(step)

    def get_scale(self) -> float:
        """The multiplier at the current step."""
        return self.scale_at(self.step_count)

    def step(self) -> float:
        """Advance one step, set every module's ``noise_scale``, and return the new multiplier."""
        self.step_count += 1
        self._apply()
        return self.get_scale()

    def _apply(self) -> None:
        for m in self.modules:
            m.set_noise_scale(self.scale_for(m, self.step_count))

    def _hyperparameters(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        """The step count and, to catch mismatched resumes, the schedule's class and hyperparameters."""
        return {"schedule": type(self).__name__, "step_count": self.step_count, **self._hyperparameters()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (from `state_dict`) and re-apply its scale to every module.

        Raises:
            ValueError: ``state`` comes from another schedule or other hyperparameters.
        """
        mine = {k: v for k, v in self.state_dict().items() if k != "step_count"}
        theirs = {k: v for k, v in state.items() if k != "step_count"}
        if mine != theirs:
            fail(type(self).__name__, "state", f"from the same schedule {mine}", theirs)
        check_int(type(self).__name__, "step_count", state["step_count"], ">=", 0)
        self.step_count = state["step_count"]
        self._apply()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self._hyperparameters().items())
        return f"{type(self).__name__}({args}, step_count={self.step_count}, modules={len(self.modules)})"


def _check_range(owner: str, start: float, end: float) -> None:
    for name, value in (("start", start), ("end", end)):
        check_finite(owner, name, value)
        check_bound(owner, name, value, ">=", 0)


class LinearNoiseAnnealing(NoiseAnnealing):
    r"""Linear decay :math:`s_t = s_0 + (s_\infty - s_0)\,\min(t, T)/T`.

    Args:
        model: module with noisy activations.
        start, end: multipliers at step 0 and from step ``total_steps`` on, >= 0. Default: 1, 0.
        total_steps: length of the ramp, >= 1.
    """

    def __init__(self, model: nn.Module, *, start: float = 1.0, end: float = 0.0, total_steps: int) -> None:
        _check_range(type(self).__name__, start, end)
        check_int(type(self).__name__, "total_steps", total_steps, ">=", 1)
        self.start, self.end, self.total_steps = float(start), float(end), total_steps
        super().__init__(model)

    def scale_at(self, step: int) -> float:
        return self.start + (self.end - self.start) * min(step, self.total_steps) / self.total_steps

    def _hyperparameters(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "total_steps": self.total_steps}


class CosineNoiseAnnealing(LinearNoiseAnnealing):
    r"""Cosine decay :math:`s_t = s_\infty + (s_0 - s_\infty)\,(1 + \cos(\pi \min(t, T)/T))/2`."""

    def scale_at(self, step: int) -> float:
        frac = min(step, self.total_steps) / self.total_steps
        return self.end + (self.start - self.end) * 0.5 * (1.0 + math.cos(math.pi * frac))


class ExponentialNoiseAnnealing(NoiseAnnealing):
    r"""Exponential decay toward a floor: :math:`s_t = s_\infty + (s_0 - s_\infty)\,\gamma^t`.

    Args:
        model: module with noisy activations.
        gamma: decay per step, in (0, 1].
        start, end: initial multiplier and the floor, >= 0. Default: 1, 0.
    """

    def __init__(self, model: nn.Module, *, gamma: float, start: float = 1.0, end: float = 0.0) -> None:
        _check_range(type(self).__name__, start, end)
        check_interval(type(self).__name__, "gamma", gamma, 0.0, 1.0, closed="right")
        self.gamma, self.start, self.end = float(gamma), float(start), float(end)
        super().__init__(model)

    def scale_at(self, step: int) -> float:
        return self.end + (self.start - self.end) * self.gamma**step

    def _hyperparameters(self) -> dict[str, Any]:
        return {"gamma": self.gamma, "start": self.start, "end": self.end}


class PaperNoiseAnnealing(NoiseAnnealing):
    r"""Anneal the absolute noise scale ``c`` from ``c_start`` to ``c_end``, geometrically.

    :math:`c_t = c_0 (c_\infty / c_0)^{\min(t, T)/T}`; each module's multiplier is
    :math:`c_t / c` for its own ``c``, so units with different defaults follow the same
    absolute scale. Gulcehre et al. start ``c`` large and decay it during training; the values
    30 -> 0.5 are the ones a third-party summary of the paper reports, and the paper's exact
    decay curve is not in our notes: a geometric interpolation is our choice (a decay that is
    even on a log scale, which matters when the range spans two orders of magnitude).

    Args:
        model: module with noisy activations.
        total_steps: steps over which ``c`` decays, >= 1.
        c_start, c_end: absolute ``c`` at the start and end, > 0. Default: 30, 0.5.
    """

    def __init__(self, model: nn.Module, *, total_steps: int, c_start: float = 30.0, c_end: float = 0.5) -> None:
        owner = type(self).__name__
        for name, value in (("c_start", c_start), ("c_end", c_end)):
            check_finite(owner, name, value)
            check_bound(owner, name, value, ">", 0)
        check_int(owner, "total_steps", total_steps, ">=", 1)
        self.c_start, self.c_end, self.total_steps = float(c_start), float(c_end), total_steps
        super().__init__(model)

    def c_at(self, step: int) -> float:
        return self.c_start * (self.c_end / self.c_start) ** (min(step, self.total_steps) / self.total_steps)

    def scale_at(self, step: int) -> float:
        """The multiplier of a module with ``c = 1`` (i.e. ``c_t`` itself)."""
        return self.c_at(step)

    def scale_for(self, module: NoisyActivation, step: int) -> float:
        return self.c_at(step) / module.c

    def _hyperparameters(self) -> dict[str, Any]:
        return {"c_start": self.c_start, "c_end": self.c_end, "total_steps": self.total_steps}
