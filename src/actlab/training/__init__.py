"""The one training loop: seeded, resumable, DDP-aware, for the harness, the experiments and users.

`train` takes a model, a `Dataset` and a `TrainConfig` and returns a `RunResult`; it checkpoints
after every epoch and resumes exactly (``docs/harness.md`` shows it on a user's own model and data).
"""

from actlab.training.checkpoint import load_checkpoint as load_checkpoint
from actlab.training.config import (
    ANNEALS as ANNEALS,
    OPTIMIZERS as OPTIMIZERS,
    SCHEDULES as SCHEDULES,
    OptimizerFactory as OptimizerFactory,
    TrainConfig as TrainConfig,
    build_annealer as build_annealer,
    build_optimizer as build_optimizer,
    build_scheduler as build_scheduler,
    parse_optim as parse_optim,
)
from actlab.training.loop import RunResult as RunResult, train as train
from actlab.training.objectives import (
    OBJECTIVES as OBJECTIVES,
    LossFn as LossFn,
    Objective as Objective,
    evaluate as evaluate,
)

__all__ = [
    "ANNEALS",
    "OBJECTIVES",
    "OPTIMIZERS",
    "SCHEDULES",
    "LossFn",
    "Objective",
    "OptimizerFactory",
    "RunResult",
    "TrainConfig",
    "build_annealer",
    "build_optimizer",
    "build_scheduler",
    "evaluate",
    "load_checkpoint",
    "parse_optim",
    "train",
]
