"""Tables of a deployment benchmark result (notebook 08, ``benchmarks/bench_deploy.py``, the
README's deployment block) and notebook 08's latency figure."""

from __future__ import annotations

from typing import Any

import pandas as pd


def profile_table(result: dict[str, Any]) -> pd.DataFrame:
    """Where the benchmark's time went: seconds per model and stage, largest first."""
    rows = [{"model": r["model"], "stage": stage, "seconds": sec}
            for r in result["models"] for stage, sec in r.get("profile_s", {}).items()]
    if not rows:
        return pd.DataFrame(columns=["model", "stage", "seconds"])
    return pd.DataFrame(rows).sort_values("seconds", ascending=False, ignore_index=True)


def variants_table(result: dict[str, Any]) -> pd.DataFrame:
    """One row per (model, variant): bytes, latency, throughput, accuracy and points lost."""
    big = str(result["big_batch"])
    rows = []
    for r in result["models"]:
        flops = r["flops"].get("flops")
        base = {"model": r["model"], "parameters": r["parameters"],
                "MFLOPs": None if flops is None else flops / 1e6}
        for method, t in r["keras"].items():
            rows.append({**base, "variant": method, "bytes": r["keras_file_bytes"],
                         "ms_per_window_b1": t["1"]["ms_per_window"],
                         f"windows_per_s_b{big}": t[big]["windows_per_s"],
                         "accuracy_%": r.get("keras_accuracy"), "lost_points": None})
        for key, e in r["tflite"].items():
            t = e.get("timing") or {}
            b1 = e.get("batch_size") == 1
            status = "" if e["ok"] else " (skipped)" if e.get("skipped") else " (failed)"
            rows.append({**base, "variant": f"tflite {key}{status}",
                         "bytes": e.get("size_bytes"),
                         "ms_per_window_b1": t.get("ms_per_window") if b1 else None,
                         f"windows_per_s_b{big}": None if b1 else t.get("windows_per_s"),
                         "accuracy_%": e.get("accuracy"),
                         "lost_points": e.get("accuracy_lost_points")})
    return pd.DataFrame(rows)


def targets_table(result: dict[str, Any]) -> pd.DataFrame:
    """The deployment targets: value, target and whether it is met."""
    t = result.get("targets") or {}
    return pd.DataFrame([{"target": k, "value": v["value"], "at most": v["target"],
                          "met": v["met"], "variant": v.get("variant")}
                         for k, v in t.items() if isinstance(v, dict)])


def quantisation_table(result: dict[str, Any]) -> pd.DataFrame:
    """Each trained model's integer exports (batch 1): bytes, test accuracy, points lost
    against its Keras model, the target and whether it is met, how the input is standardised."""
    rows = result.get("quantisation_targets") or []
    return pd.DataFrame([{"model": r["model"], "variant": r["variant"], "bytes": r["bytes"],
                          "accuracy_%": r["accuracy"], "lost_points": r["lost_points"],
                          "at most": r["target"], "met": r["met"],
                          "input": r["standardisation"] or "raw windows"} for r in rows],
                        columns=["model", "variant", "bytes", "accuracy_%", "lost_points",
                                 "at most", "met", "input"])


def day_table(result: dict[str, Any]) -> pd.DataFrame:
    """One day of recording per model and filtering mode: windows, seconds, CPU seconds."""
    return pd.DataFrame([{"model": r["model"], "filtering": mode, "variant": d["model_variant"],
                          "windows": d["windows"], "filter_s": d["preprocess_s"],
                          "window_and_inference_s": d["window_and_inference_s"],
                          "total_s": d["total_s"], "cpu_s": d["cpu_s"]}
                         for r in result["models"] for mode, d in r.get("day", {}).items()])


def energy_table(result: dict[str, Any]) -> pd.DataFrame:
    """Per model: MACs per window and the arithmetic energy *estimates* (µJ per window)."""
    return pd.DataFrame([{"model": r["model"], "MACs": r["flops"]["macs"],
                          "float32_uJ (estimate)": e["float32"]["arithmetic_uj_per_window"],
                          "int8_uJ (estimate)": e["int8"]["arithmetic_uj_per_window"],
                          "weights_from_DRAM_uJ (estimate)":
                              e["float32"].get("weights_from_dram_uj_per_window")}
                         for r in result["models"] if (e := r.get("energy_estimate"))])


def streaming_table(result: dict[str, Any]) -> pd.DataFrame:
    """Pooled streaming agreement per filtering mode (scored and pure windows)."""
    st = result.get("streaming") or {}
    return pd.DataFrame([{"filtering": mode, **a} for mode, a in st.get("pooled", {}).items()])


def latency_figure(table: pd.DataFrame, title: str, target_ms: float | None = None
                   ) -> Any:
    """Single-window latency per model and variant (log scale), the target dashed."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    t = table.dropna(subset=["ms_per_window_b1"])
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(t) + 1.5))
    sns.barplot(data=t, y="model", x="ms_per_window_b1", hue="variant", ax=ax,
                palette="colorblind", orient="h")
    ax.set_xscale("log")
    if target_ms is not None:
        ax.axvline(target_ms, color="tab:red", ls="--", lw=1,
                   label=f"target (dynamic-range TFLite, paper model) {target_ms} ms")
    ax.set(xlabel="median latency of one window (ms, batch 1)", ylabel="", title=title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
