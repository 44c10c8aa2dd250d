"""Demo data and training entrypoints used by the quickstart and the tests.

The data is river's Agrawal generator (a classic loan-approval benchmark with ten
switchable concept functions) generated locally and reproducibly: nothing is downloaded.

>>> frame = agrawal_frame(5, seed=1)
>>> list(frame.columns)
['salary', 'commission', 'age', 'elevel', 'car', 'zipcode', 'hvalue', 'hyears', 'loan', 'approved']
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from river.datasets import synth
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelward.errors import DataError

TARGET = "approved"

DEMO_CONFIG = """\
# modelward workspace made by `modelward quickstart`. Keys: docs/configuration.md.
models:
  credit:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: modelward.demo:train_random_forest
    params: {n_estimators: 100, max_depth: 8, random_state: 0}
    split: {kind: random, test_size: 0.25, seed: 0}
    description: Loan approval (river Agrawal generator, concept function 2, 5% noise)
"""


def agrawal_frame(n: int = 10_000, *, seed: int = 42, function: int = 2, noise: float = 0.05) -> pd.DataFrame:
    """``n`` rows of the Agrawal loan data; ``approved`` is the 0/1 target.

    ``car`` and ``zipcode`` are categorical strings (``make07``, ``zip3``); ``function`` picks
    one of river's ten concept functions, so changing it simulates concept drift;
    ``noise`` perturbs the numeric attributes (river's ``perturbation``).
    """
    gen = synth.Agrawal(classification_function=function, seed=seed, perturbation=noise)
    return _frame(itertools.islice(gen, n))


def _frame(pairs: Iterable[tuple[dict[str, Any], Any]]) -> pd.DataFrame:
    """River's ``(x, y)`` pairs as the demo's loan frame (strings for the categorical attributes)."""
    frame = pd.DataFrame([{**x, TARGET: int(y)} for x, y in pairs])
    frame["car"] = frame["car"].map(lambda v: f"make{int(v):02d}")
    frame["zipcode"] = frame["zipcode"].map(lambda v: f"zip{int(v)}")
    frame["salary"] = frame["salary"].round(2)
    frame["hvalue"] = frame["hvalue"].round(2)
    frame["loan"] = frame["loan"].round(2)
    frame["commission"] = frame["commission"].astype(float).round(2)
    return frame


@dataclass(frozen=True)
class Rule:
    """An approval rule: Agrawal concept ``function``; with ``under``, only for applicants younger than
    ``under`` years, concept ``otherwise`` for the others."""

    function: int
    under: int | None = None
    otherwise: int | None = None


class Rules:
    """Which approval rule labels each row of a demo stream: concept ``first`` from row 0, then each
    :meth:`switch` from its row on. Switches may be added while the stream runs (rows are made as they are
    asked for), but never for a row already made.

    >>> rules = Rules(0).switch(3, 2).switch(4, 6, under=50)
    >>> [rules.at(row).function for row in range(5)], rules.at(4).otherwise
    ([0, 0, 0, 2, 6], 2)
    """

    def __init__(self, first: int) -> None:
        self.changes: list[tuple[int, Rule]] = [(0, Rule(first))]

    def switch(self, row: int, function: int, *, under: int | None = None) -> Rules:
        """Concept ``function`` from ``row`` on (after every earlier switch); with ``under``, only for
        applicants younger than that, the rule in force until then for the others."""
        if row < self.changes[-1][0]:
            raise ValueError(f"row {row} is before the last switch, at row {self.changes[-1][0]}")
        otherwise = None if under is None else self.changes[-1][1].function
        self.changes.append((row, Rule(function, under, otherwise)))
        return self

    def at(self, row: int) -> Rule:
        """The rule that labels ``row``."""
        return next(rule for start, rule in reversed(self.changes) if start <= row)


def rule_batches(rules: Rules, batch: int, *, seed: int = 0, noise: float = 0.05) -> Iterator[pd.DataFrame]:
    """An endless Agrawal stream labeled by ``rules``, in frames of ``batch`` rows (a frame may straddle a
    switch). Each concept draws from a generator of its own (seeded ``seed``, ``seed + 1``, ... in the order
    the concepts first appear), so the applicants look alike under every rule: only the approval changes, and
    a concept that comes back continues its own stream.
    """
    generators: dict[int, Iterator[tuple[dict[str, Any], Any]]] = {}

    def draw(function: int) -> tuple[dict[str, Any], Any]:
        if function not in generators:
            generators[function] = iter(
                synth.Agrawal(
                    classification_function=function, seed=seed + len(generators), perturbation=noise
                )
            )
        return next(generators[function])

    row = 0
    while True:
        pairs = []
        for _ in range(batch):
            rule = rules.at(row)
            if rule.under is None or rule.otherwise is None:
                pairs.append(draw(rule.function))
            else:  # the applicant as the rule for the others would have it; if young, one of the same age band
                x, y = draw(rule.otherwise)
                if x["age"] < rule.under:
                    x, y = draw(rule.function)
                    while x["age"] >= rule.under:
                        x, y = draw(rule.function)
                pairs.append((x, y))
            row += 1
        yield _frame(pairs)


def drift_batches(
    before: int, batch: int, *, seed: int = 0, functions: tuple[int, int] = (0, 2), noise: float = 0.05
) -> Iterator[pd.DataFrame]:
    """An endless Agrawal stream with one abrupt concept drift, in frames of ``batch`` rows: ``before`` rows
    of concept ``functions[0]``, then concept ``functions[1]`` for ever (drift at row ``before``).

    The applicants look alike on both sides (the same generator, other seeds): only the approval rule
    changes, so the drift shows in the labels, not in the features. Rows are made as they are asked for.

    >>> stream = drift_batches(3, 2, seed=1)
    >>> [len(next(stream)) for _ in range(3)], list(next(stream).columns) == list(agrawal_frame(1).columns)
    ([2, 2, 2], True)
    """
    return rule_batches(Rules(functions[0]).switch(before, functions[1]), batch, seed=seed, noise=noise)


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV, Parquet, or a JSON predict request body (``{"instances": [...]}``)."""
    suffix = path.suffix.lower()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            frame.to_csv(path, index=False)
        elif suffix in (".parquet", ".pq"):
            frame.to_parquet(path, index=False)
        elif suffix == ".json":
            records = json.loads(frame.to_json(orient="records"))
            path.write_text(json.dumps({"instances": records}), encoding="utf-8")
        else:
            raise DataError(
                f"Cannot write {path.name!r}: the name must end in .csv, .parquet or .json (a predict "
                "request body). Choose one of those extensions.",
                details={"file": str(path)},
            )
    except OSError as exc:
        raise DataError(f"Cannot write {path}: {exc.strerror or exc}. Choose a writable path.") from exc


def _preprocessor(frame: pd.DataFrame, *, scale: bool) -> ColumnTransformer:
    categorical = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in frame.columns if c not in categorical]
    return ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
            ("numeric", StandardScaler() if scale else "passthrough", numeric),
        ]
    )


def _split_xy(
    train_df: pd.DataFrame, target: str, features: list[str] | None, sample_weight: str | None
) -> tuple[pd.DataFrame, pd.Series]:
    if sample_weight is not None and sample_weight not in train_df.columns:
        raise DataError(
            f"The weight column {sample_weight!r} (sample_weight) is not in the training data; its columns "
            f"are {', '.join(map(str, train_df.columns))}. Name an existing column or pass no sample_weight.",
            details={"column": sample_weight},
        )
    if features is None:
        features = [c for c in train_df.columns if c not in (target, sample_weight)]
    cols = [c for c in features if c != sample_weight]  # a weight is never a feature
    return train_df[cols], train_df[target]


def _fit(
    train_df: pd.DataFrame,
    target: str,
    features: list[str] | None,
    estimator: Any,
    *,
    scale: bool,
    sample_weight: str | None = None,
) -> Pipeline:
    x, y = _split_xy(train_df, target, features, sample_weight)
    pipeline = Pipeline([("prep", _preprocessor(x, scale=scale)), ("model", estimator)])
    if sample_weight is None:
        return pipeline.fit(x, y)
    return pipeline.fit(x, y, model__sample_weight=train_df[sample_weight].to_numpy(dtype=float))


def train_random_forest(
    train_df: pd.DataFrame,
    params: Mapping[str, Any],
    *,
    target: str = TARGET,
    features: list[str] | None = None,
    sample_weight: str | None = None,
) -> Pipeline:
    """One-hot categoricals + a RandomForestClassifier with ``params``.

    ``sample_weight``: the name of a column of ``train_df`` holding row weights (passed to ``fit``, never a
    feature); the maintenance loop passes its recency weights this way.
    """
    return _fit(
        train_df, target, features, RandomForestClassifier(**params), scale=False, sample_weight=sample_weight
    )


def train_logistic_regression(
    train_df: pd.DataFrame,
    params: Mapping[str, Any],
    *,
    target: str = TARGET,
    features: list[str] | None = None,
    sample_weight: str | None = None,
) -> Pipeline:
    """One-hot categoricals, scaled numerics + LogisticRegression with ``params`` (``sample_weight``: as
    :func:`train_random_forest`)."""
    return _fit(
        train_df, target, features, LogisticRegression(**params), scale=True, sample_weight=sample_weight
    )


def train_random_forest_regressor(
    train_df: pd.DataFrame,
    params: Mapping[str, Any],
    *,
    target: str,
    features: list[str] | None = None,
    sample_weight: str | None = None,
) -> Pipeline:
    """One-hot categoricals + a RandomForestRegressor with ``params`` (``sample_weight``: as
    :func:`train_random_forest`)."""
    return _fit(
        train_df, target, features, RandomForestRegressor(**params), scale=False, sample_weight=sample_weight
    )
