"""The benchmark harness: offline tasks, models configured by activation spec, a resumable trainer,
activation comparisons with reports and distributed training cells (paper reproductions:
`actlab.experiments.reproduce`).

Example:
    >>> from actlab.harness import build_model, load_task
    >>> task = load_task("digits")
    >>> build_model("mlp", task, "gelu", hidden=(32,))(task.data.x_test[:4]).shape
    torch.Size([4, 10])
"""

from actlab.harness.compare import (
    CellSpec as CellSpec,
    CompareResult as CompareResult,
    compare as compare,
    run_cell as run_cell,
    split_specs as split_specs,
)
from actlab.harness.models import MODELS as MODELS, build_model as build_model
from actlab.harness.tasks import TASKS as TASKS, Task as Task, load_task as load_task
from actlab.training import RunResult as RunResult, TrainConfig as TrainConfig, train as train

__all__ = [
    "MODELS",
    "TASKS",
    "CellSpec",
    "CompareResult",
    "RunResult",
    "Task",
    "TrainConfig",
    "build_model",
    "compare",
    "load_task",
    "run_cell",
    "split_specs",
    "train",
]
