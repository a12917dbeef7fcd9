"""Run the notebooks with papermill, one profile at a time, and publish a finished run.

``har run`` executes ``notebooks/NAME.ipynb`` into ``build/<profile>/`` with the parameters of
``params/<profile>.yml`` (``common`` plus the notebook's section). A notebook reruns only when a
hash of its cells, parameters, the package files it may run, the lock file, its upstream
notebooks and the Keras backend changed (never by file times), so an interrupted run resumes.
The ``paper`` profile and the full studies' profiles write the committed ``results/`` and
``figures/``, others ``build/<profile>/``. ``har publish`` copies a finished ``paper`` run into
``notebooks/``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from har_utils import backend, config
from har_utils.io import HarError, atomic_write, sha256_file, write_json_atomic
from har_utils.provenance import environment

from . import constants, profiles
from .backends import EXPORT
from .folders import check_writable


def notebook_names() -> list[str]:
    """The pipeline's notebooks in run order, the study notebooks left out."""
    return sorted(p.stem for p in config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")
                  if p.stem not in constants.STUDY_NOTEBOOKS)


def local_dir() -> Path:
    """``params/local/``: a user's own profiles, which git ignores."""
    return config.PARAMS_DIR / "local"


def profile_path(profile: str) -> Path:
    """``params/<profile>.yml``, else ``params/local/<profile>.yml`` (which may not shadow it)."""
    committed, local = config.PARAMS_DIR / f"{profile}.yml", local_dir() / f"{profile}.yml"
    if committed.is_file() and local.is_file():
        raise HarError(local, f"a committed profile is also called {profile!r} "
                       f"({config.shown(committed)})", "rename your profile")
    return local if local.is_file() else committed


def load_profile(profile: str) -> dict[str, Any]:
    """The parsed ``params/<profile>.yml``, its sections checked."""
    path = profile_path(profile)
    if not path.is_file():
        known = sorted(p.stem for p in [*config.PARAMS_DIR.glob("*.yml"), *local_dir().glob("*.yml")])
        raise HarError(path, f"no such profile {profile!r}",
                       f"use one of {known}, or write params/local/{profile}.yml "
                       "(params/smoke.yml shows the layout; git ignores params/local/)")
    try:
        prof = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise HarError(path, f"not valid YAML ({' '.join(str(exc).split())})",
                       "fix the syntax (params/smoke.yml shows the layout)") from None
    profiles.check_sections(path, prof, notebook_names() + list(constants.STUDY_NOTEBOOKS),
                            declared_parameters)
    return prof


def declared_parameters(notebook: str) -> dict[str, str]:
    """Names and default source text of the notebook's ``parameters`` cell (papermill's reading)."""
    import papermill as pm

    path = config.NOTEBOOKS_DIR / f"{notebook}.ipynb"
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise HarError(path, f"{len(tagged)} cells tagged 'parameters'",
                       "tag exactly one cell 'parameters' (JupyterLab: the property "
                       "inspector)")
    return {name: p["default"] for name, p in pm.inspect_notebook(str(path)).items()}


def overrides(settings: str | None = None) -> dict[str, dict[str, Any]]:
    """Values that replace a profile's for one run (``har run --set NOTEBOOK.NAME=VALUE``,
    passed on as ``HAR_SET``, ``;``-separated; the manifest records them as ``set``).
    ``settings``: such a string instead of ``HAR_SET``'s."""
    out: dict[str, dict[str, Any]] = {}
    text = os.environ.get("HAR_SET", "") if settings is None else settings
    for item in filter(None, text.split(";")):
        target, _, value = item.partition("=")
        notebook, _, name = target.partition(".")
        if not (notebook and name and value):
            raise HarError(None, f"--set {item!r} is not NOTEBOOK.NAME=VALUE",
                           "e.g. --set 04_training.EPOCHS=5")
        out.setdefault(notebook, {})[name] = yaml.safe_load(value)
    return out


def notebook_params(profile: str, notebook: str, settings: str | None = None
                    ) -> dict[str, Any]:
    """One notebook's parameters: the ``common`` values it declares, then its own, then those
    of :func:`overrides` (of ``settings``), checked."""
    prof = load_profile(profile)
    declared = declared_parameters(notebook)
    own = prof.get(notebook) or {}
    common = {k: v for k, v in (prof.get("common") or {}).items() if k in declared}
    params = {**common, **own, **overrides(settings).get(notebook, {})}
    profiles.check(profile_path(profile), notebook, params, declared)
    return params


def output_dirs(profile: str) -> dict[str, Path]:
    """Where a profile's executed notebooks, results and figures go."""
    build = config.BUILD_DIR / profile
    if profile == config.PUBLISHED_PROFILE or profile in constants.STUDY_PROFILES:
        return {"build": build, "results": config.PROJECT_ROOT / "results",
                "figures": config.PROJECT_ROOT / "figures"}
    return {"build": build, "results": build / "results", "figures": build / "figures"}


def _code_of(notebook: Path) -> str:
    nb = json.loads(notebook.read_text())
    cells = [c for c in nb["cells"] if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    return json.dumps([(c["cell_type"], "".join(c["source"])) for c in cells])


#: This package's folder (the core's: ``config.PACKAGE_DIR``).
STUDIES_DIR: Path = Path(__file__).resolve().parent


def _package_dirs() -> dict[str, Path]:
    """The packages whose code a notebook may run, and their folders."""
    return {"har_utils": config.PACKAGE_DIR, "har_studies": STUDIES_DIR}


def _imports(text: str, filename: str = "<unknown>", base: tuple[str, ...] = ()) -> set[str]:
    """Modules of both packages that ``text`` imports anywhere; relative ones against ``base``."""
    import ast

    dirs = _package_dirs()
    out: set[str] = set()
    for node in ast.walk(ast.parse(text, filename)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] in dirs}
        elif isinstance(node, ast.ImportFrom):
            if node.level and base:
                parent = ".".join(base[:len(base) - node.level + 1])
                mod = f"{parent}.{node.module}" if node.module else parent
            elif not node.level and node.module and node.module.split(".")[0] in dirs:
                mod = node.module
            else:
                continue
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}  # `from . import x`: x may be a module
    return out


def _module_imports(path: Path) -> set[str]:
    """:func:`_imports` of the source file ``path`` (in one of both packages)."""
    package, root = next((n, d) for n, d in _package_dirs().items() if path.is_relative_to(d))
    base = (package, *path.relative_to(root).with_suffix("").parts[:-1])
    return _imports(path.read_text(), str(path), base)


def _module_file(module: str) -> Path | None:
    package, *parts = module.split(".")
    root = _package_dirs().get(package)
    cands = () if root is None else (root.joinpath(*parts).with_suffix(".py"),
                                     root.joinpath(*parts, "__init__.py"))
    return next((c for c in cands if c.is_file()), None)


def module_closure(sources: str | list[str]) -> list[Path]:
    """Every source file of both packages that code importing what ``sources`` imports may run."""
    texts = [sources] if isinstance(sources, str) else sources
    todo: set[str] = {"har_utils"}.union(*(_imports(text) for text in texts))
    seen: dict[str, Path] = {}
    while todo:
        mod = todo.pop()
        parts = mod.split(".")
        for i in range(1, len(parts) + 1):  # the packages on the way run too
            name = ".".join(parts[:i])
            f = _module_file(name)
            if f is not None and name not in seen:
                seen[name] = f
                todo |= _module_imports(f)
    return sorted(set(seen.values()))


def notebook_dependencies(notebook: str) -> list[Path]:
    """The package files a notebook's code may run and the data files those modules name."""
    nb = json.loads((config.NOTEBOOKS_DIR / f"{notebook}.ipynb").read_text())
    code = ["\n".join(line for line in "".join(c["source"]).splitlines()
                      if not line.lstrip().startswith(("%", "!")))
            for c in nb["cells"] if c["cell_type"] == "code"]
    files = module_closure(code)
    text = "".join(f.read_text() for f in files)
    data_files = [f for f in sorted(config.PACKAGE_DIR.rglob("*"))
                  if f.is_file() and f.suffix in (".csv", ".json") and f.name in text]
    return files + data_files


def _package_hash(files: list[Path] | None = None) -> str:
    """Hash of ``files`` (default: both packages' source and data files) and the lock file."""
    h = hashlib.sha256()
    if files is None:
        files = [f for d in _package_dirs().values() for f in sorted(d.rglob("*"))
                 if f.is_file() and f.suffix in (".py", ".csv", ".json")
                 and "__pycache__" not in f.parts]
    for f in files:
        name = (f.relative_to(config.PACKAGE_DIR) if f.is_relative_to(config.PACKAGE_DIR)
                else Path("har_studies", f.relative_to(STUDIES_DIR)))
        h.update(str(name).encode())
        h.update(f.read_bytes())
    lock = config.PROJECT_ROOT / "requirements.lock"
    if lock.exists():
        h.update(lock.read_bytes())
    return h.hexdigest()


def input_hash(notebook: Path, params: dict[str, Any], upstream: str = "",
               package: str | None = None, keras_backend: str | None = None) -> str:
    """Hash of what decides a notebook's outputs besides the data (cells, not outputs): its
    code, parameters, package files, upstream notebooks and the Keras backend its kernel runs
    (``keras_backend``, default :func:`kernel_backend` of the notebook)."""
    h = hashlib.sha256()
    h.update(_code_of(notebook).encode())
    h.update(json.dumps(params, sort_keys=True).encode())
    h.update((package if package is not None else _package_hash()).encode())
    h.update(upstream.encode())
    h.update(f"keras backend: {keras_backend or kernel_backend(notebook.stem)}".encode())
    return h.hexdigest()


#: Notebooks that run Keras on a backend of their own, whatever the kernel starts on.
OWN_BACKEND: dict[str, str] = {"08_deployment": EXPORT}


def kernel_backend(notebook: str = "") -> str:
    """The Keras backend ``notebook`` runs on: its own (:data:`OWN_BACKEND`), else the one its
    kernel starts on, this process's (the user's ``KERAS_BACKEND``, else the training backend;
    :func:`kernel_env` passes it on)."""
    return OWN_BACKEND.get(notebook) or backend.current()


#: Committed files a notebook reads besides the outputs of the notebooks before it (part of its
#: input hash): 04 and 05 read protocol cv (`make cv`), 06 also the zoo study (`make zoo`).
EXTRA_INPUTS: dict[str, tuple[str, ...]] = {"04_training": ("results/cv/summary.json",),
                                             "05_evaluation": ("results/cv/summary.json",),
                                             "06_comparison": ("results/zoo/summary.json",
                                                               "results/cv/summary.json")}
#: The notebooks whose outputs a notebook reads (a change to one of them reruns it).
UPSTREAM: dict[str, tuple[str, ...]] = {"04_training": ("03_model",),
                                         "05_evaluation": ("04_training",),
                                         "06_comparison": ("04_training", "05_evaluation")}


def chain_hashes(profile: str, settings: str | None = None) -> dict[str, str]:
    """Input hash of every notebook, its :data:`UPSTREAM` notebooks' hashes included
    (``settings``: the ``--set`` values, default this run's)."""
    out: dict[str, str] = {}
    for name in notebook_names():
        extra = "".join(sha256_file(config.PROJECT_ROOT / f) if (config.PROJECT_ROOT / f).exists()
                        else f"{f}: missing" for f in EXTRA_INPUTS.get(name, ()))
        upstream = "".join(out[u] for u in UPSTREAM.get(name, ()))
        out[name] = input_hash(config.NOTEBOOKS_DIR / f"{name}.ipynb",
                               notebook_params(profile, name, settings), upstream + extra,
                               _package_hash(notebook_dependencies(name)))
    return out


def _manifest_path(profile: str) -> Path:
    return output_dirs(profile)["build"] / "manifest.json"


def load_manifest(profile: str) -> dict[str, Any]:
    """The run manifest of a profile (a new, empty one if none exists)."""
    path = _manifest_path(profile)
    stored = json.loads(path.read_text()) if path.exists() else {}
    return {"run_id": uuid.uuid4().hex[:12], "profile": profile, "notebooks": {}, **stored}


def _ipc_kernel_manager() -> type:
    """jupyter_client's kernel manager on local IPC sockets: no network port, no TCP warning."""
    from jupyter_client.manager import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)

    return IpcKernelManager


def kernel_env(profile: str) -> dict[str, str]:
    """What the pipeline sets for a notebook's kernel: the profile's output folders, this
    process's data folder and every other path setting made absolute (the kernel runs in
    ``notebooks/`` and may import the packages from another checkout), the Keras backend of
    the input hash, quiet TensorFlow."""
    dirs = output_dirs(profile)
    paths = {v: str(config.path_setting(v)) for v in config.PATH_SETTINGS
             if config.path_setting(v)}
    return {**paths, config.DATA_DIR_ENV: str(config.data_dir()),
            config.RESULTS_DIR_ENV: str(dirs["results"]),
            config.FIGURES_DIR_ENV: str(dirs["figures"]), "KERAS_BACKEND": kernel_backend(),
            "HAR_PROFILE": profile, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0",
            "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def run_notebook(name: str, profile: str, digest: str, *, force: bool = False,
                 timeout: int | None = 3600) -> float:
    """Execute one notebook unless it is current; its wall seconds (``timeout`` per cell)."""
    import papermill as pm

    src = config.NOTEBOOKS_DIR / f"{name}.ipynb"
    dirs = output_dirs(profile)
    params = notebook_params(profile, name)
    out = dirs["build"] / f"{name}.ipynb"
    recorded = load_manifest(profile)["notebooks"].get(name, {})
    if not force and out.exists() and recorded.get("input_hash") == digest:
        print(f"[{profile}] {name}: up to date, skipped", flush=True)
        print_summary(name, profile)
        return 0.0
    for d in dirs.values():  # before the notebook runs: its outputs must have a place
        check_writable(d)
    env = kernel_env(profile)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # inherited by the kernel papermill starts
    running = dirs["build"] / f"{name}.running.ipynb"
    log = logging.getLogger("papermill")
    handler = logging.FileHandler(dirs["build"] / f"{name}.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    print(f"[{profile}] {name}: running -> {config.shown(out)} (log: {config.shown(Path(handler.baseFilename))})",
          flush=True)
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(src, running, parameters=params, kernel_name="python3",
                            cwd=str(config.NOTEBOOKS_DIR), execution_timeout=timeout,
                            progress_bar=False, log_output=True, report_mode=False,
                            kernel_manager_class=_ipc_kernel_manager())
    except BaseException as exc:
        failed = dirs["build"] / f"{name}.failed.ipynb"
        if running.exists():
            os.replace(running, failed)
        print(f"[{profile}] {name}: FAILED after {time.perf_counter() - t0:.1f} s; executed "
              f"copy at {config.shown(failed)}, log at {config.shown(Path(handler.baseFilename))}",
              file=sys.stderr, flush=True)
        if isinstance(exc, pm.PapermillExecutionError):
            raise notebook_error(name, exc, failed) from exc
        raise
    finally:
        log.removeHandler(handler)
        handler.close()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    wall = time.perf_counter() - t0
    os.replace(running, out)
    _record(profile, name, digest, params, wall, new_run=name == notebook_names()[0])
    print(f"[{profile}] {name}: done in {wall:.1f} s", flush=True)
    print_summary(name, profile)
    return wall


def notebook_error(name: str, exc: Any, executed: Path) -> HarError:
    """A failed notebook's kernel error as a :class:`HarError` (traceback: the executed copy)."""
    evalue = str(exc.evalue).strip()
    inner = "\n".join(f"    {line}" for line in evalue.splitlines())
    cell = f"cell [{exc.exec_count}]" if exc.exec_count else f"cell {exc.cell_index}"
    return HarError(
        None, f"notebook {name} stopped in {cell} with {exc.ename}:\n{inner}",
        ("as its message says above" if "Fix:" in evalue
         else "see the traceback in the executed copy")
        + f"; the executed copy, traceback included: {config.shown(executed)}")


def print_summary(name: str, profile: str) -> None:
    """Print the headline results a notebook wrote, if it has a console summary."""
    from .reporting.report import CONSOLE

    if name in CONSOLE:
        text = CONSOLE[name](output_dirs(profile)["results"])
        print("\n".join(f"[{profile}] {name}: {line}" for line in text.splitlines()), flush=True)


def _data_provenance(profile: str) -> dict[str, Any] | None:
    path = output_dirs(profile)["results"] / "data_summary.json"
    if not path.exists():
        return None
    p = json.loads(path.read_text())["provenance"]
    keep = ("source", "source_label", "archive_sha256", "resource_sha256", "package_version",
            "preprocessing", "cache")
    return {k: p[k] for k in keep if k in p}


def _record(profile: str, name: str, digest: str, params: dict[str, Any], wall: float,
            new_run: bool = False) -> None:
    """Record a finished notebook in the manifest; ``new_run`` (the first notebook ran again)
    gives the run a new id, so a published run id names one execution of the data step."""
    manifest = load_manifest(profile)
    if new_run:
        manifest["run_id"] = uuid.uuid4().hex[:12]
    env = environment()
    manifest.update({"git": env["git"], "python": env["python"], "packages": env["packages"],
                     "platform": env["platform"], "cpu_count": os.cpu_count(),
                     "data": _data_provenance(profile),
                     "seed": params.get("SEED", manifest.get("seed")),
                     "set": os.environ.get("HAR_SET", "")})
    manifest["notebooks"][name] = {
        "input_hash": digest, "parameters": params, "backend": kernel_backend(name),
        "wall_seconds": round(wall, 2),
        "finished_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": env["git"]["commit"]}
    write_json_atomic(_manifest_path(profile), manifest)


def run(names: list[str] | None, profile: str, *, force: bool = False, timeout: int = 3600) -> float:
    """Run ``names`` (default: all notebooks) in pipeline order; return total execution time."""
    order = notebook_names()
    names = order if not names else names
    unknown = sorted(set(names) - set(order))
    if unknown:
        raise HarError(None, f"unknown notebook(s) {unknown}",
                       f"choose from {order} (study notebooks: `har study`)")
    hashes = chain_hashes(profile)
    total, t0 = 0.0, time.perf_counter()
    for i, name in enumerate(n for n in order if n in names):
        print(f"[{profile}] ({i + 1}/{len(names)}) {name}", flush=True)
        total += run_notebook(name, profile, hashes[name], force=force, timeout=timeout)
    print(f"[{profile}] all done: {len(names)} notebook(s), {total:.1f} s of execution, "
          f"{time.perf_counter() - t0:.1f} s wall")
    return total


def run_study(name: str, profile: str, *, force: bool = False, timeout: int | None = None
              ) -> float:
    """Run a study notebook (no upstream notebooks; no cell time limit by default)."""
    if name not in constants.STUDY_NOTEBOOKS:
        raise HarError(None, f"{name} is not a study notebook",
                       f"choose from {list(constants.STUDY_NOTEBOOKS)} (pipeline notebooks: "
                       "`har run`)")
    digest = input_hash(config.NOTEBOOKS_DIR / f"{name}.ipynb", notebook_params(profile, name))
    return run_notebook(name, profile, digest, force=force, timeout=timeout)


# --- publishing ---------------------------------------------------------------------------

def clean_notebook(nb: dict[str, Any], run_id: str, profile: str) -> dict[str, Any]:
    """An executed notebook made diffable (outputs kept, run metadata stripped), run id recorded."""
    import nbformat
    from nbconvert.preprocessors import ClearMetadataPreprocessor

    node = nbformat.from_dict(nb)
    node.cells = [c for c in node.cells
                  if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    node, _ = ClearMetadataPreprocessor(
        preserve_cell_metadata_mask={"tags"},
        preserve_nb_metadata_mask={"kernelspec", "language_info"}).preprocess(node, {})
    for c in node.cells:
        # the preprocessor clears code cells only
        c.metadata = {k: v for k, v in c.metadata.items() if k == "tags"}
        if c.cell_type == "code":
            c.execution_count = None
            for o in c.outputs:
                if "execution_count" in o:
                    o.execution_count = None
    node.metadata["har"] = {"run_id": run_id, "profile": profile}
    return json.loads(json.dumps(node))


def _write_published(src: Path, dest: Path, run_id: str, profile: str) -> None:
    """Write ``src`` to ``dest`` atomically, cleaned by :func:`clean_notebook`."""
    clean = clean_notebook(json.loads(src.read_text()), run_id, profile)
    with atomic_write(dest, "w") as f:
        f.write(json.dumps(clean, indent=1, ensure_ascii=False) + "\n")


#: Committed results written by other commands than the notebook run (benchmarks, studies).
NOT_FROM_THE_RUN = ("results/manifest.json", "results/benchmarks/", "results/zoo/",
                    "results/zoo/summary.json", "results/ablations/", "figures/ablations/",
                    "results/runs/", "results/cv/", "results/deploy/", "figures/fig8_",
                    "figures/fig9_", "results/beyond/", "figures/beyond_", "results/small/",
                    f"results/models/{constants.BEYOND_MODEL}.",
                    f"results/models/{constants.SMALL_MODEL}.")


def output_checksums(root: Path | None = None) -> dict[str, str]:
    """SHA-256 of every committed result and figure the notebook run wrote, under ``root``."""
    root = config.PROJECT_ROOT if root is None else root
    out = {}
    for folder in (root / "results", root / "figures"):
        for f in sorted(folder.rglob("*")):
            rel = str(f.relative_to(root))
            if f.is_file() and not f.name.startswith(".") and not rel.startswith(NOT_FROM_THE_RUN):
                out[rel] = sha256_file(f)
    return out


def publish(profile: str = config.PUBLISHED_PROFILE) -> Path:
    """Copy a finished, current ``paper`` run into the committed notebooks and manifest."""
    if profile != config.PUBLISHED_PROFILE:
        raise HarError(None, f"the profile {profile!r} is not published",
                       f"publish the '{config.PUBLISHED_PROFILE}' profile (`make publish`)")
    manifest = load_manifest(profile)
    hashes = chain_hashes(profile, manifest.get("set", ""))  # with the run's own --set values
    names, build = notebook_names(), output_dirs(profile)["build"]
    stale = [n for n in names if manifest["notebooks"].get(n, {}).get("input_hash") != hashes[n]
             or not (build / f"{n}.ipynb").exists()]
    if stale:
        raise HarError(build, f"the {profile} run is missing or out of date for {stale}",
                       "run `make reproduce` first")
    for name in names:
        _write_published(build / f"{name}.ipynb", config.NOTEBOOKS_DIR / f"{name}.ipynb",
                         manifest["run_id"], profile)
    smoke = load_manifest("smoke")["notebooks"]
    smoke_times = {n: smoke[n]["wall_seconds"] for n in names if n in smoke}
    published = {**manifest, "notebooks": {n: manifest["notebooks"][n] for n in names},
                 "outputs": output_checksums(), "smoke_wall_seconds": smoke_times,
                 "published_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    path = config.PROJECT_ROOT / "results" / "manifest.json"
    write_json_atomic(path, published)
    print(f"published run {manifest['run_id']}: {len(names)} notebooks, "
          f"{len(published['outputs'])} result and figure files -> {path}")
    return path


def publish_study(name: str, profile: str) -> Path:
    """Copy a full study's executed notebook into ``notebooks/``, cleaned like the paper run."""
    full = dict(zip(constants.STUDY_NOTEBOOKS, constants.STUDY_PROFILES))
    if full.get(name) != profile:
        raise HarError(None, f"{name} with profile {profile} is not a full study run",
                       f"publish one of {full} (notebook: profile)")
    src = output_dirs(profile)["build"] / f"{name}.ipynb"
    if not src.exists():
        raise HarError(src, "the executed study notebook does not exist",
                       f"run the study first (`har study {name} --profile {profile}`)")
    source = config.NOTEBOOKS_DIR / f"{name}.ipynb"
    if _code_of(src) != _code_of(source):
        raise HarError(src, f"it was run from other code than {config.shown(source)}",
                       f"run the study again (`har study {name} --profile {profile} "
                       "--force`)")
    _write_published(src, source, load_manifest(profile)["run_id"], profile)
    print(f"published {src} -> {source}")
    return source

