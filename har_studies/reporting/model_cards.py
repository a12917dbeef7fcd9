"""Model cards of the models ``har predict`` ships: ``docs/model_cards/<name>.md`` (block
``card-<name>``) and their index (block ``model-cards`` of docs/deployment.md). Every number is
read from a results file when the block renders (the units checks' thresholds from the code of
:mod:`..deploy.predict`); a model whose results are missing renders the make targets that
produce them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from har_utils import config

from .blocks import pd_frame
from .report import markdown_table, read_result

#: What each card is about and the make targets that write its results files.
MODELS: dict[str, dict[str, str]] = {
    "cnn_lstm_paper": {"what": "the paper's CNN-LSTM (the paper's path, notebook 04)",
                       "make": "`make reproduce`"},
    "beyond": {"what": "the beyond study's chosen configuration, an averaged ensemble",
               "make": "`make beyond`, then `make beyond-final`"},
    "small": {"what": "the watch model: a small CNN whose int8 file fits a watch's budget",
              "make": "`make small`, then `make small-final`"}}
#: Ages of the volunteers, from the dataset's own description (no results file holds them).
VOLUNTEER_AGES = "19-48"
#: The quantisations set against the float model (TFLite files with a batch of 1).
QUANTISATIONS = ("float32", "dynamic", "int8", "int16x8")
NOT_MEASURED = "not measured yet (run `make deploy`)"
#: The test subjects notebook 09 looks into (docs/beyond.md).
HARD_SUBJECTS = ("9", "10")


def pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def backend_of(record: dict[str, Any]) -> str | None:
    """``jax 0.10.2 (CPU)`` from a history's ``backend`` (a dict, or a name in older files)."""
    b = record.get("backend")
    if isinstance(b, dict):
        return f"{b['backend']} {b.get('version', '')}".strip() + (
            f" ({b['device']})" if b.get("device") else "")
    return b


def settings(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items()) or "none"


def facts(name: str, results: Path) -> dict[str, Any]:
    """What a card says of ``name``, read from its results files; ``{"missing": [...]}`` when
    one of them has not been written."""
    b = read_result("deploy/benchmark.json", results) or {}
    bench = next((r for r in b.get("models", []) if r["model"] == name), None)
    if name == "cnn_lstm_paper":
        files = ["evaluation_cnn_lstm_paper.json", "training_cnn_lstm_paper.json"]
        ev, tr = (read_result(f, results) for f in files)
        if ev is None or tr is None:
            return {"missing": [f for f, d in zip(files, (ev, tr)) if d is None]}
        ms = read_result("model_summary.json", results)
        ms = ms if ms and ms.get("model") == name else None
        history = read_result("models/cnn_lstm_paper.history.json", results) or {}
        cfg = tr["config"]
        files += ["model_summary.json"] * bool(ms)
        f = {"data": ev["data"], "files": files, "n_classes": len(ev["test"]["labels"]),
             "parameters": (ms or {}).get("parameters") or tr.get("parameters"),
             "parameters_from": "`results/model_summary.json`" if ms else "the training record",
             "epochs": f"{tr['epochs_run']} (chosen by {tr['epochs_from']})",
             "recipe": f"{cfg['optimizer']} at learning rate {cfg['learning_rate']:g}, batches of "
                       f"{cfg['batch_size']}, augmentation: {cfg['augment']}, standardised "
                       f"inputs: {'yes' if cfg['standardize'] else 'no'}; on the "
                       f"{tr['n_fit']:,} windows of the training subjects, "
                       f"{tr['seconds']:.0f} s on {tr['threads']} CPU thread"
                       + ("s" if tr["threads"] != 1 else ""),
             "backend": backend_of(tr) or backend_of(history),
             "shipped": ev["test"]["accuracy"], "shipped_what": "",
             "ci": ev["test_ci95_subject_bootstrap"], "ci_what": "",
             "per_subject": {s: v["accuracy"] for s, v in ev["test"]["per_subject"].items()},
             "per_subject_what": "the shipped model"}
        if ms:
            h, types = ms["hyperparameters"], [layer["type"] for layer in ms["layers"]]
            f["architecture"] = (
                f"the window cut into {h['n_subsequences']} sub-sequences, each through "
                f"{sum('Conv1D' in t for t in types)} Conv1D layers ({h['filters']} filters, "
                f"kernel {h['kernel_size']}) with max pooling, then "
                f"{sum(t == 'LSTM' for t in types)} LSTM layers ({h['lstm_units']} units), a "
                f"dense layer ({h['dense_units']} units)")
        else:
            f["architecture"] = "`cnn_lstm_paper` (results/model_summary.json not written)"
    else:
        files = [f"models/{name}.json", f"{name}/summary.json"]
        info, s = (read_result(f, results) for f in files)
        ch = (s or {}).get("chosen") or {}
        tested = (s or {}).get("tested") or None
        if name == "beyond" and tested:
            tested = tested.get(ch.get("name"))
        if info is None or tested is None:
            return {"missing": [f for f, d in zip(files, (info, s)) if d is None]
                    or [f"{name}/summary.json's test rows"]}
        k = tested["ensemble_seeds"]
        base = f"`{ch['model']}`" + (f" with {settings(ch['model_kwargs'])}"
                                     if ch["model_kwargs"] else "")
        f = {"data": info["data"], "files": files, "n_classes": len(config.ACTIVITY_NAMES),
             "parameters": (bench or {}).get("parameters"),
             "parameters_from": "the deployment benchmark's count of the Keras file",
             "architecture": (f"the averaged softmax of {k} {base} networks" if k > 1 else base)
             + f" (the candidate `{ch['name']}`" + (f": {ch['note']})" if ch.get("note") else ")"),
             "epochs": f"{ch['epochs']} (chosen on protocol cv's folds by the "
                       f"{s['epoch_rule']} rule; {pct(ch['score_all_folds'])} on all of them)",
             "recipe": f"the training settings of protocol cv's runs with {settings(ch['train'])}",
             "backend": ", ".join(tested["backends"]),
             "shipped": info["test_accuracy"],
             "shipped_what": (f" (seeds {', '.join(str(m['seed']) for m in info['members'])} "
                              "averaged)" if "members" in info else f" (seed {info['seed']})"),
             "runs": tested, "ci": tested["ci95_subject_bootstrap"],
             "ci_what": f" (the {tested['n']} final runs pooled)",
             "per_subject": tested["per_subject_accuracy_mean"],
             "per_subject_what": f"mean over the configuration's {tested['n']} final runs"}
        if "int8_bytes_untrained" in ch:
            f["int8_budget"] = (ch["int8_bytes_untrained"], s.get("size_limit_bytes"))
    f["bench"], f["benchmark"] = bench, b
    f["files"] += [x for x in ("deploy/benchmark.json", "data_summary.json")
                   if (results / x).exists()]
    return f


def missing_line(name: str, missing: list[str]) -> str:
    return (f"_Not yet produced: run {MODELS[name]['make']} (missing: "
            f"{', '.join(f'`results/{m}`' for m in missing)})._")


def card_block(name: str, results: Path) -> str:
    """Markdown: the model card of ``name`` (a key of :data:`MODELS`)."""
    f = facts(name, results)
    if "missing" in f:
        return missing_line(name, f["missing"])
    return "\n".join([*details(name, f), *training_data(f, results), *intended_use(),
                      *test_accuracy(f), *quantisation(f), *failure_modes(name, f)]).rstrip()


def details(name: str, f: dict[str, Any]) -> list[str]:
    bench = f["bench"]
    size = ("" if bench is None else
            f" ({bench['keras_file_bytes']:,} bytes, as the deployment benchmark read it)")
    budget = f.get("int8_budget")
    return ["## Model details", "",
            f"- **What:** {MODELS[name]['what']}; `har predict --model {name}`.",
            f"- **Architecture:** {f['architecture']}; out: a softmax over the {f['n_classes']} "
            "activities.",
            "- **Parameters:** " + (f"{f['parameters']:,} ({f['parameters_from']})."
                                    if f["parameters"] else NOT_MEASURED + "."),
            f"- **File:** `results/models/{name}.keras`{size}."
            + ("" if budget is None else
               f" Its int8 file, measured on an untrained build when it was chosen: "
               f"{budget[0]:,} bytes" + (f" (the limit: {budget[1]:,})." if budget[1] else ".")),
            f"- **Training:** {f['recipe']}; epochs: {f['epochs']}.",
            f"- **Backend:** Keras on {f['backend'] or 'a backend the record does not name'}.",
            "- **Read from:** " + ", ".join(f"`results/{x}`" for x in f["files"]) + ".", ""]


def training_data(f: dict[str, Any], results: Path) -> list[str]:
    d = f["data"]
    pre = d["preprocessing"]
    s = read_result("data_summary.json", results)
    subjects = (s or {}).get("subjects") or {"train": list(config.TRAIN_SUBJECTS),
                                             "test": list(config.TEST_SUBJECTS)}
    n = len(subjects["train"]) + len(subjects["test"])
    origin = ("rebuilt from the raw recordings of the same volunteers and phone (the HAPT "
              "release), not the official UCI HAR archive" if d["source"] == "hapt" else
              "the official UCI HAR archive")
    counts = (f" Windows: {s['windows']['train']:,} for training, {s['windows']['test']:,} for "
              f"testing." if s and s.get("source") == d["source"] else "")
    return ["## Training data", "",
            f"{n} volunteers aged {VOLUNTEER_AGES}, each with a smartphone worn at the waist; its "
            f"accelerometer and gyroscope recorded at {pre['fs']:g} Hz and cut into windows of "
            f"{pre['window']} samples ({pre['window'] / pre['fs']:g} s) every {pre['step']} "
            f"samples. Split by person: {len(subjects['train'])} training volunteers, "
            f"{len(subjects['test'])} test volunteers ({', '.join(map(str, subjects['test']))})."
            + counts, "",
            f"The results on this card come from the **{d['source_label']}** (`{d['source']}`, "
            f"SHA-256 `{d['checksum_sha256'][:12]}`): {origin} ([data.md](../data.md)).", ""]


def intended_use() -> list[str]:
    names = ", ".join(a.lower().replace("_", " ") for a in config.ACTIVITY_NAMES)
    return ["## Intended use", "",
            f"Research on recognising {len(config.ACTIVITY_NAMES)} activities ({names}) from "
            "a phone worn at the waist, recorded and windowed as above.", "",
            "Out of scope: medical diagnosis or any decision about a person; other body "
            "placements (wrist, pocket, hand) and other devices; recordings in other units than "
            "g and rad/s; postural transitions (sit-to-stand and the like) and any activity "
            "outside the six, which still get one of the six labels.", ""]


def test_accuracy(f: dict[str, Any]) -> list[str]:
    low, high = f["ci"]
    out = ["## Test accuracy", "",
           f"Test accuracy of the shipped model{f['shipped_what']}: **{pct(f['shipped'])}**."]
    r = f.get("runs")
    if r:
        runs = (f"{r['n']} ensembles of {r['ensemble_seeds']} seeds" if r["ensemble_seeds"] > 1
                else f"{r['n']} seeds")
        out[-1] += (f" The configuration over its final runs ({runs}): "
                    f"{pct(r['accuracy_mean'])} ± {pct(r['accuracy_std'])} (mean ± std).")
    per = f["per_subject"]
    worst = min(per, key=per.get)
    table = markdown_table(pd_frame([{"test subject": s, "accuracy %": 100 * per[s]}
                                     for s in sorted(per, key=int)]))
    return [*out, "",
            f"95 % interval from resampling test subjects{f['ci_what']}: {pct(low)} to "
            f"{pct(high)}. Worst test subject: **{worst}** at {pct(per[worst])}. Per test "
            f"subject ({f['per_subject_what']}):", "", table, ""]


def quantisation(f: dict[str, Any]) -> list[str]:
    out = ["## Float against int8", ""]
    r, b = f["bench"], f["benchmark"]
    if r is None:
        return [*out, f"File sizes and quantised accuracy: {NOT_MEASURED}.", ""]

    def num(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    rows = [{"variant": "Keras float32 (`.keras`)", "bytes": num(r["keras_file_bytes"], ","),
             "test accuracy %": num(r.get("keras_accuracy"), ".2f"), "points lost": "-"}]
    for q in QUANTISATIONS:
        e = r["tflite"].get(f"{q}_b1") or {}
        ok = bool(e.get("ok"))
        rows.append({"variant": f"TFLite {q}", "bytes": num(e.get("size_bytes"), ","),
                     "test accuracy %": num(e.get("accuracy"), ".2f") if ok else
                     NOT_MEASURED if not e else "skipped" if e.get("skipped") else "export failed",
                     "points lost": num(e.get("accuracy_lost_points"), ".2f")})
    return [*out, "From the deployment benchmark (`results/deploy/benchmark.json`, `make deploy`; "
                  f"test data: {b['data']['source_label']}), TFLite files with a batch of 1; "
                  "points lost against the Keras model:", "",
            markdown_table(pd_frame(rows), disable_numparse=True), ""]


def failure_modes(name: str, f: dict[str, Any]) -> list[str]:
    from ..deploy.predict import ACC_MEDIAN_BAND_G, MAX_GYRO_P95_RAD_S

    per = f["per_subject"]
    others = [v for s, v in per.items() if s not in HARD_SUBJECTS]
    out = ["## Known failure modes, as measured here", "",
           "- **How the phone sat.** Test subjects "
           + " and ".join(f"{s} ({pct(per[s])})" for s in HARD_SUBJECTS if s in per)
           + f" against {pct(sum(others) / len(others))} for the other test subjects on average "
             "(per-subject accuracy). Notebook 09 finds the paper model's errors on them mostly "
             "sitting against standing, and their phones turned or tilted outside the training "
             "subjects' range: it suggests, but does not prove, orientation as the cause "
             "([beyond.md](../beyond.md#why-subjects-9-and-10-fail-notebook-09-first-half))."]
    st = f["benchmark"].get("streaming")
    if st and st["model"] == name:
        z, c = st["pooled"]["zero_phase"], st["pooled"]["causal"]
        worst = min((e for e in st["per_experiment"]
                     if e["zero_phase"]["agreement_scored"] is not None),
                    key=lambda e: e["zero_phase"]["agreement_scored"])
        out.append(
            f"- **Postural transitions.** The model has no transition class. Classifying the test "
            f"subjects' whole recordings ({st['variant']}; {st['data']}), {z['excluded']:,} of "
            f"{z['windows']:,} "
            f"windows hold a transition or unlabelled sample and are left out; on the other "
            f"{z['scored']:,} it agrees with the labels on {pct(z['agreement_scored'])} "
            f"(zero-phase filtering; causal, as a live stream: {pct(c['agreement_scored'])}), "
            f"worst in subject {worst['subject']}'s recording {worst['number']} "
            f"({pct(worst['zero_phase']['agreement_scored'])}). See "
            "[deployment.md](../deployment.md) for the streaming timeline.")
    else:
        measured = f"`{st['model']}` only" if st else "no model yet"
        out.append("- **Postural transitions.** The model has no transition class: a window "
                   "during a transition gets one of the six labels. The streaming check of the "
                   f"deployment benchmark measured {measured}; for this model it is not "
                   "measured.")
    low, high = ACC_MEDIAN_BAND_G
    out.append(f"- **Other units.** Trained on acceleration in g with gravity and a gyroscope in "
               f"rad/s. `har predict` refuses a recording whose median acceleration magnitude "
               f"lies outside {low:g}-{high:g} g (m/s², gravity removed, zeros) or whose "
               f"gyroscope magnitude has a 95th percentile above {MAX_GYRO_P95_RAD_S:g} rad/s "
               "(deg/s); a still recording in deg/s passes unnoticed "
               "([reliability.md](../reliability.md)).")
    return out


def index_block(results: Path) -> str:
    """Markdown: one row per model card, with the shipped model's test accuracy."""
    rows = []
    for name, m in MODELS.items():
        f = facts(name, results)
        rows.append({"model": f"[`{name}`](model_cards/{name}.md)", "what": m["what"],
                     "data": "-" if "missing" in f else f["data"]["source_label"],
                     "test accuracy (shipped model)":
                         f"not yet produced: run {m['make']}" if "missing" in f
                         else pct(f["shipped"])})
    return markdown_table(pd_frame(rows), disable_numparse=True)
