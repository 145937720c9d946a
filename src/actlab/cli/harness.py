"""`actlab compare`, `actlab reproduce` and the body of `actlab demo`: thin layers over actlab.harness."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from actlab.cli._common import console, fail


def _print_summary(result: Any, title: str) -> None:
    table = Table(title=title, header_style="bold")
    for col in ("activation", "family", "test acc", "test loss", "Δ acc", "p (paired)", "s/epoch"):
        table.add_column(
            col, justify="left" if col in ("activation", "family") else "right", no_wrap=col == "activation"
        )
    for r in result.summary:
        p = "-" if r["p_vs_first"] is None else f"{r['p_vs_first']:.3f}"
        table.add_row(
            r["act"],
            r["family"] + (" (learned)" if r["learnable"] else ""),
            f"{r['test_acc_mean']:.4f} ± {r['test_acc_std']:.4f}",
            f"{r['test_loss_mean']:.4f} ± {r['test_loss_std']:.4f}",
            f"{r['delta_acc_vs_first']:+.4f}",
            p,
            f"{r['sec_per_epoch']:.3f}",
        )
    console.print(table)
    console.print(f"report: [bold]{result.report}[/]", highlight=False)


def run_compare(**kwargs: Any) -> Any:
    """Call `actlab.harness.compare` and turn its validation errors into CLI errors."""
    from actlab.harness import compare

    try:
        return compare(**kwargs)
    except (ValueError, TypeError) as exc:
        raise fail(exc) from None


def demo_acts() -> list[str]:
    """relu, gelu, terelu, plus a noisy and a learnable activation when their families are registered."""
    from actlab.harness.compare import registered_learnable_and_noisy

    learnable, noisy = registered_learnable_and_noisy()
    return ["relu", "gelu", "terelu", *[a for a in (noisy, learnable) if a is not None]]


def compare_cmd(
    acts: Annotated[
        str,
        typer.Option(
            help="activation specs, comma-separated (commas inside (...) are fine); the first is the baseline"
        ),
    ] = "relu,gelu",
    task: Annotated[str, typer.Option(help="mnist1d, digits, adding, copy, npz, folder")] = "mnist1d",
    data: Annotated[Optional[Path], typer.Option(help="the .npz file or image folder (tasks npz, folder)")] = None,
    model: Annotated[
        Optional[str],
        typer.Option(
            help="mlp, cnn1d, cnn2d, resnet, rnn, gated_rnn (the activation in the LSTM gates); default: the task's"
        ),
    ] = None,
    seeds: Annotated[int, typer.Option(help="seeds 0..N-1 per activation")] = 3,
    epochs: Annotated[Optional[int], typer.Option(help="default: the model's recipe (docs/harness.md)")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="global batch size; default: the recipe's")] = None,
    lr: Annotated[Optional[float], typer.Option(help="default: the recipe's")] = None,
    optim: Annotated[
        Optional[str], typer.Option(help="sgd, adam, adamw, or e.g. 'sgd+gaf(alpha=0.3,beta=4.5)'; default: recipe")
    ] = None,
    schedule: Annotated[Optional[str], typer.Option(help="none, cosine, step; default: the recipe's")] = None,
    anneal: Annotated[str, typer.Option(help="noise annealing per epoch: none, linear, cosine, paper")] = "none",
    patience: Annotated[Optional[int], typer.Option(help="early stop after N epochs without a lower test loss")] = None,
    max_train: Annotated[Optional[int], typer.Option(help="use only the first N training samples")] = None,
    out: Annotated[Path, typer.Option(help="run folder; rerunning into it resumes")] = Path("runs/compare"),
    jobs: Annotated[int, typer.Option(help="cells in parallel processes")] = 1,
    nproc: Annotated[int, typer.Option(help="DistributedDataParallel processes per cell (torchrun)")] = 1,
    tensorboard: Annotated[bool, typer.Option("--tensorboard", help="also log to <out>/tensorboard")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print only the summary as JSON")] = False,
) -> None:
    """Train a task once per activation and seed; write tables, plots and a report (resumable).

    Training settings not given come from the model's recipe for the task (`actlab.harness.recipes`:
    measured to reach the published level), so the baseline is not starved.
    """
    from actlab.harness.recipes import recipe
    from actlab.harness.tasks import load_task

    given = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "optim": optim, "schedule": schedule}
    try:
        name = model or load_task(task, path=data).default_model
        overrides = {k: v for k, v in given.items() if v is not None}
        config = recipe(task, name, **overrides, patience=patience, anneal=anneal).config
    except (ValueError, TypeError) as exc:
        raise fail(exc) from None
    result = run_compare(
        task=task,
        acts=acts,
        out_dir=out,
        seeds=seeds,
        model=model,
        config=config,
        path=data,
        max_train=max_train,
        jobs=jobs,
        nproc=nproc,
        tensorboard=tensorboard,
        progress=not as_json,
    )
    if as_json:
        typer.echo(json.dumps({"report": str(result.report), "summary": result.summary}, indent=2))
        return
    _print_summary(result, f"{task}: {len(result.summary)} activations x {seeds} seeds, {config.epochs} epochs")


def reproduce_cmd(
    paper: Annotated[Optional[str], typer.Argument(help="experiment name (see --list)")] = None,
    list_: Annotated[bool, typer.Option("--list", help="list the registered paper experiments")] = False,
    full: Annotated[bool, typer.Option("--full", help="the paper-scale run (slow); default: a quick one")] = False,
    seeds: int = 3,
    out: Annotated[Optional[Path], typer.Option(help="run folder (default runs/reproduce/<paper>)")] = None,
) -> None:
    """Run a paper's experiment from the experiment registry and print where its report is."""
    from actlab.experiments import list_papers, reproduce

    if list_ or paper is None:
        papers = list_papers()
        if not papers:
            console.print("no paper experiments are registered yet")
            return
        table = Table(title="paper experiments", header_style="bold")
        for col in ("name", "paper", "claim"):
            table.add_column(col, overflow="fold")
        for p in papers:
            table.add_row(p.name, p.paper, p.claim)
        console.print(table)
        return
    try:
        result = reproduce(paper, out_dir=out, full=full, seeds=seeds)
    except (ValueError, TypeError) as exc:
        raise fail(exc) from None
    console.print(f"[bold green]{result.name} done:[/] report {result.report}", highlight=False)


COMMANDS: dict[str, Callable[..., Any]] = {"compare": compare_cmd, "reproduce": reproduce_cmd}


def run_demo(out_dir: Path) -> None:
    """`make demo`: a quick MNIST-1D comparison of relu, gelu, terelu and, when registered, a noisy
    and a learnable activation; prints the table and where the report is.

    The MLP trains with its MNIST-1D recipe (relu at the published level, ~66 %), two cells at a
    time (one thread each: these small models gain nothing from a second thread).
    """
    from actlab.harness.recipes import recipe

    acts = demo_acts()
    config = recipe("mnist1d", "mlp").config
    console.print(
        f"demo: comparing {', '.join(acts)} on MNIST-1D (MLP, 3 seeds, {config.epochs} epochs)", highlight=False
    )
    result = run_compare(
        task="mnist1d", acts=acts, out_dir=out_dir, seeds=3, model="mlp", config=config, jobs=2, progress=True
    )
    _print_summary(result, "MNIST-1D, MLP: final test metrics over 3 seeds")
    console.print(f"[bold green]demo done:[/] report {result.report}, plots and tables in {out_dir}/", highlight=False)
