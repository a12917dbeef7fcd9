"""Notebook conventions, the papermill runner's staleness hash, profiles, and the generated blocks
and links of README.md and docs/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from har_studies import pipeline
from har_studies import constants
from har_utils import config
from har_utils.io import HarError
from har_studies.reporting import blocks, docs

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))


def cells(nb: Path) -> list[dict]:
    return json.loads(nb.read_text())["cells"]


def test_the_six_notebooks_are_the_pipeline() -> None:
    six = ["01_data", "02_eda_tsne", "03_model", "04_training", "05_evaluation", "06_comparison"]
    assert [p.stem for p in NOTEBOOKS if p.stem not in constants.STUDY_NOTEBOOKS] == six
    assert pipeline.notebook_names() == six
    assert {p.stem for p in NOTEBOOKS} - set(six) == set(constants.STUDY_NOTEBOOKS)


def test_study_notebooks_have_their_own_profiles() -> None:
    """07 opened and run top to bottom renders the committed study (it trains only when its
    STAGE asks); its smoke form runs every stage of the smoke plan under build/, never results/."""
    declared = pipeline.declared_parameters("07_ablations")
    full = pipeline.notebook_params("ablations", "07_ablations")
    assert set(full) == set(declared)
    for name, value in full.items():
        assert eval(declared[name]) == value, f"07_ablations: {name} default differs from ablations.yml"
    smoke = pipeline.notebook_params("ablations_smoke", "07_ablations")
    assert full["STAGE"] == "none" and not full["SMOKE"]
    assert smoke["STAGE"] == "all" and smoke["SMOKE"] is True
    assert pipeline.output_dirs("ablations")["results"] == config.PROJECT_ROOT / "results"
    assert pipeline.output_dirs("ablations_smoke")["results"].is_relative_to(config.BUILD_DIR)
    with pytest.raises(HarError, match="not a study notebook"):
        pipeline.run_study("01_data", "smoke")
    declared = pipeline.declared_parameters("08_deployment")
    for name, value in pipeline.notebook_params("deploy", "08_deployment").items():
        assert eval(declared[name]) == value, f"08_deployment: {name} default differs from deploy.yml"
    assert pipeline.output_dirs("deploy")["results"] == config.PROJECT_ROOT / "results"
    assert pipeline.output_dirs("deploy_smoke")["results"].is_relative_to(config.BUILD_DIR)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_conventions(nb: Path) -> None:
    cs = cells(nb)
    assert cs[0]["cell_type"] == "markdown" and "".join(cs[0]["source"]).startswith("# ")
    assert any("## Setup" in "".join(c["source"]) for c in cs if c["cell_type"] == "markdown")
    tagged = [c for c in cs if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    for line in "".join(tagged[0]["source"]).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]* = (\"[^\"]*\"|-?[\d.e+-]+|True|False)", line), line
    code = "\n".join("".join(c["source"]) for c in cs if c["cell_type"] == "code")
    assert "os.chdir" not in code
    assert not re.search(r"if\s+.*\bCI\b", code), "no CI branches in notebooks"


@pytest.mark.parametrize("profile", ["paper", "smoke"])
def test_profiles_give_every_notebook_scalar_parameters_it_declares(profile: str) -> None:
    for nb in NOTEBOOKS:
        params = pipeline.notebook_params(profile, nb.stem)
        declared = pipeline.declared_parameters(nb.stem)
        assert set(params) <= set(declared), f"{profile} sets parameters {nb.stem} does not declare"


def test_notebook_defaults_are_the_paper_profile() -> None:
    """Opened in JupyterLab and run top to bottom, a notebook reproduces the paper profile."""
    for nb in NOTEBOOKS:
        declared = pipeline.declared_parameters(nb.stem)
        for name, value in pipeline.notebook_params("paper", nb.stem).items():
            assert eval(declared[name]) == value, f"{nb.stem}: {name} default differs from paper.yml"


def test_a_profile_typo_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "load_profile", lambda _p: {"01_data": {"SEEED": 1}})
    with pytest.raises(HarError, match=r"01_data has no parameter SEEED"):
        pipeline.notebook_params("x", "01_data")


def test_smoke_differs_from_paper_only_where_it_should() -> None:
    diffs = {(nb.stem, k) for nb in NOTEBOOKS
             for k, v in pipeline.notebook_params("smoke", nb.stem).items()
             if pipeline.notebook_params("paper", nb.stem).get(k) != v}
    assert diffs == {("02_eda_tsne", "TSNE_SAMPLES"), ("04_training", "EPOCHS")}
    deploy = {k for k, v in pipeline.notebook_params("deploy_smoke", "08_deployment").items()
              if pipeline.notebook_params("deploy", "08_deployment").get(k) != v}
    assert deploy == {"MODEL_DIR", "MODELS", "REPEATS_SINGLE", "REPEATS_BIG", "DAY_HOURS"}


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(HarError, match="no such profile"):
        pipeline.load_profile("nope")


def test_input_hash_follows_code_and_parameters_not_outputs(tmp_path: Path) -> None:
    nb = json.loads(NOTEBOOKS[0].read_text())
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    h0 = pipeline.input_hash(path, {"SEED": 0})
    assert pipeline.input_hash(path, {"SEED": 0}) == h0
    assert pipeline.input_hash(path, {"SEED": 1}) != h0
    nb["cells"][-1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    nb["cells"][-1]["execution_count"] = 7
    path.write_text(json.dumps(nb))
    assert pipeline.input_hash(path, {"SEED": 0}) == h0, "outputs must not change the hash"
    nb["cells"][-1]["source"] = "print('changed')"
    path.write_text(json.dumps(nb))
    assert pipeline.input_hash(path, {"SEED": 0}) != h0


def test_the_keras_backend_is_part_of_every_notebooks_hash(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """A run trained with KERAS_BACKEND=tensorflow is not "up to date" on JAX, nor the reverse;
    the kernel starts on the backend the hash names; notebook 08 always runs on TensorFlow."""
    from har_utils import backend

    path = NOTEBOOKS[0]
    jax, tf = (pipeline.input_hash(path, {"SEED": 0}, package="p", keras_backend=b)
               for b in ("jax", "tensorflow"))
    assert jax != tf
    assert pipeline.input_hash(path, {"SEED": 0}, package="p") == (
        jax if pipeline.kernel_backend() == "jax" else tf)
    monkeypatch.setattr(backend, "current", lambda: "jax")
    on_jax = pipeline.chain_hashes("smoke")
    assert pipeline.kernel_env("smoke")["KERAS_BACKEND"] == "jax"
    deploy = config.NOTEBOOKS_DIR / "08_deployment.ipynb"  # exports on TensorFlow whatever runs
    assert pipeline.input_hash(deploy, {}, package="p") == pipeline.input_hash(
        deploy, {}, package="p", keras_backend="tensorflow")
    monkeypatch.setattr(backend, "current", lambda: "tensorflow")
    on_tf = pipeline.chain_hashes("smoke")
    assert all(on_jax[n] != on_tf[n] for n in on_jax)
    assert pipeline.kernel_env("smoke")["KERAS_BACKEND"] == "tensorflow"


def test_the_manifest_and_the_training_record_name_the_backend(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ast

    from har_utils import backend, training

    monkeypatch.setattr(config, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(backend, "current", lambda: "tensorflow")
    pipeline._record("scratch", "04_training", "h", {"SEED": 0}, 1.0)
    monkeypatch.setattr(backend, "current", lambda: "jax")
    pipeline._record("scratch", "08_deployment", "h", {}, 1.0)
    entries = pipeline.load_manifest("scratch")["notebooks"]
    assert entries["04_training"]["backend"] == entries["08_deployment"]["backend"] == "tensorflow"
    # notebook 04's training record: the backend its model trained on (save_run records it);
    # histories written before that say nothing, and the record says None
    code = "\n".join("".join(c["source"]) for c in cells(config.NOTEBOOKS_DIR / "04_training.ipynb")
                     if c["cell_type"] == "code")
    [record] = [n.args[1] for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call)
                and getattr(n.func, "id", "") == "write_json_atomic"
                and "training_" in ast.unparse(n.args[0])]
    fields = {k.value: ast.unparse(v) for k, v in zip(record.keys, record.values)
              if isinstance(k, ast.Constant)}
    assert fields["backend"] == "training.trained_on(run)"
    assert training.trained_on({"backend": {"backend": "jax", "version": "0.10.2"}}) == "jax"
    assert training.trained_on({"backend": "tensorflow"}) == "tensorflow"
    assert training.trained_on({"history": {}}) is None
    published = json.loads((config.COMMITTED_RESULTS_DIR / "models" /
                            "cnn_lstm_paper.history.json").read_text())
    assert training.trained_on(published) == "jax"


def test_only_the_paper_profile_writes_committed_outputs() -> None:
    assert pipeline.output_dirs("paper")["results"] == config.PROJECT_ROOT / "results"
    smoke = pipeline.output_dirs("smoke")
    assert smoke["results"].is_relative_to(config.BUILD_DIR / "smoke")
    assert smoke["figures"].is_relative_to(config.BUILD_DIR / "smoke")


def test_readme_and_docs_blocks_match_the_committed_results(committed: Path) -> None:
    # the committed files (git HEAD): a `make reproduce` here, not yet published, may differ
    files = docs.doc_files(committed)
    assert len(files) > 1, "docs/*.md: no pages"
    texts = {f: f.read_text() for f in files}
    used = {name for text in texts.values() for name in docs.block_names(text)}
    assert used == set(docs.BLOCKS), f"blocks in no file: {set(docs.BLOCKS) - used}"
    for path, text in texts.items():
        rendered = docs.render(text, committed / "results")
        assert rendered == text, (f"the committed {path.name} is out of date with the committed "
                                  "results/: run `make readme`, then commit")


def test_readme_is_a_map_of_at_most_200_lines() -> None:
    readme = (config.PROJECT_ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    for page in docs.doc_files()[1:]:
        if page.parent.name == "docs":  # the model cards: linked from docs/deployment.md
            assert f"(docs/{page.name})" in readme, f"README does not link {page.name}"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def test_every_relative_link_points_to_a_file_and_heading() -> None:
    checked = 0
    for page in docs.doc_files():
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            assert dest.exists(), f"{page.name}: link to {target}: no such file"
            if anchor:
                assert dest.suffix == ".md", f"{page.name}: anchor into {target}"
                headings = {github_anchor(h) for h in
                            re.findall(r"^#+\s+(.*)$", dest.read_text(), flags=re.M)}
                assert anchor in headings, f"{page.name}: link to {target}: no such heading"
            checked += 1
    assert checked > 10


def layout_tree_files(text: str) -> set[str]:
    """The files the ```text tree of docs/layout.md names, as paths from the project's root
    (its top level: the two packages' folders)."""
    tree = text.split("```text\n", 1)[1].split("```", 1)[0]
    files, stack = set(), []
    for line in tree.splitlines():
        name = line.strip().split()[0] if line.strip() else ""
        if not name or name.startswith("#"):
            continue
        stack = stack[:(len(line) - len(line.lstrip())) // 2]
        if name.endswith("/"):
            stack.append(name.rstrip("/"))
        elif name.endswith(".py"):
            files.add("/".join([*stack, name]))
    return files


def test_the_layout_tree_names_every_module_and_only_those() -> None:
    named = layout_tree_files((config.PROJECT_ROOT / "docs" / "layout.md").read_text())
    actual = {p.relative_to(config.PROJECT_ROOT).as_posix()
              for package in ("har_utils", "har_studies")
              for p in (config.PROJECT_ROOT / package).rglob("*.py") if "__pycache__" not in p.parts}
    assert named == actual, (f"docs/layout.md's tree lacks {sorted(actual - named)} and names "
                             f"{sorted(named - actual)}, which do not exist")


def test_a_block_without_a_renderer_is_an_error() -> None:
    with pytest.raises(KeyError, match="nosuch"):
        docs.render("<!-- BEGIN nosuch -->\n<!-- END nosuch -->")


def test_readme_block_renders_from_a_summary(tmp_path: Path) -> None:
    summary = {"source": "hapt", "source_label": "HAPT rebuild",
               "windows": {"train": 7415, "test": 2996},
               "fidelity": {"overall": {"official": 10299, "rebuilt": 10411, "total_diff": 112,
                                        "cells_exact": 105, "cells": 180},
                            "per_split": {"train": {"official": 7352}, "test": {"official": 2947}},
                            "per_activity": {"WALKING": {"official": 1722, "rebuilt": 1722,
                                                         "total_diff": 0, "cells_exact": 30}}}}
    (tmp_path / "data_summary.json").write_text(json.dumps(summary))
    text = docs.render("<!-- BEGIN data -->\nold\n<!-- END data -->", tmp_path)
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| WALKING")]
    assert "7,415 training" in text and rows == [["WALKING", "1,722", "1,722", "+0", "30"]]
    assert "105 of 180" in text and "old" not in text


@pytest.mark.realdata
def test_data_benchmark_prints_and_writes_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, str(config.PROJECT_ROOT / "benchmarks" / "bench_data.py"),
                        "--repeats", "1", "--out", str(out)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "cached s" in r.stdout
    b = json.loads(out.read_text())
    assert b["windows"] > 10000 and b["cold_median_s"] > b["cached_median_s"] > 0


def test_the_run_id_is_renewed_when_the_data_step_runs_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path)
    first, second = pipeline.notebook_names()[:2]
    pipeline._record("scratch", first, "h1", {"SEED": 0}, 1.0, new_run=True)
    run_id = pipeline.load_manifest("scratch")["run_id"]
    pipeline._record("scratch", second, "h2", {"SEED": 0}, 1.0)
    assert pipeline.load_manifest("scratch")["run_id"] == run_id  # a later notebook keeps it
    pipeline._record("scratch", first, "h1", {"SEED": 0}, 1.0, new_run=True)
    assert pipeline.load_manifest("scratch")["run_id"] != run_id


def test_benchmarks_block_renders_what_the_benchmarks_wrote(tmp_path: Path) -> None:
    assert "No benchmark has run yet" in blocks.benchmarks_block(tmp_path)
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "training_loop.json").write_text(json.dumps({
        "model": "m", "fit_windows": 80, "val_windows": 20, "epochs": 3, "loop_median_s": 10.0,
        "bare_median_s": 9.5, "ratio_loop_over_bare": 10 / 9.5, "target_ratio": 1.05,
        "repeats": 3, "cpu_count": 2}))
    block = blocks.benchmarks_block(tmp_path)
    assert "ratio 1.053 (target <= 1.05)" in block and "100 windows" in block


def test_a_full_study_run_is_published_cleaned_with_its_code_unchanged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name, profile = constants.STUDY_NOTEBOOKS[0], constants.STUDY_PROFILES[0]
    src = config.NOTEBOOKS_DIR / f"{name}.ipynb"
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path / "build")
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", tmp_path / "notebooks")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / src.name).write_text(src.read_text())
    with pytest.raises(HarError, match="run the study first"):
        pipeline.publish_study(name, profile)
    with pytest.raises(HarError, match="not a full study run"):
        pipeline.publish_study(name, "ablations_smoke")
    nb = json.loads(src.read_text())
    injected = {"cell_type": "code", "execution_count": 3, "metadata": {
        "tags": ["injected-parameters"]}, "outputs": [], "source": ["SEEDS = 3\n"]}
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            c["execution_count"] = 7
            c["metadata"]["papermill"] = {"duration": 1.0}
            c["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ran\n"]}]
    nb["cells"].insert(1, injected)
    nb["metadata"]["papermill"] = {"parameters": {}}
    out = tmp_path / "build" / profile / src.name
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps(nb))
    dest = pipeline.publish_study(name, profile)
    pub = json.loads(dest.read_text())
    assert pipeline._code_of(dest) == pipeline._code_of(src)
    assert "papermill" not in pub["metadata"] and pub["metadata"]["har"]["profile"] == profile
    code = [c for c in pub["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is None and c["outputs"][0]["text"] == ["ran\n"] for c in code)
    # a run of other code is refused
    nb["cells"][-1]["source"] = ["print('changed')\n"]
    out.write_text(json.dumps(nb))
    with pytest.raises(HarError, match="other code"):
        pipeline.publish_study(name, profile)


def test_a_change_reruns_only_the_notebooks_it_can_affect(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    pkg = tmp_path / "har_utils"
    shutil.copytree(config.PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(config, "PACKAGE_DIR", pkg)
    files = {n: pipeline.notebook_dependencies(n) for n in pipeline.notebook_names()}
    outside = {n: [str(f) for f in fs if not f.is_relative_to(pkg)] for n, fs in files.items()}
    assert outside == {n: [] for n in files}, "notebooks 01-06 run the core only, no study code"
    deps = {n: {str(f.relative_to(pkg)) for f in fs} for n, fs in files.items()}
    assert not {f for f in deps["01_data"] | deps["03_model"] if f.startswith("training/")}
    assert {"training/__init__.py", "training/loop.py", "models.py",
            "data/__init__.py"} <= deps["04_training"]
    assert "resources/paper_reported.json" in deps["03_model"]
    before = pipeline.chain_hashes("paper")

    def changed(rel: str) -> set[str]:
        (pkg / rel).write_text((pkg / rel).read_text() + "\n# edited\n")
        after = pipeline.chain_hashes("paper")
        return {n for n in after if after[n] != before[n]}

    assert changed("eda.py") == {"02_eda_tsne"}
    before = pipeline.chain_hashes("paper")
    assert changed("training/loop.py") == {"04_training", "05_evaluation", "06_comparison"}
    before = pipeline.chain_hashes("paper")
    uci = changed("data/uci.py")
    assert uci >= {"01_data", "02_eda_tsne", "04_training"}  # 03 too: its CHANNELS are data's names


def test_commands_block_shows_fresh_clone_times_of_commands_that_succeeded(tmp_path: Path
                                                                            ) -> None:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({
        "run_id": "abc", "cpu_count": 2, "smoke_wall_seconds": {},
        "notebooks": {"01_data": {"wall_seconds": 10.0}, "04_training": {"wall_seconds": 50.0}}}))
    (tmp_path / "benchmarks" / "fresh_clone.json").write_text(json.dumps({
        "commit": "0123456789abcdef", "packages_from": "packages from the network",
        "commands": [{"command": "make reproduce", "wall_seconds": 321.0, "exit_status": 0},
                     {"command": "make deploy", "wall_seconds": 99.0, "exit_status": 2}]}))
    text = blocks.commands_block(tmp_path)
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in text.splitlines() if line.startswith("| `")}
    assert rows["`make reproduce`"][1:] == ["60 s", "321 s"]
    assert rows["`make deploy`"][-1] == "-", "a command that failed shows no time"
    assert "commit `0123456`" in text and "packages from the network" in text
    (tmp_path / "benchmarks" / "fresh_clone.json").unlink()
    assert "fresh clone" not in blocks.commands_block(tmp_path).split("\n")[0]
    assert "--set" not in blocks.commands_block(tmp_path) + blocks.timings_block(tmp_path)
    # a run that loaded the published model says so beside its times
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest,
                                                        "set": "04_training.TRAIN=false"}))
    for block in (blocks.commands_block(tmp_path), blocks.timings_block(tmp_path)):
        assert "`--set 04_training.TRAIN=false`: notebook 04 loaded the published model" in block


def test_the_makefile_leaves_out_the_study_notebooks_config_names() -> None:
    """`make reproduce` runs the notebooks the Makefile does not list as studies: the same list
    as ``constants.STUDY_NOTEBOOKS`` (a study notebook left out there breaks `make reproduce`)."""
    text = (config.PROJECT_ROOT / "Makefile").read_text()
    [line] = [x for x in text.splitlines() if x.startswith("STUDY_NOTEBOOKS :=")]
    assert tuple(line.split(":=", 1)[1].split()) == constants.STUDY_NOTEBOOKS
