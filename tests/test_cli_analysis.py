import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hourglass import AutoEncoder
from hourglass.cli import app
from hourglass.data.loading import load_data


def run(args):
    """Run the CLI in-process; return its exit code, stdout and stderr."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny model trained on digits, 8x8 images in a .npy, their labels, and rows without a shape."""
    folder = tmp_path_factory.mktemp("cli")
    digits = load_data("digits")
    X, y = digits.X[:120], digits.y[:120]
    ae = AutoEncoder(code_size=4, hidden_layers=(16,), epochs=3, random_state=0, verbose=0, device="cpu").fit(
        X
    )
    ae.save(folder / "model")
    np.save(folder / "images.npy", X.reshape(-1, 8, 8))
    np.save(folder / "rows.npy", X)
    np.save(folder / "labels.npy", y)
    np.save(folder / "short_labels.npy", y[:10])
    return folder


def test_cli_cluster_prints_metrics_and_writes_assignments(files, tmp_path):
    csv = tmp_path / "clusters.csv"
    code, out, _ = run(
        [
            "cluster",
            str(files / "model"),
            str(files / "images.npy"),
            "--labels",
            str(files / "labels.npy"),
            "-o",
            str(csv),
        ]
    )
    assert code == 0
    assert "hourglass codes" in out
    assert "by kmeans after a spectral embedding" in out  # the default pipeline
    table = pd.read_csv(csv)
    assert list(table.columns) == ["cluster", "label"] and len(table) == 120


def test_cli_cluster_writes_report(files, tmp_path):
    code, _, _ = run(
        [
            "cluster",
            str(files / "model"),
            str(files / "rows.npy"),
            "--method",
            "gmm",
            "--n-clusters",
            "3",
            "--report",
            str(tmp_path),
            "-q",
        ]
    )
    assert code == 0
    assert "Latent map by cluster" in (tmp_path / "report.html").read_text()


def test_cli_cluster_rejects_labels_of_wrong_length(files):
    code, _, err = run(
        [
            "cluster",
            str(files / "model"),
            str(files / "rows.npy"),
            "--labels",
            str(files / "short_labels.npy"),
        ]
    )
    assert code == 2
    assert "one label per sample" in err


def test_cli_cluster_names_labels_that_are_neither_a_file_nor_a_column(files, tmp_path):
    table = tmp_path / "rows.csv"
    rows = np.load(files / "rows.npy")
    pd.DataFrame(rows, columns=[f"px{i}" for i in range(64)]).to_csv(table, index=False)
    code, _, err = run(["cluster", str(files / "model"), str(table), "--labels", "nosuchfile.txt"])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("hourglass: error: --labels 'nosuchfile.txt': no such file, and "), err
    assert "has no such column" in err and "--label " not in err


def test_cli_cluster_refuses_an_output_that_is_no_csv_before_clustering(files, tmp_path):
    target = tmp_path / "clusters.npy"
    code, out, err = run(["cluster", str(files / "model"), str(files / "rows.npy"), "-o", str(target)])
    assert code == 2 and out == "" and not target.exists()
    assert "unsupported suffix '.npy'; expected .csv" in err and len(err.strip().splitlines()) == 1


def test_cli_cluster_says_an_isomap_embedding(files):
    code, out, err = run(["cluster", str(files / "model"), str(files / "rows.npy"), "--manifold", "isomap"])
    assert code == 0, err
    assert "after an isomap embedding" in out


@pytest.mark.parametrize(("option", "value"), [("--method", "dbscan"), ("--manifold", "umap2")])
def test_cli_cluster_rejects_unknown_pipeline_names(files, option, value):
    code, _, err = run(["cluster", str(files / "model"), str(files / "rows.npy"), option, value])
    assert code == 2
    assert value in err


def test_cli_calibrate_then_score_flags_with_saved_threshold(files, tmp_path):
    detector = tmp_path / "detector"
    assert (
        run(["calibrate", str(files / "model"), str(files / "rows.npy"), "-o", str(detector), "-q"])[0] == 0
    )
    scores = tmp_path / "scores.csv"
    code, out, _ = run(["score", str(detector), str(files / "images.npy"), "-o", str(scores)])
    assert code == 0
    table = pd.read_csv(scores)
    # The default combined score, with the reconstruction error in the data's units beside it.
    assert list(table.columns) == ["anomaly_score", "score", "error_raw", "prediction"]
    assert set(table["prediction"]) <= {-1, 1}
    assert "above the threshold" in out and "medians of normal rows" in out


def test_cli_calibrate_with_the_reconstruction_score_scores_by_the_error_alone(files, tmp_path):
    detector = tmp_path / "detector"
    args = ["calibrate", str(files / "model"), str(files / "rows.npy"), "-o", str(detector)]
    code, out, _ = run([*args, "--score", "reconstruction"])
    assert code == 0 and "quantile of the reconstruction MSE" in out
    scores = tmp_path / "scores.csv"
    assert run(["score", str(detector), str(files / "rows.npy"), "-o", str(scores), "-q"])[0] == 0
    assert list(pd.read_csv(scores).columns) == ["error", "score", "prediction"]
    code, _, err = run([*args, "--score", "distance", "--force"])
    assert code == 2 and "distance" in err


@pytest.mark.parametrize(("extra", "has_prediction"), [([], False), (["--threshold", "0.01"], True)])
def test_cli_score_plain_model_flags_only_with_a_threshold(files, tmp_path, extra, has_prediction):
    out = tmp_path / "scores.csv"
    assert run(["score", str(files / "model"), str(files / "rows.npy"), "-o", str(out), "-q", *extra])[0] == 0
    assert ("prediction" in pd.read_csv(out).columns) == has_prediction


def test_cli_score_writes_error_maps_and_report(files, tmp_path):
    maps = tmp_path / "maps"
    code, _, err = run(
        [
            "score",
            str(files / "model"),
            str(files / "images.npy"),
            "-o",
            str(tmp_path / "s.csv"),
            "--normal",
            str(files / "rows.npy"),
            "--maps",
            str(maps),
            "--n-maps",
            "3",
            "--report",
            str(tmp_path),
            "-q",
        ]
    )
    assert code == 0
    assert len(list(maps.glob("*.png"))) == 3
    # No labels: nothing says which samples are abnormal, so there is no AUROC to show.
    assert "AUROC" not in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--threshold", "high"], "--threshold 'high'"),
        (["--maps", "maps"], "--maps needs image data"),
        (["--report", "rep"], "--report needs a calibrated threshold"),
        (["--n-maps", "-1"], "--n-maps -1"),
    ],
)
def test_cli_score_rejects_bad_options(files, tmp_path, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["score", str(files / "model"), str(files / "rows.npy"), "-o", "s.csv", *extra])
    assert code == 2
    assert message in err
