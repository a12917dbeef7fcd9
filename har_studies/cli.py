"""The ``har`` command line (``make`` calls it; ``python -m har_studies`` runs the same).

Each command calls its module's library functions, imported only when it runs so ``har --help``
is quick. This is the top of the package: nothing else in ``har_studies`` imports it.
"""

from __future__ import annotations

import errno
import functools
import importlib
import inspect
import io
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from har_utils import config

from . import constants

CONTEXT = {"help_option_names": ["-h", "--help"]}


class Group(click.Group):
    """Commands in declaration order; with ``doc``, ``--help`` shows that module's docstring."""

    def __init__(self, *args: Any, doc: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", CONTEXT)
        super().__init__(*args, **kwargs)
        self.doc = doc

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if not self.doc:
            return super().format_help_text(ctx, formatter)
        text = inspect.cleandoc(importlib.import_module(self.doc).__doc__ or "")
        formatter.write_paragraph()
        formatter.write(textwrap.indent(text, " " * (formatter.current_indent + 2)) + "\n")


class Har(Group):
    """The top group and error boundary: the project's own errors end with their message and fix
    and exit status 2, no traceback unless ``--debug``; any other exception is a bug."""

    def invoke(self, ctx: click.Context) -> Any:
        from har_utils.io import HarError

        from .backends import BackendError

        try:
            return super().invoke(ctx)
        except (HarError, BackendError) as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


class IntList(click.ParamType):
    """A comma list of integers (``0,1,2``)."""

    name = "N,N,..."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> list[int]:
        if isinstance(value, list):
            return value
        try:
            return [int(s) for s in str(value).split(",") if s.strip()]
        except ValueError:
            self.fail(f"{value!r} is not a comma list of integers (e.g. 0,1,2)", param, ctx)


def names(value: str, known: Sequence[str], what: str, param: str) -> list[str]:
    """``value`` split at commas, each checked against ``known`` (a usage error otherwise)."""
    out = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in out if s not in known]
    if unknown or not out:
        raise click.BadParameter(f"unknown {what} {unknown or [value]}; use names from "
                                 f"{list(known)}", param_hint=param)
    return out


def known_models() -> list[str]:
    """Every model a run can train: the Keras registry plus the classical baseline."""
    from har_utils.models import MODELS

    from . import zoo_models  # noqa: F401  (registers the zoo's models)
    from .experiments.runner import CLASSICAL

    return sorted(MODELS) + list(CLASSICAL)


def lazy(value: Callable[[], Any], shown: str) -> dict[str, Any]:
    """An option default computed when the command runs, shown in the help as ``shown``."""
    return {"default": value, "show_default": shown}


source_option = click.option("--source", type=click.Choice(["auto", "uci", "hapt"]),
                             default="auto", show_default=True,
                             help="data source: the official archive (uci), the HAPT rebuild "
                                  "(hapt), or whichever is available (auto)")
def scheduler_address(ctx: click.Context, param: click.Parameter, value: str | None
                      ) -> str | None:
    """``--scheduler``: a ``tcp://host:port`` address where a Dask scheduler answers its
    handshake within seconds (checked first; anything else is named)."""
    if value is None:
        return None
    from urllib.parse import urlsplit

    from .experiments.scheduler import SCHEDULER_FIX, scheduler_problem

    url = urlsplit(value if "://" in value else f"tcp://{value}")
    try:
        host, port = url.hostname, url.port
    except ValueError:
        host = port = None
    if url.scheme not in ("tcp", "tls") or not host or port is None:
        raise click.BadParameter(f"{value!r} is not a scheduler address; give one like "
                                 "tcp://127.0.0.1:8786", ctx, param)
    address = f"{url.scheme}://{host}:{port}"
    problem = scheduler_problem(address)
    if problem:
        raise click.BadParameter(f"{problem}. Fix: {SCHEDULER_FIX}", ctx, param)
    return address


scheduler_option = click.option("--scheduler", default=None, metavar="ADDRESS",
                                callback=scheduler_address,
                                help="Dask scheduler address (tcp://host:8786)")


def models_option(default: Callable[[], Sequence[str]], shown: str) -> Callable[..., Any]:
    """``--models``: a comma list of known models, given to the command as a list."""
    return click.option("--models", **lazy(lambda: ",".join(default()), shown), help="comma list",
                        callback=lambda ctx, param, value: names(value, known_models(),
                                                                 "model(s)", "--models"))


def _allow_dirty(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:  # the runner reads it: every study command passes its runs through
        os.environ["HAR_ALLOW_DIRTY"] = "1"


def check_workers(workers: int, scheduler: str | None) -> None:
    """Local workers (no ``--scheduler``): at most the cores this process may use, else a usage
    error before anything starts (a Dask cluster's workers run on its own machines)."""
    if scheduler is not None or workers <= 1:
        return
    from har_utils import threads

    cores = threads.available_cores()
    if workers > cores:
        raise click.BadParameter(
            f"{workers} local workers, but this machine has {cores} CPU core(s) for this "
            f"process; give at most --workers {cores} (or --scheduler to run on a Dask "
            "cluster's workers)", ctx=click.get_current_context(silent=True),
            param_hint="'--workers'")


def runner_options(f: Callable[..., Any]) -> Any:
    """The experiment runner's options: ``--workers`` (at most the cores, checked first),
    ``--scheduler``, ``--source``, ``--allow-dirty``."""

    @functools.wraps(f)  # keeps the options declared on ``f`` (``__click_params__``)
    def checked(*args: Any, **kwargs: Any) -> Any:
        check_workers(kwargs["workers"], kwargs.get("scheduler"))
        return f(*args, **kwargs)

    g: Any = click.option("--allow-dirty", is_flag=True, expose_value=False,
                          callback=_allow_dirty,
                          help="store runs in the committed results/runs although tracked "
                               "code differs from the commit (each run records the files)")(checked)
    g = source_option(scheduler_option(g))
    return click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                        help="parallel runs (local worker processes, at most the CPU cores)")(g)


def smoke_option(study: str, help: str) -> Callable[..., Any]:
    """``--smoke``: the study's smoke plan; its results go to ``build/<study>_smoke/results``
    unless ``HAR_RESULTS_DIR`` names a folder, never to the committed ``results/``."""

    def route(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if value and not os.environ.get("HAR_RESULTS_DIR", "").strip():
            # every module (and each local worker) reads the results folder from here
            os.environ["HAR_RESULTS_DIR"] = str(config.smoke_results_dir(study))
            click.echo(f"[{study}] smoke run: results go to "
                       f"{config.shown(config.results_dir())} (HAR_RESULTS_DIR names another "
                       "folder)", err=True)
        return value

    return click.option("--smoke", is_flag=True, callback=route,
                        help=f"{help} (results under build/{study}_smoke/ unless "
                             "HAR_RESULTS_DIR is set)")


def _setting(study: str, name: str) -> Any:
    """``name`` of a study's module, read when a command runs (``har --help`` stays quick)."""
    from .experiments import cv, zoo

    return getattr({"cv": cv, "zoo": zoo}[study], name)


def load(source: str) -> Any:
    from har_utils import data

    return data.load_dataset(source)


@click.group(cls=Har)
@click.option("--debug", is_flag=True, envvar="HAR_DEBUG",
              help="show the traceback of the project's errors too (or HAR_DEBUG=1)")
def har(debug: bool) -> None:
    """Reproducible companion to a CNN-LSTM for human activity recognition on UCI HAR.

    The paper's path: `har run` executes notebooks 01-06 (params/<profile>.yml), `har publish`
    copies the finished paper run into notebooks/ and `har readme` renders README.md's blocks
    (`make reproduce`, `make publish`). The studies: `har study`, `har cv`, `har beyond`,
    `har zoo`, `har ablations`; `make help` lists the make targets that call them.
    """


main = har


# --- the notebooks (har_studies.pipeline) ---------------------------------------------------

@har.command("run", short_help="Execute the notebooks into build/<profile>/.")
@click.argument("notebooks", nargs=-1)
@click.option("--profile", default="paper", show_default=True, envvar="PROFILE",
              show_envvar=True, help="params/<profile>.yml, e.g. paper or smoke")
@click.option("--force", is_flag=True, help="run even if up to date")
@click.option("--timeout", type=int, default=3600, show_default=True, help="seconds per cell")
@click.option("--set", "settings", multiple=True, metavar="NOTEBOOK.NAME=VALUE",
              help="replace one of the profile's values for this run (recorded in the manifest)")
def run_cmd(notebooks: tuple[str, ...], profile: str, force: bool, timeout: int,
            settings: tuple[str, ...]) -> None:
    """Execute notebooks with papermill into build/<profile>/ (NOTEBOOKS: default all, in
    order); up-to-date ones are skipped."""
    from . import pipeline

    if settings:
        os.environ["HAR_SET"] = ";".join(settings)
    pipeline.run(list(notebooks), profile, force=force, timeout=timeout)


@har.command("publish")
def publish_cmd() -> None:
    """Copy the finished paper run into the committed notebooks."""
    from . import pipeline
    pipeline.publish()


@har.command("study", short_help="Execute a study notebook (07, 08).")
@click.argument("notebook", type=click.Choice(constants.STUDY_NOTEBOOKS))
@click.option("--profile", required=True, help="params/<profile>.yml, e.g. ablations")
@click.option("--force", is_flag=True, help="run even if up to date")
@click.option("--timeout", type=int, default=0, show_default=True,
              help="seconds per cell (0: no limit)")
def study_cmd(notebook: str, profile: str, force: bool, timeout: int) -> None:
    """Execute a study notebook (e.g. 07_ablations) into build/<profile>/."""
    from . import pipeline
    pipeline.run_study(notebook, profile, force=force, timeout=timeout or None)


@har.command("publish-study")
@click.argument("notebook", type=click.Choice(constants.STUDY_NOTEBOOKS))
@click.option("--profile", required=True, type=click.Choice(constants.STUDY_PROFILES),
              help="the full study's profile")
def publish_study_cmd(notebook: str, profile: str) -> None:
    """Copy a full study's executed notebook into notebooks/."""
    from . import pipeline
    pipeline.publish_study(notebook, profile)


@har.command("readme", short_help="Re-render the README's and docs' result blocks.")
@click.option("--check", is_flag=True, help="only list the files out of date (exit 1 if any)")
def readme_cmd(check: bool) -> None:
    """Re-render the generated blocks of README.md and docs/*.md from results/."""
    from .reporting import docs
    changed = docs.render_files(write=not check)
    for path in changed:
        click.echo(f"{'out of date' if check else 'updated'}: {config.shown(path)}")
    if not changed:
        click.echo(f"{len(docs.doc_files())} files up to date")
    if check and changed:
        sys.exit(1)


# --- har predict (har_studies.deploy.predict) -----------------------------------------------

@har.command("predict", short_help="Classify every window of a recording (CSV).",
             epilog="CSV columns: acc_x, acc_y, acc_z (g, gravity included), gyro_x, gyro_y, "
                    "gyro_z (rad/s), optional time (s); separated by commas, ';' or tabs; lines "
                    "starting with # skipped. Resampled to 50 Hz if needed. Bad input (m/s^2, no "
                    "gravity, deg/s, a model without the 6 activities, ...) ends with a message "
                    "naming the file and exit status 2.")
@click.argument("recording", type=click.Path(path_type=Path))
@click.option("--rate", type=float, default=None, metavar="HZ",
              help="sample rate in Hz (needed without a time column)")
@click.option("--model", default=None, metavar="FILE|NAME",
              help="a .keras or .tflite file, or a model's name under results/models/ "
                   "(beyond: the beyond study's choice; small: the watch model; default: "
                   "cnn_lstm_paper)")
@click.option("--causal", is_flag=True,
              help="causal (streaming) filtering instead of zero-phase (as in training)")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="write the windows to this CSV file (complete or not at all) instead of "
                   "printing them")
def predict_cmd(recording: Path, rate: float | None, model: str | None, causal: bool,
                output: Path | None) -> None:
    """Print the activity of every 2.56 s window (step 1.28 s) of a recording (a CSV file,
    one row per sample)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .deploy import predict

    rec = predict.read_recording(recording, rate)  # all input checks before TensorFlow
    for note in rec.notes:
        click.echo(f"note: {recording}: {note}", err=True)
    model_path = predict.model_path(model)
    table = predict.classify_recording(rec, predict.load_classifier(model_path), causal=causal)
    how = (f"resampled from {rec.source_rate_hz:g} Hz to 50 Hz (x{rec.resampled[0]}/"
           f"{rec.resampled[1]})" if rec.resampled else "at 50 Hz")
    if rec.source_rate_hz < predict.LOW_RATE_WARNING_HZ:
        click.echo(f"warning: {rec.source_rate_hz:g} Hz cannot carry the 0-20 Hz band the model "
                   "was trained on; expect lower accuracy for walking activities", err=True)
    click.echo(f"{recording}: {rec.n} samples {how}; {len(table)} windows of 2.56 s every "
               f"1.28 s; {'causal' if causal else 'zero-phase'} filtering; model {model_path}",
               err=True)
    if output is not None:
        predict.write_predictions(table, output)
        click.echo(f"wrote {len(table)} windows to {output}", err=True)
        return
    try:
        click.echo(predict.table_text(table), nl=False)
        sys.stdout.flush()
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # the reader stopped early (`| head`): click's way
            raise
        target = _stdout_file()
        _drop_stdout()
        raise predict.output_error(target, exc, stdout=True) from exc


def _stdout_file() -> Path | None:
    """The file standard output is redirected to (Linux), else ``None``."""
    try:
        target = Path(os.readlink(f"/proc/self/fd/{sys.stdout.fileno()}"))
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None
    return target if target.is_absolute() and target.is_file() else None


def _drop_stdout() -> None:
    """Send what standard output still buffers to the null device: the exit does not fail on it
    again."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


# --- har cv (har_studies.experiments.cv) ----------------------------------------------------

@har.group("cv", cls=Group, doc="har_studies.experiments.cv",
           short_help="Protocol cv: choices by cross-validation.")
def cv_group() -> None:
    """Protocol cv: every choice made by cross-validation over the training subjects."""


@cv_group.command("cost")
def cv_cost_cmd() -> None:
    """Print the cost table (and write results/cv/cost_table.csv)."""
    _echo_cost("cv", "total hours (at most)")


def _experiment(study: str) -> Any:
    from .experiments import beyond, cv, small
    return {"cv": cv, "beyond": beyond, "small": small}[study]


def _echo_cost(study: str, hours: str) -> None:
    table, path = _experiment(study).write_cost_table()
    click.echo(table.round(2).to_string(index=False))
    click.echo(f"total at most {table[hours].sum():.1f} h of one worker; "
               f"wrote {config.shown(path)}")


@cv_group.command("run")
@models_option(lambda: _setting("cv", "MODELS"), "every model of protocol cv")
@click.option("--stage", type=click.Choice(["folds", "all"]), default="all", show_default=True,
              help="folds: the fold runs and the choices only; all: the final runs too")
@runner_options
@smoke_option("cv", "2 folds x 2 epochs x 1 seed, C grid of 2")
@click.option("--check", is_flag=True, help="exit 1 unless every planned run of --models is stored")
def cv_run_cmd(models: list[str], stage: str, workers: int, scheduler: str | None, source: str,
               smoke: bool, check: bool) -> None:
    """Run what is missing, then write results/cv/summary.json."""
    from .experiments import cv
    ds = load(source)
    choices = cv.run_models(models, ds, smoke=smoke, stage=stage, workers=workers,
                            scheduler=scheduler)
    for model, choice in choices.items():
        click.echo(f"[cv] {model}: {choice['rule']}: "
                   + (f"C = {choice['C']:g}" if "C" in choice else f"{choice['epochs']} epochs"))
    doc = _write_cv_summary(ds, models if smoke else cv.MODELS, smoke=smoke)
    if check and [m for m in doc["missing"] if m.split(":")[0] in models]:
        sys.exit(1)


@cv_group.command("summary")
@smoke_option("cv", "the smoke plan's runs")
@source_option
def cv_summary_cmd(smoke: bool, source: str) -> None:
    """Write results/cv/summary.json."""
    _write_cv_summary(load(source), smoke=smoke)


def _write_cv_summary(ds: Any, models: Sequence[str] | None = None, *, smoke: bool
                      ) -> dict[str, Any]:
    """Write the cv summary, then the zoo summary's protocol-cv rows that follow it."""
    from .experiments import cv
    doc = cv.write_summary(ds, cv.MODELS if models is None else models, smoke=smoke)
    click.echo(f"wrote {config.shown(cv.summary_path())}; missing: {doc['missing'] or 'nothing'}")
    from .experiments import zoo
    path = zoo.refresh_cv_rows()
    if path is not None:
        click.echo(f"updated the protocol-cv rows of {config.shown(path)}")
    return doc


# --- har beyond (har_studies.experiments.beyond) --------------------------------------------

@har.group("beyond", cls=Group, doc="har_studies.experiments.beyond",
           short_help="Beyond the paper: a configuration chosen on the folds.")
def beyond_group() -> None:
    """Beyond the paper: candidates screened on folds of the training subjects, one chosen
    and committed, then tested once."""


def _plan(smoke: bool) -> Any:
    from .experiments import beyond as b
    return b.SMOKE if smoke else b.Plan()


@beyond_group.command("cost")
def beyond_cost_cmd() -> None:
    """Print the cost table (and write results/beyond/cost_table.csv)."""
    _echo_cost("beyond", "hours")


@beyond_group.command("run")
@click.option("--stage", type=click.Choice(["select", "final", "all"]), default="select",
              show_default=True, help="select: every fold run and the choice "
              "(results/beyond/choice.json: commit it before the final stage); final: the "
              "final runs of the committed choice and the summary; all: both (the smoke run)")
@runner_options
@smoke_option("beyond", "the tiny model, 2 epochs, a few candidates")
def beyond_run_cmd(stage: str, workers: int, scheduler: str | None, source: str,
                   smoke: bool) -> None:
    """Run what is missing of a stage."""
    from .experiments import beyond as b
    doc = b.run(load(source), _plan(smoke), stage=stage, workers=workers, scheduler=scheduler)
    chosen = doc.get("chosen")
    click.echo(f"[beyond] chosen: {chosen['name']} ({chosen['epochs']} epochs, ensembles of "
               f"{chosen['ensemble_seeds']})" if chosen else
               f"[beyond] no choice yet; missing: {', '.join(doc['missing'])}")
    click.echo(f"wrote {config.shown(b.choice_path() if stage == 'select' else b.summary_path())}")


@beyond_group.command("summary")
@smoke_option("beyond", "the smoke plan's runs")
@source_option
def beyond_summary_cmd(smoke: bool, source: str) -> None:
    """Write results/beyond/summary.json from the committed choice and the stored runs."""
    from .experiments import beyond as b
    doc = b.write_summary(load(source), _plan(smoke))
    click.echo(f"wrote {config.shown(b.summary_path())}; missing: "
               f"{doc['missing_finals'] or 'nothing'}")


@beyond_group.command("export")
@smoke_option("beyond", "the smoke plan's runs")
@source_option
def beyond_export_cmd(smoke: bool, source: str) -> None:
    """Save the chosen configuration's model to results/models/beyond.keras (trained again,
    checked against its stored final run) for `make deploy` and `har predict --model beyond`."""
    from .experiments import beyond
    beyond.export(load(source), _plan(smoke), log=click.echo)


# --- har small (har_studies.experiments.small) --------------------------------------------

@har.group("small", cls=Group, doc="har_studies.experiments.small",
           short_help="A model for a watch: int8 in 32 KB, chosen on the folds.")
def small_group() -> None:
    """A model for a watch: small networks whose int8 file fits in 32 KB, screened on folds of
    the training subjects, one chosen and committed, then tested once."""


def _small_plan(smoke: bool) -> Any:
    from .experiments import small
    return small.SMOKE if smoke else small.Plan()


@small_group.command("cost")
def small_cost_cmd() -> None:
    """Print the cost table (and write results/small/cost_table.csv)."""
    _echo_cost("small", "hours")


@small_group.command("run")
@click.option("--stage", type=click.Choice(["select", "final", "all"]), default="select",
              show_default=True, help="select: the size export, every fold run and the choice "
              "(results/small/choice.json: commit it before the final stage); final: the final "
              "runs of the committed choice and the summary; all: both (the smoke run)")
@runner_options
@smoke_option("small", "the tiny model, 2 epochs, two candidates")
def small_run_cmd(stage: str, workers: int, scheduler: str | None, source: str,
                  smoke: bool) -> None:
    """Run what is missing of a stage."""
    from .experiments import small
    doc = small.run(load(source), _small_plan(smoke), stage=stage, workers=workers,
                    scheduler=scheduler)
    chosen = doc.get("chosen")
    click.echo(f"[small] chosen: {chosen['name']} ({chosen['epochs']} epochs)" if chosen else
               f"[small] no choice yet; missing: {', '.join(doc['missing'])}")
    wrote = small.choice_path() if stage == "select" else small.summary_path()
    click.echo(f"wrote {config.shown(wrote)}")


@small_group.command("summary")
@smoke_option("small", "the smoke plan's runs")
@source_option
def small_summary_cmd(smoke: bool, source: str) -> None:
    """Write results/small/summary.json from the committed choice and the stored runs."""
    from .experiments import small
    doc = small.write_summary(load(source), _small_plan(smoke))
    click.echo(f"wrote {config.shown(small.summary_path())}; missing final runs: "
               f"{doc['missing_finals']}")


@small_group.command("export")
@smoke_option("small", "the smoke plan's runs")
@source_option
def small_export_cmd(smoke: bool, source: str) -> None:
    """Save the chosen network (its shipped seed, trained again and checked against its stored
    final run) to results/models/small.keras for `make deploy` and `har predict --model small`."""
    from .experiments import small
    small.export(load(source), _small_plan(smoke), log=click.echo)


# --- har zoo (har_studies.experiments.zoo) --------------------------------------------------

@har.group("zoo", cls=Group, doc="har_studies.experiments.zoo",
           short_help="The model zoo: Table II on one protocol and one backend.")
def zoo_group() -> None:
    """The model zoo: protocol cv's rows and the paper's protocol re-run, and a summary."""


@zoo_group.command("run")
@click.option("--seeds", type=IntList(),
              **lazy(lambda: ",".join(map(str, _setting("zoo", "SEEDS"))), "0,1,2"),
              help="comma list of the paper protocol's seeds")
@runner_options
@click.option("--force", is_flag=True, help="train again even if stored")
def zoo_run_cmd(seeds: list[int], workers: int, scheduler: str | None, source: str,
                force: bool) -> None:
    """Train what is missing of the paper's protocol (none when all runs are stored), then
    write results/zoo/summary.json."""
    from .experiments import zoo
    ds = load(source)
    zoo.run(ds, seeds, workers=workers, scheduler=scheduler, force=force)
    click.echo(f"wrote {config.shown(zoo.write_summary(ds))}")


@zoo_group.command("summary")
@source_option
def zoo_summary_cmd(source: str) -> None:
    """Write results/zoo/summary.json (refused where it would drop a row whose runs are not stored)."""
    from .experiments import zoo
    click.echo(f"wrote {config.shown(zoo.write_summary(load(source), keep_rows=True))}")


# --- har ablations (har_studies.experiments.ablations) --------------------------------------

@har.group("ablations", cls=Group, doc="har_studies.experiments.ablations",
           short_help="The ablation study around cnn_lstm_paper, under protocol cv.")
def ablations_group() -> None:
    """The ablation study around cnn_lstm_paper under protocol cv (notebook 07)."""


def _ablations_plan(smoke: bool) -> Any:
    from .experiments.ablations import converged
    return converged.SMOKE if smoke else converged.Plan()


@ablations_group.command("cost")
def ablations_cost_cmd() -> None:
    """Print the cost table (and write results/ablations/cv_cost_table.csv)."""
    from .experiments.ablations import converged
    table, path = converged.write_cost_table()
    click.echo(table.round(2).to_string(index=False))
    click.echo(f"total at most {table['hours'].sum():.1f} h of one worker; "
               f"wrote {config.shown(path)}")


@ablations_group.command("run")
@click.option("--stage", type=click.Choice(["screen", "select", "final", "all"]),
              default="select", show_default=True,
              help="screen: every factor on 3 folds (results/ablations/cv_screen.json); select: "
              "the screen, then confirm on 7 folds, combine, choose (results/ablations/"
              "cv_choice.json: commit it before the final stage); final: the committed choice "
              "and the paper's configuration over the same 5 seeds, tested, and the summary; "
              "all: select and final (the smoke run)")
@click.option("--no-run", is_flag=True, help="train nothing: score what is stored")
@runner_options
@smoke_option("ablations", "the tiny model, 2 epochs, two points")
def ablations_run_cmd(stage: str, no_run: bool, workers: int, scheduler: str | None,
                      source: str, smoke: bool) -> None:
    """Run what is missing of a stage."""
    from .experiments.ablations import converged
    if stage == "final":
        converged.committed_choice()  # before the data loads
    ds, p = load(source), _ablations_plan(smoke)
    kw = {"train": not no_run, "workers": workers, "scheduler": scheduler}
    doc = converged.run(ds, p, stage=stage, **kw)
    chosen = doc.get("chosen")
    click.echo(f"[ablations] chosen: {chosen['name']} ({chosen['epochs']} epochs)" if chosen
               else f"[ablations] no choice yet; missing: {', '.join(doc.get('missing', []))}")


@ablations_group.command("summary")
@smoke_option("ablations", "the smoke plan's runs")
@source_option
def ablations_summary_cmd(smoke: bool, source: str) -> None:
    """Write results/ablations/cv_summary.json from the committed choice and the stored runs."""
    from .experiments.ablations import converged
    doc = converged.write_summary(load(source), _ablations_plan(smoke))
    click.echo(f"wrote {config.shown(converged.summary_path())}; missing: "
               f"{', '.join(doc['missing_finals']) or 'nothing'}")


if __name__ == "__main__":
    har()
