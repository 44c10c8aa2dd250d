"""Training entrypoint of the loop benchmark's workspaces (copied into each as ``train.py``): the demo's model
(one-hot categoricals, a 100-tree random forest) that also takes the loop's recency weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


def train(
    train_df: pd.DataFrame,
    params: Mapping[str, Any],
    *,
    target: str,
    features: list[str],
    sample_weight: str | None = None,
) -> Pipeline:
    x, y = train_df[features], train_df[target]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(x[c])]
    prep = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)], remainder="passthrough"
    )
    weights = None if sample_weight is None else train_df[sample_weight].to_numpy()
    rest = {k: v for k, v in params.items() if k != "random_state"}
    forest = RandomForestClassifier(random_state=params.get("random_state", 0), **rest)
    model = Pipeline([("prep", prep), ("model", forest)])
    return model.fit(x, y, model__sample_weight=weights)
