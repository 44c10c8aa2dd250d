"""A small workspace for the loop's tests: Agrawal data, a workspace training module whose behaviour a file
switches (good, crash, sleep N, worse), credit@1 trained and promoted, and helpers to send traffic."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pandas as pd

from modelward import Workspace
from modelward.demo import agrawal_frame

TOKEN = "loop-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

TRAIN_PY = '''\
"""Training code of the loop tests; mode.txt beside it says how to behave."""
import time
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


def train(train_df, params, *, target, features, sample_weight=None):
    mode_file = Path(__file__).with_name("mode.txt")
    mode = mode_file.read_text().strip() if mode_file.exists() else "good"
    if mode == "crash":
        raise RuntimeError("boom: the training code crashed on purpose")
    if mode.startswith("sleep"):
        time.sleep(float(mode.split()[1]))
    x, y = train_df[features], train_df[target]
    if mode == "worse":  # labels inverted: a model that learned the opposite
        y = 1 - y
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(x[c])]
    prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), categorical)], remainder="passthrough")
    weights = None if sample_weight is None else train_df[sample_weight].to_numpy()
    return Pipeline([("prep", prep), ("model", RandomForestClassifier(**params))]).fit(
        x, y, model__sample_weight=weights)
'''

BEHAVIORAL = """\
tests:
  - name: a fifty-year-old on a middle salary is declined
    type: minimum_functionality
    cases:
      - input: {salary: 60000, commission: 20000, age: 50, elevel: 4, car: make05, zipcode: zip3, hvalue: 300000,
                hyears: 15, loan: 200000}
        expect: 0
"""


IMMEDIATE = "      rollout: immediate\n"  # part 1's behaviour unless a test sets its own rollout


def config(database_url: str, loop: str = "", serve_loop: str = "") -> str:
    return f"""\
admin_token: {TOKEN}
database_url: {database_url}
monitor: {{window: "200", lateness_seconds: 0, important_features: [salary]}}
loop: {{interval_seconds: 0.3, heartbeat_seconds: 0.5, stale_after_seconds: 30{serve_loop}}}
serve: {{reload_poll_seconds: 0.2}}
models:
  credit:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: train:train
    importance: false  # the loop's tests do not read it; SHAP at each registration costs CPU the suite lacks
    params: {{n_estimators: 20, max_depth: 6, max_features: null, random_state: 0}}
    loop:
      drift: {{windows: 2}}
      performance: {{min_rows: 100}}
      estimated: {{enabled: false}}
      concept_drift: {{enabled: false}}
      retrain: {{min_new_rows: 100, time_limit: 60}}
      gate: {{min_rows: 100, bootstrap_resamples: 500, behavioral_tests: behavioral.yaml}}
{loop if "rollout:" in loop else loop + IMMEDIATE}"""


def make_loop_workspace(root: Path, database_url: str, loop: str = "") -> Path:
    """credit@1 (Agrawal function 0) trained and promoted in a new workspace at ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.py").write_text(TRAIN_PY)
    (root / "behavioral.yaml").write_text(BEHAVIORAL)
    agrawal_frame(1200, seed=1, function=0).to_csv(root / "agrawal.csv", index=False)
    with Workspace.init(root, config=config(database_url, loop)) as ws:
        ws.datasets.add(root / "agrawal.csv", "agrawal")
        mv = ws.train("credit")
        ws.registry.promote("credit", mv.version, reason="test setup")
    return root


def set_mode(root: Path, mode: str) -> None:
    (root / "mode.txt").write_text(mode)


def traffic(n: int, *, seed: int, drifted: bool = False) -> pd.DataFrame:
    """``n`` labeled rows: Agrawal function 0, or function 2 with salaries 60 % higher (drifted)."""
    frame = agrawal_frame(n, seed=seed, function=2 if drifted else 0)
    if drifted:
        frame["salary"] = (frame["salary"] * 1.6).round(2)
    return frame


def send(http: httpx.Client, frame: pd.DataFrame, batch: int = 200) -> list[str]:
    """Predict every row (in batches) and send its label as feedback; returns the prediction ids."""
    ids: list[str] = []
    for start in range(0, len(frame), batch):
        part = frame.iloc[start : start + batch]
        rows = part.drop(columns=["approved"]).to_dict(orient="records")
        answer = http.post("/v1/models/credit/predict", json={"instances": rows})
        assert answer.status_code == 200, answer.text
        got = answer.json()["prediction_ids"]
        labels = [{"prediction_id": p, "label": int(y)} for p, y in zip(got, part["approved"], strict=True)]
        fb = http.post("/v1/feedback", json=labels)
        assert fb.status_code == 200, fb.text
        ids += got
    return ids


T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 90.0, every: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(every)


def kinds(ws: Workspace, model: str = "credit") -> list[str]:
    return [e.kind for e in ws.registry.events(model) if e.kind.startswith("loop_")]


def events(ws: Workspace, kind: str, model: str = "credit") -> list[dict[str, Any]]:
    return [e.payload for e in ws.registry.events(model) if e.kind == kind]
