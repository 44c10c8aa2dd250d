"""The CLI as a user runs it: subprocesses for the quickstart and errors, CliRunner for the rest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import modelward
from modelward.cli import app
from modelward.demo import agrawal_frame

runner = CliRunner()


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelward", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_quickstart_end_to_end(tmp_path: Path) -> None:
    done = run("quickstart", str(tmp_path / "demo"), "--rows", "3000")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "registered credit@1" in out
    assert "credit@champion: - → 1" in out
    for needle in ("accuracy", "roc_auc", "agrawal@1", "modelward.demo:train_random_forest", "scikit-learn"):
        assert needle in out, needle
    assert (tmp_path / "demo" / ".modelward" / "modelward.db").exists()
    # Running it again (make demo twice) reuses the identical dataset version and the identical model:
    # nothing is registered and nothing promoted again.
    again = run("quickstart", str(tmp_path / "demo"), "--rows", "3000")
    assert again.returncode == 0, again.stderr
    out = " ".join(again.stdout.split())  # as printed, without the terminal's line wrapping
    assert "already present as agrawal@1" in out
    assert "identical to credit@1 (same data, code, params, seed and model bytes): nothing registered" in out
    assert "credit@champion stays 1: nothing new to promote" in out
    assert "credit@2" not in out
    history = run("models", "history", "credit", "--json", "-w", str(tmp_path / "demo"))
    assert [(h["from_version"], h["to_version"]) for h in json.loads(history.stdout)] == [(None, 1)]


@pytest.mark.slow
def test_errors_are_clean_messages_without_traceback(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run("init", str(tmp_path))
    done = run("data", "add", "nope.csv", "--name", "x", "-w", str(tmp_path))
    assert done.returncode == 1
    assert "error:" in done.stderr and "nope.csv" in done.stderr and "Traceback" not in done.stderr
    done = run("models", "show", "ghost", "-w", str(tmp_path))
    assert done.returncode == 1 and "No model named 'ghost'" in done.stderr
    done = run("models", "list", "-w", str(tmp_path / "elsewhere"))
    assert done.returncode == 1 and "does not exist" in done.stderr
    done = run("models", "list", "-w", str(tmp_path_factory.mktemp("no-workspace")))
    assert (
        done.returncode == 1 and "No modelward workspace" in done.stderr and "modelward init" in done.stderr
    )


def test_commands_refuse_a_workspace_whose_database_is_missing(tmp_path: Path) -> None:
    """`models list`, `serve` and the rest must not create an empty database in place of a lost one."""
    assert run("init", str(tmp_path)).returncode == 0
    db = tmp_path / ".modelward" / "modelward.db"
    db.unlink()
    for args in (["models", "list"], ["data", "list"], ["serve", "--port", "0"]):
        done = subprocess.run(
            [sys.executable, "-m", "modelward", *args, "-w", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert f"The workspace database {db} does not exist." in done.stderr, done.stderr
        assert "Restore the file from a backup, or run `modelward init`" in done.stderr
        assert "Traceback" not in done.stderr
        assert not db.exists(), args


def test_data_and_models_commands(tmp_path: Path, database_url: str) -> None:
    ws = tmp_path / "ws"
    invoke("init", str(ws), "--database-url", database_url)
    (ws / "modelward.yaml").write_text(
        "models:\n  credit:\n    task: classification\n    target: approved\n    dataset: loans\n"
        "    entrypoint: modelward.demo:train_logistic_regression\n    params: {max_iter: 500}\n"
    )
    common = ["-w", str(ws), "--database-url", database_url]
    frame = agrawal_frame(800, seed=3)
    frame.to_csv(tmp_path / "a.csv", index=False)
    changed = frame.assign(extra=1.0).drop(columns=["hyears"])
    changed["salary"] = changed["salary"] * 2
    changed.to_parquet(tmp_path / "b.parquet", index=False)

    assert "added loans@1" in invoke("data", "add", str(tmp_path / "a.csv"), "--name", "loans", *common)
    assert "same content as loans@1" in invoke(
        "data", "add", str(tmp_path / "a.csv"), "--name", "loans", *common
    )
    assert "added loans@2" in invoke("data", "add", str(tmp_path / "b.parquet"), "--name", "loans", *common)
    assert "loans" in invoke("data", "list", *common)
    shown = json.loads(invoke("data", "show", "loans@1", "--json", *common))
    assert shown["rows"] == 800 and shown["schema"]["car"] == "categorical"
    diff = json.loads(invoke("data", "diff", "loans@1", "loans@2", "--json", *common))
    assert diff["added_columns"] == ["extra"] and diff["removed_columns"] == ["hyears"]
    assert "salary" in diff["columns"]

    assert "registered credit@1" in invoke("train", "credit", "--data", "loans@1", *common)
    trained = json.loads(invoke("train", "credit", "--data", "loans@1", "-p", "C=0.5", "--json", *common))
    assert trained["version"] == 2 and trained["params"] == {"max_iter": 500, "C": 0.5}
    invoke("models", "promote", "credit", "1", "--reason", "first", *common)
    assert "1 → 2" in invoke("models", "promote", "credit", "2", "--reason", "better", *common)
    assert "2 → 1 (rolled back)" in invoke("models", "rollback", "credit", "--reason", "oops", *common)
    history = json.loads(invoke("models", "history", "credit", "--json", *common))
    assert [(h["from_version"], h["to_version"], h["reason"]) for h in history] == [
        (None, 1, "first"),
        (1, 2, "better"),
        (2, 1, "oops"),
    ]
    listed = invoke("models", "list", *common)
    assert "champion→1" in listed
    assert "credit@1" in invoke("models", "show", "credit@champion", *common)
    assert "identical" in invoke("reproduce", "credit@2", *common)
    invoke("models", "tag", "credit@2", "team=risk", *common)
    assert json.loads(invoke("models", "show", "credit@2", "--json", *common))["tags"] == {"team": "risk"}

    same = invoke("train", "credit", "--data", "loans@1", *common)
    assert " ".join(same.split()) == (
        "identical to credit@1 (same data, code, entrypoint, params and seed, and the same model bytes): "
        "nothing registered. Pass --force to register a new version anyway."
    )
    assert "registered credit@3" in invoke("train", "credit", "--data", "loans@1", "--force", *common)


def test_data_demo_writes_csv_parquet_and_a_predict_request_body(tmp_path: Path) -> None:
    assert "wrote 300 rows" in invoke("data", "demo", str(tmp_path / "loans.csv"), "--rows", "300")
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "loans.csv"), agrawal_frame(300, seed=42), rtol=1e-12
    )
    invoke(
        "data", "demo", str(tmp_path / "drifted.parquet"), "--rows", "300", "--concept", "5", "--seed", "7"
    )
    assert pd.read_parquet(tmp_path / "drifted.parquet").equals(agrawal_frame(300, seed=7, function=5))
    invoke("data", "demo", str(tmp_path / "today.json"), "--rows", "3")
    body = json.loads((tmp_path / "today.json").read_text())
    assert body["instances"] == agrawal_frame(3, seed=42).drop(columns=["approved"]).to_dict(orient="records")
    done = run("data", "demo", str(tmp_path / "loans.txt"))
    assert done.returncode == 1
    assert "Cannot write 'loans.txt': the name must end in .csv, .parquet or .json" in done.stderr


def test_python_m_and_version() -> None:
    done = run("--version")
    assert done.returncode == 0 and modelward.__version__ in done.stdout


def test_public_api_is_exported() -> None:
    for name in modelward.__all__:
        assert hasattr(modelward, name), name
    assert {"Workspace", "ModelwardError"} <= set(modelward.__all__)


@pytest.mark.parametrize("bad", ["x", "=1"])
def test_bad_param_syntax(tmp_path: Path, bad: str) -> None:
    from modelward.cli._common import parse_params
    from modelward.errors import ModelwardError

    with pytest.raises(ModelwardError, match="Expected key=value"):
        parse_params([bad])
