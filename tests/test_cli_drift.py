"""`modelward drift` on real CSV/Parquet files, without a workspace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from modelward.cli import app
from modelward.errors import ModelwardError

runner = CliRunner()


def write_pair(tmp_path: Path, n: int = 3000, shift: float = 0.0, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)

    def frame(delta: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "age": rng.normal(40 + delta, 10, n),
                "income": rng.lognormal(10, 0.4, n),
                "plan": rng.choice(["basic", "pro"], n),
                "churned": rng.integers(0, 2, n),
                "score": rng.random(n) + delta / 100,
            }
        )

    ref, cur = tmp_path / "reference.csv", tmp_path / "current.parquet"
    frame(0.0).to_csv(ref, index=False)
    frame(shift).to_parquet(cur)
    return ref, cur


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelward", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_shifted_files_give_table_json_html_and_exit_2_with_fail_on_drift(tmp_path: Path) -> None:
    ref, cur = write_pair(tmp_path, shift=5.0)
    html, out = tmp_path / "out" / "report.html", tmp_path / "out" / "report.json"
    done = run(
        "drift",
        str(ref),
        str(cur),
        "--html",
        str(html),
        "--json",
        str(out),
        "--target",
        "churned",
        "--prediction",
        "score",
        "--fail-on-drift",
        cwd=tmp_path,
    )  # no workspace in tmp_path
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    stdout = done.stdout
    assert "Feature drift (drifted first)" in stdout and "dataset:" in stdout
    rows = [line for line in stdout.splitlines() if line.startswith("│")]
    assert rows[0].split("│")[1].strip() == "age" and "drift" in rows[0]  # the drifted feature first
    assert (
        "multivariate: drift" in stdout
        and "prediction drift: drift" in stdout
        and "label drift: ok" in stdout
    )
    for stage in (
        "reading reference.csv",
        "profiling the reference",
        "testing 3 columns",
        "multivariate drift",
        "rendering the HTML report",
    ):
        assert stage in done.stderr, stage  # progress, stage by stage
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc) == {
        "summary",
        "metadata",
        "drift",
        "multivariate",
        "prediction_drift",
        "label_drift",
        "performance",
    }
    assert doc["summary"]["drift_detected"] is True and doc["drift"]["drifted_features"] == ["age"]
    assert [f["column"] for f in doc["drift"]["features"]] == ["age", "income", "plan"]  # outputs excluded
    assert doc["multivariate"]["attributions"][0]["feature"] == "age"
    assert doc["prediction_drift"]["task"] == "regression" and doc["label_drift"]["task"] == "classification"
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<h2>Multivariate drift" in page and "http" not in page


def test_unshifted_files_exit_0_even_with_fail_on_drift(tmp_path: Path) -> None:
    ref, cur = write_pair(tmp_path, shift=0.0, seed=1)
    result = runner.invoke(
        app, ["drift", str(ref), str(cur), "--fail-on-drift", "--no-multivariate"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "no dataset drift" in result.output and "multivariate" not in result.output.split("dataset:")[1]


def test_options_reach_the_library(tmp_path: Path) -> None:
    ref, cur = write_pair(tmp_path, shift=5.0, seed=2)
    result = runner.invoke(
        app,
        [
            "drift",
            str(ref),
            str(cur),
            "--json",
            "-",
            "--method",
            "psi",
            "--correction",
            "bonferroni",
            "--alpha",
            "0.01",
            "--ignore",
            "income",
            "--column-kind",
            "churned=categorical",
            "--no-multivariate",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    features = {f["column"]: f for f in doc["drift"]["features"]}
    assert "income" not in features and features["churned"]["kind"] == "categorical"
    assert features["age"]["method"] == "psi" and features["age"]["drifted"]
    assert (
        doc["drift"]["settings"]["correction"] == "bonferroni" and doc["drift"]["settings"]["alpha"] == 0.01
    )
    assert doc["multivariate"] is None


def test_tiny_current_file_skips_the_domain_classifier_with_a_note(tmp_path: Path) -> None:
    ref, _ = write_pair(tmp_path, n=300)
    cur = tmp_path / "three_rows.csv"
    pd.read_csv(ref).head(3).to_csv(cur, index=False)
    result = runner.invoke(app, ["drift", str(ref), str(cur), "--json", "-"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "multivariate drift skipped: Multivariate drift needs at least 5 rows" in result.stderr
    assert json.loads(result.stdout)["multivariate"] is None


def test_date_columns_are_left_out_with_a_note(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    frames = [
        pd.DataFrame({"when": pd.date_range("2024-01-01", periods=400, freq="h"), "x": rng.normal(size=400)})
        for _ in range(2)
    ]
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    frames[0].to_parquet(ref)
    frames[1].to_parquet(cur)
    result = runner.invoke(app, ["drift", str(ref), str(cur), "--json", "-"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "left out 'when'" in result.stderr
    doc = json.loads(result.stdout)
    assert [f["column"] for f in doc["drift"]["features"]] == ["x"] and doc["multivariate"]["features"] == [
        "x"
    ]


def test_label_column_absent_from_current_is_skipped_with_a_note(tmp_path: Path) -> None:
    ref, _ = write_pair(tmp_path)
    cur = tmp_path / "unlabelled.csv"
    pd.read_csv(ref).drop(columns=["churned"]).to_csv(cur, index=False)
    result = runner.invoke(
        app, ["drift", str(ref), str(cur), "--target", "churned", "--no-multivariate"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "label drift skipped" in result.output
    as_json = runner.invoke(
        app,
        ["drift", str(ref), str(cur), "--target", "churned", "--no-multivariate", "--json", "-"],
        catch_exceptions=False,
    )
    doc = json.loads(as_json.stdout)  # the target is still no feature, and no label drift is reported
    assert [f["column"] for f in doc["drift"]["features"]] == ["age", "income", "plan", "score"]
    assert doc["label_drift"] is None and doc["drift"]["quality"] == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ignore", "ghost"], "--ignore names column(s) 'ghost'"),
        (["--column-kind", "age"], "--column-kind expects COLUMN=KIND"),
        (["--correction", "holm"], "Unknown correction 'holm'"),
        (["--method", "magic"], "Unknown drift method 'magic'"),
        (["--task", "ranking"], "--task must be one of"),
    ],
)
def test_bad_options_raise_modelward_errors(tmp_path: Path, extra: list[str], message: str) -> None:
    # main() turns a ModelwardError into "error: <message>" and status 1 (checked by subprocess below)
    ref, cur = write_pair(tmp_path, n=200)
    result = runner.invoke(app, ["drift", str(ref), str(cur), "--no-multivariate", *extra])
    assert isinstance(result.exception, ModelwardError), result.output
    assert message in result.exception.message


def test_errors_are_clean_messages_with_status_1(tmp_path: Path) -> None:
    ref, cur = write_pair(tmp_path, n=100)
    done = run("drift", str(ref), str(tmp_path / "nope.csv"), cwd=tmp_path)
    assert done.returncode == 1 and "nope.csv" in done.stderr and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    done = run("drift", str(ref), str(cur), "--target", "ghost", cwd=tmp_path)
    assert (
        done.returncode == 1 and "error:" in done.stderr and "--target names column(s) 'ghost'" in done.stderr
    )
    assert "Traceback" not in done.stderr
