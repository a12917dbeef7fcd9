"""The prediction command line on generated CSV recordings, its errors, resampling, and the
window labelling rule and agreement of the streaming timeline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from har_utils import config  # noqa: E402
from har_studies.deploy import predict  # noqa: E402
from har_utils.io import HarDataError  # noqa: E402

CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]


def recording(n: int, rate: float, seed: int = 0) -> pd.DataFrame:
    """``n`` samples at ``rate`` Hz: gravity on z (g), a 2 Hz sway, noise; gyro in rad/s."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    df = pd.DataFrame(rng.normal(0, 0.05, (n, 6)), columns=CHANNELS)
    df["acc_z"] += 1.0
    df["acc_x"] += 0.3 * np.sin(2 * np.pi * 2 * t)
    df["gyro_y"] += 0.5 * np.sin(2 * np.pi * t)
    df.insert(0, "time", t + 10.0)
    return df


def write(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def n_windows(n50: int) -> int:
    return (n50 - 128) // 64 + 1


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from har_utils.models import build_model
    from har_utils.training import save_model_atomic
    return save_model_atomic(build_model("tiny_cnn"), tmp_path_factory.mktemp("m") / "tiny.keras")


@pytest.fixture(scope="module")
def tflite_path(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Path:
    """The tiny model exported to TFLite at batch size 4."""
    from har_studies.deploy import export
    from har_utils.training import load_model
    tfl = tmp_path_factory.mktemp("tfl") / "tiny.tflite"
    assert export.export_tflite(load_model(model_path), tfl, batch_size=4).ok
    return tfl


def run_cli(*args: object) -> tuple[int, str, str]:
    """``har predict ARGS``: exit status, stdout, stderr."""
    from click.testing import CliRunner

    from har_studies.cli import har
    r = CliRunner().invoke(har, ["predict", *map(str, args)])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def test_cli_resamples_100_hz_and_prints_one_line_per_window(
        tmp_path: Path, model_path: Path) -> None:
    csv = write(recording(1000, 100.0), tmp_path / "rec.csv")
    rc, out, err = run_cli(csv, "--model", model_path)
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split() == ["start_s", "end_s", "activity", "confidence"]
    assert len(lines) - 1 == n_windows(500)  # 1000 samples at 100 Hz -> 500 at 50 Hz
    first = lines[1].split()
    assert float(first[0]) == pytest.approx(10.0) and float(first[1]) == pytest.approx(12.56)
    assert first[2] in config.ACTIVITY_NAMES and 0 < float(first[3]) <= 1
    assert float(lines[2].split()[0]) == pytest.approx(11.28)
    assert "resampled from 100 Hz to 50 Hz" in err


def test_cli_with_rate_flag_causal_and_a_tflite_model(
        tmp_path: Path, tflite_path: Path) -> None:
    tfl = tflite_path
    csv = write(recording(700, 50.0).drop(columns="time").rename(columns=str.upper),
                tmp_path / "rec.csv")
    rc, out, err = run_cli(csv, "--rate", "50", "--model", tfl, "--causal")
    assert rc == 0, err
    assert len(out.strip().splitlines()) - 1 == n_windows(700)
    assert "at 50 Hz" in err and "causal" in err
    assert out.strip().splitlines()[1].split()[0] == "0.00"


def test_resampling_keeps_gravity_and_motion(tmp_path: Path) -> None:
    df = recording(2000, 200.0)
    rec = predict.read_recording(write(df, tmp_path / "r.csv"))
    assert rec.source_rate_hz == pytest.approx(200.0) and rec.resampled == (1, 4)
    assert rec.n == 500 and rec.t0 == pytest.approx(10.0)
    jittery = df.assign(time=df["time"] + 1e-7 * (np.arange(len(df)) % 3))
    assert predict.read_recording(write(jittery, tmp_path / "j.csv")).resampled == (1, 4)
    at50 = recording(300, 50.0).assign(time=lambda d: d["time"] * (1 + 1e-7))
    assert predict.read_recording(write(at50, tmp_path / "f.csv")).resampled is None
    assert np.abs(rec.acc[:, 2] - 1.0).max() < 0.2  # no ringing of the 1 g offset at the edges
    t = np.arange(500) / 50.0
    sway = 0.3 * np.sin(2 * np.pi * 2 * t)
    assert np.corrcoef(rec.acc[20:-20, 0], sway[20:-20])[0, 1] > 0.95


def bad_cases(tmp: Path) -> dict[str, tuple[Path, list[str], str]]:
    """name -> (csv, extra args, phrase the error must contain)."""
    ok = recording(400, 50.0)
    cases: dict[str, tuple[pd.DataFrame | bytes | None, list[str], str]] = {
        "missing column": (ok.drop(columns="gyro_z"), [], "missing column(s) gyro_z"),
        "no rate": (ok.drop(columns="time"), [], "no sample rate"),
        "bad rate flag": (ok.drop(columns="time"), ["--rate", "-5"], "not a positive"),
        "implausible rate": (ok.drop(columns="time"), ["--rate", "5"], "implausible sample rate"),
        "time in ms": (ok.assign(time=ok["time"] * 1000), [], "milliseconds"),
        "inconsistent rate": (ok, ["--rate", "100"], "inconsistent sample rate"),
        "irregular time": (ok.assign(time=ok["time"] + np.r_[0, 0, 0.5, 0.5, [0.5] * 396]), [],
                           "irregular sampling"),
        "time goes back": (ok.assign(time=ok["time"][::-1].to_numpy()), [], "does not increase"),
        "nan": (ok.assign(acc_y=ok["acc_y"].where(ok.index != 7)), [],
                "missing value (NaN/inf) in column acc_y at line 9"),
        "non-numeric": (ok.assign(gyro_x=ok["gyro_x"].astype(object).where(
            ok.index != 3, "abc")), [], "non-numeric value 'abc' in column gyro_x at line 5"),
        "too short": (recording(120, 50.0), [], "too short"),
        "too short after resampling": (recording(250, 100.0), [], "too short"),
        "m/s2": (ok.assign(acc_z=ok["acc_z"] * 9.81), [], "m/s^2"),
        "all zeros": (ok.assign(**{c: 0.0 for c in CHANNELS}), [], "all zero"),
        "gravity removed": (ok.assign(acc_z=ok["acc_z"] - 1.0), [], "gravity seems removed"),
        "gyro in deg/s": (ok.assign(**{c: ok[c] * 57.2958 for c in CHANNELS[3:]}), [],
                          "looks like deg/s"),
        "header commented out": (b"# " + ok.to_csv(index=False).encode(), [],
                                 "starts with #"),
        "only comments": (b"# nothing recorded\n\n", [], "only comment or blank lines"),
        "empty file": (b"", [], "empty"),
        "header only": (b"time,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n", [], "no samples"),
        "binary": (bytes(range(256)) * 4, [], "not a readable CSV"),
        "not found": (None, [], "recording not found"),
    }
    out = {}
    for i, (name, (content, args, phrase)) in enumerate(cases.items()):
        path = tmp / f"case{i}.csv"
        if isinstance(content, pd.DataFrame):
            write(content, path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        out[name] = (path, args, phrase)
    return out


def test_every_bad_input_gives_a_clear_error(tmp_path: Path) -> None:
    missing_model = tmp_path / "no-model.keras"  # never reached: input checks come first
    for name, (path, args, phrase) in bad_cases(tmp_path).items():
        rc, out, err = run_cli(path, *args, "--model", missing_model)
        assert rc == 2, name
        assert out == "", name
        assert err.startswith(f"error: {path}:"), (name, err)
        assert phrase in err and "Fix:" in err, (name, err)
        assert "Traceback" not in err


def test_units_must_be_total_acceleration_in_g_and_rad_per_s(tmp_path: Path) -> None:
    """Zeros or gravity removed: the fix says to keep gravity; deg/s: divide by 57.2958. A
    still phone (1 g, no rotation) and a lively one (0.6 g median, 15 rad/s) pass."""
    ok = recording(400, 50.0)
    fixes = {"zeros": (ok.assign(**{c: 0.0 for c in CHANNELS}), "must include gravity"),
             "linear": (ok.assign(acc_z=ok["acc_z"] - 1.0), "not linear acceleration"),
             "deg/s": (ok.assign(**{c: ok[c] * 57.2958 for c in CHANNELS[3:]}),
                       "divide gyro_x, gyro_y, gyro_z by 57.2958 (deg/s to rad/s)")}
    for name, (df, fix) in fixes.items():
        with pytest.raises(HarDataError) as e:
            predict.read_recording(write(df, tmp_path / "r.csv"))
        assert fix in e.value.fix and e.value.path == tmp_path / "r.csv", name
    still = ok.assign(acc_x=0.0, acc_y=0.0, acc_z=1.0, gyro_x=0.0, gyro_y=0.0, gyro_z=0.0)
    lively = ok.assign(acc_z=ok["acc_z"] * 0.6, gyro_x=15.0)
    for df in (still, lively):
        predict.read_recording(write(df, tmp_path / "ok.csv"))


def test_semicolons_tabs_decimal_commas_and_comment_lines_are_read(tmp_path: Path) -> None:
    ok = recording(400, 50.0)
    plain = predict.read_recording(write(ok, tmp_path / "plain.csv"))
    assert plain.notes == []
    variants = {"semicolons": (ok.to_csv(index=False, sep=";"), "separated by ';'"),
                "tabs": (ok.to_csv(index=False, sep="\t"), "separated by tabs"),
                "decimal commas": (ok.to_csv(index=False, sep=";", decimal=","),
                                   "with decimal commas"),
                "comments": ("# phone 3, left pocket\n" + ok.to_csv(index=False)
                             + "# end of recording\n\n", "skipped 2 comment lines starting with "
                             "# (lines 1, 403)")}
    for name, (text, note) in variants.items():
        (tmp_path / "v.csv").write_text(text)
        rec = predict.read_recording(tmp_path / "v.csv")
        assert any(note in n for n in rec.notes), (name, rec.notes)
        assert np.allclose(rec.acc, plain.acc) and np.allclose(rec.gyro, plain.gyro), name
        assert rec.t0 == pytest.approx(plain.t0), name
    # errors name the line of the file, comment lines counted
    lines = ok.to_csv(index=False).splitlines()
    lines[10] = lines[10].replace(lines[10].split(",")[2], "x")  # acc_y of file line 11
    lines.insert(3, "# paused")  # now line 12
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(HarDataError, match="'x' in column acc_y at line 12"):
        predict.read_recording(tmp_path / "c.csv")


def test_cli_notes_the_separator_and_the_skipped_comment_lines(
        tmp_path: Path, model_path: Path) -> None:
    csv = tmp_path / "semi.csv"
    csv.write_text(recording(400, 50.0).to_csv(index=False, sep=";") + "# the end\n")
    rc, out, err = run_cli(csv, "--model", model_path)
    assert rc == 0, err
    assert len(out.strip().splitlines()) - 1 == n_windows(400)
    assert f"note: {csv}: the file is separated by ';'" in err
    assert f"note: {csv}: skipped 1 comment line starting with # (line 402)" in err
    assert "NaN" not in err and "missing" not in err


@pytest.fixture(scope="module")
def four_output_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny model with 4 outputs instead of 6, as .keras and as .tflite."""
    from har_studies.deploy import export
    from har_utils.models import build_model
    from har_utils.training import save_model_atomic
    folder = tmp_path_factory.mktemp("four")
    model = build_model("tiny_cnn", n_classes=4)
    tfl = folder / "four.tflite"
    assert export.export_tflite(model, tfl, batch_size=1).ok
    return save_model_atomic(model, folder / "four.keras"), tfl


def test_a_model_without_the_six_activities_is_refused(
        tmp_path: Path, four_output_models: tuple[Path, Path]) -> None:
    csv = write(recording(300, 50.0), tmp_path / "r.csv")
    for model in four_output_models:
        rc, out, err = run_cli(csv, "--model", model)
        assert rc == 2 and out == "", (model, err)
        assert err.startswith(f"error: {model}: the model's output has shape (batch, 4)"), err
        assert "(batch, 6)" in err and "Fix: pass a model trained on the 6" in err
        assert "Traceback" not in err


def test_a_damaged_tflite_model_is_a_clear_error(tmp_path: Path, tflite_path: Path) -> None:
    csv = write(recording(300, 50.0), tmp_path / "r.csv")
    good = tflite_path.read_bytes()
    damaged = {"random": (np.random.default_rng(0).bytes(5000), "not a TFLite model"),
               "empty": (b"", "not a TFLite model"),
               "half": (good[:len(good) // 2], "a damaged TFLite model"),
               "end cut": (good[:-16], "a damaged TFLite model")}
    for name, (content, phrase) in damaged.items():
        bad = tmp_path / f"{name.replace(' ', '_')}.tflite"
        bad.write_bytes(content)
        rc, out, err = run_cli(csv, "--model", bad)
        assert rc == 2 and out == "", (name, err)
        assert err.startswith(f"error: {bad}: {phrase}"), (name, err)
        assert "Fix: export it again: `make deploy`" in err, (name, err)
        assert "Traceback" not in err and "UnicodeDecodeError" not in err, (name, err)


def test_a_full_disk_leaves_no_partial_output(tmp_path: Path, model_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import click
    csv = write(recording(400, 50.0), tmp_path / "r.csv")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "windows.csv"
    rc, out, err = run_cli(csv, "--model", model_path, "--output", target)
    assert rc == 0 and out == "" and f"wrote {n_windows(400)} windows to {target}" in err
    written = target.read_text()
    table = pd.read_csv(target)
    assert list(table.columns) == ["start_s", "end_s", "activity_id", "activity", "confidence"]
    assert len(table) == n_windows(400)

    def full_disk(self: pd.DataFrame, f: object = None, **kwargs: object) -> None:
        f.write("start_s,end_s,activ")  # type: ignore[union-attr]  # a part, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    rc, out, err = run_cli(csv, "--model", model_path, "--output", target)
    assert rc == 2 and "Traceback" not in err
    assert f"error: {target}: no space left on the disk while writing the predictions;" in err
    assert "nothing was written" in err and "Fix: free disk space, or write elsewhere" in err
    assert target.read_text() == written  # the earlier file, untouched
    assert sorted(p.name for p in out_dir.iterdir()) == ["windows.csv"]  # no temporary left
    monkeypatch.undo()

    echo = click.echo

    def full_stdout(message: object = None, *args: object, err: bool = False, **kw: object
                    ) -> None:
        if not err and "start_s" in str(message):
            raise OSError(errno.ENOSPC, "No space left on device")
        echo(message, *args, err=err, **kw)

    monkeypatch.setattr(click, "echo", full_stdout)
    rc, out, err = run_cli(csv, "--model", model_path)
    assert rc == 2 and "Traceback" not in err
    assert "error: no space left on the disk while writing the predictions to standard output" \
        in err and "Fix: free disk space" in err


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    csv = write(recording(300, 50.0), tmp_path / "r.csv")
    rc, _, err = run_cli(csv, "--model", tmp_path / "none.keras")
    assert rc == 2 and "model not found" in err and "Fix:" in err


def test_module_entry_point_exits_non_zero_without_traceback(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "har_studies", "predict", str(tmp_path / "nope.csv")],
                       capture_output=True, text=True, timeout=120, cwd=config.PROJECT_ROOT)
    assert r.returncode == 2
    assert "recording not found" in r.stderr and "Traceback" not in r.stderr


def test_help_states_the_format() -> None:
    rc, out, _ = run_cli("--help")
    assert rc == 0 and "rad/s" in out and "(g," in out and "--rate" in out


# --- the streaming timeline ----------------------------------------------------------------

def test_window_truth_rule_on_a_synthetic_label_vector() -> None:
    labels = np.r_[np.full(256, 1), np.full(40, -1), np.full(216, 4), np.full(60, 8),
                   np.full(100, 4), np.full(100, 5)]
    t = predict.window_truth(labels)
    assert list(t["start"]) == list(range(0, len(labels) - 127, 64))
    by_start = t.set_index("start")
    # all walking: pure and scored
    assert by_start.loc[0, "truth"] == 1 and by_start.loc[0, "pure"]
    assert not by_start.loc[0, "excluded"]
    # 128..255 walking only; 192..319 contains unlabelled samples -> excluded, majority walking
    assert by_start.loc[128, "pure"]
    assert by_start.loc[192, "excluded"] and by_start.loc[192, "truth"] == 1
    # 256..383: 40 unlabelled + 88 sitting -> excluded, truth sitting
    assert by_start.loc[256, "excluded"] and by_start.loc[256, "truth"] == 4
    # 320..447: sitting only
    assert by_start.loc[320, "pure"] and by_start.loc[320, "truth"] == 4
    # a window over the transition (8) is excluded; its majority can be OTHER
    assert by_start.loc[448, "excluded"]
    # 640..767: 32 sitting + 96 standing, no unlabelled sample -> scored, majority standing
    assert not by_start.loc[640, "excluded"] and not by_start.loc[640, "pure"]
    assert by_start.loc[640, "truth"] == 5
    # a tie goes to the smaller id
    tie = predict.window_truth(np.r_[np.full(64, 6), np.full(64, 2)])
    assert list(tie["truth"]) == [2] and not tie["excluded"][0]
    assert len(predict.window_truth(np.ones(100))) == 0


def test_timeline_agreement_and_plot(tmp_path: Path) -> None:
    from har_studies.deploy.streaming import synthetic_recording
    acc, gyro = synthetic_recording(1600)
    labels = np.r_[np.full(600, 4), np.full(200, -1), np.full(800, 5)]

    def always_standing(X: np.ndarray) -> np.ndarray:
        p = np.full((len(X), 6), 0.02)
        p[:, 4] = 0.9
        return p

    s = predict.stream_experiment({"acc": acc, "gyro": gyro, "label": labels}, always_standing)
    for mode in ("zero_phase", "causal"):
        tl = s[mode]
        a = s["agreement"][mode]
        assert a["windows"] == n_windows(1600) == len(tl)
        assert a["scored"] + a["excluded"] == a["windows"]
        truth = tl.loc[~tl["excluded"], "truth"]
        assert a["agreement_scored"] == pytest.approx((truth == 5).mean())
        assert set(tl["predicted"]) == {5}
    fig = predict.plot_timeline({m: s[m] for m in ("zero_phase", "causal")}, "synthetic")
    assert len(fig.axes) == 2
    fig.savefig(tmp_path / "t.png")
    with pytest.raises(ValueError, match="labels"):
        predict.timeline(acc, gyro, labels[:-1], always_standing)
    with pytest.raises(ValueError, match="training subject"):
        predict.hapt_experiment(1)


def test_read_recording_raises_har_data_error(tmp_path: Path) -> None:
    with pytest.raises(HarDataError) as e:
        predict.read_recording(write(recording(400, 50.0).drop(columns="time"),
                                     tmp_path / "r.csv"))
    assert e.value.path == tmp_path / "r.csv" and "--rate" in e.value.fix


def test_model_argument_takes_a_file_or_a_name_under_results_models(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "results"))
    (tmp_path / "results" / "models").mkdir(parents=True)
    named = tmp_path / "results" / "models" / "beyond.keras"
    named.write_bytes(b"x")
    assert predict.model_path(None) == tmp_path / "results" / "models" / "cnn_lstm_paper.keras"
    assert predict.model_path("beyond") == named
    named.unlink()
    (tmp_path / "results" / "models" / "beyond.joblib").write_bytes(b"x")
    assert predict.model_path("beyond") == tmp_path / "results" / "models" / "beyond.joblib"
    with pytest.raises(HarDataError, match="not a saved window classifier"):
        predict.load_classifier(predict.model_path("beyond"))
    assert predict.model_path(str(named)) == named
    # a name with nothing under results/models stays a path (the loader's error names it)
    assert predict.model_path("nothing") == Path("nothing")
