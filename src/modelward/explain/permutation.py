"""Model-agnostic Shapley values over a background sample: exact when few columns, else sampled.

The value of a coalition ``S`` of columns for row ``x`` is the model's mean output over the
background rows with the columns of ``S`` set to ``x``'s values (interventional Shapley values,
as ``shap``'s model-agnostic explainers define them). With at most :data:`MAX_EXACT_FEATURES`
columns (and a bounded number of model rows) every coalition is evaluated and the Shapley
formula applied: the values are exact for that background. Otherwise permutations are sampled
in antithetic pairs (a permutation and its reverse) until the time budget is spent; each
permutation's marginal contributions add up to ``f(x) - E[f]``, so the average does too: the
sampled values are additive exactly, only their split between columns is an estimate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_EXACT_FEATURES", "SampledShap"]

MAX_EXACT_FEATURES = 8
_MAX_ROWS_PER_CALL = 50_000  # model rows per predict call
_MAX_EXACT_MODEL_ROWS = 400_000  # beyond this, coalitions are sampled instead
_MAX_PERMUTATIONS = 2_000


class SampledShap:
    """Interventional Shapley values of ``predict`` (a frame → (rows, outputs) function).

    Args:
        predict: the model's output in the explained space, as a (rows, outputs) array.
        background: rows standing in for "feature absent" (at most ``max_background`` are used,
            drawn with ``seed``).
        time_budget_s: how long sampling may take per call (at least one antithetic pair runs).
        output: the space ``predict`` answers in (``probability`` or ``prediction``).
        classes: the class of each output column (``None`` for regression).
    """

    method = "permutation_shap"

    def __init__(
        self,
        predict: Callable[[pd.DataFrame], np.ndarray],
        background: pd.DataFrame,
        *,
        time_budget_s: float = 1.0,
        max_background: int = 50,
        seed: int = 0,
        output: str = "prediction",
        classes: list[Any] | None = None,
    ) -> None:
        if len(background) == 0:
            raise ValueError("a background sample of at least one row is needed")
        self.predict = predict
        self.output = output  # the space ``predict`` answers in (see modelward.explain.OUTPUTS)
        self.classes = classes
        self.labels = classes  # one output per class (None: a single unlabeled output)
        self.time_budget_s = time_budget_s
        self.seed = seed
        if len(background) > max_background:
            rng = np.random.default_rng(seed)
            pick = np.sort(rng.choice(len(background), size=max_background, replace=False))
            background = background.iloc[pick]
        self.bg = background.reset_index(drop=True)
        self.columns = list(background.columns)
        self.background = f"{len(self.bg)} background rows"
        self.base = np.asarray(predict(self.bg), dtype=np.float64).mean(axis=0)
        self.exact = False
        self.permutations: int | None = None

    def shap_values(self, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Attributions (rows, columns, outputs) and base values; sets :attr:`exact` and
        :attr:`permutations` for this call."""
        m, n, b = len(self.columns), len(x), len(self.bg)
        if m <= MAX_EXACT_FEATURES and n * (2**m) * b <= _MAX_EXACT_MODEL_ROWS:
            self.exact, self.permutations = True, None
            return self._exact(x), self.base.copy()
        self.exact = False
        return self._sampled(x), self.base.copy()

    # -- evaluation of coalitions ---------------------------------------------------------------

    def _values(self, x: pd.DataFrame, masks: np.ndarray) -> np.ndarray:
        """v(S) for every row of ``x`` and coalition mask (C, columns): (rows, C, outputs)."""
        n, c, b = len(x), len(masks), len(self.bg)
        out: list[np.ndarray] = []
        per_row = c * b
        rows_per_call = max(1, _MAX_ROWS_PER_CALL // per_row)
        for start in range(0, n, rows_per_call):
            chunk = x.iloc[start : start + rows_per_call]
            k = len(chunk)
            data: dict[str, Any] = {}
            for j, col in enumerate(self.columns):
                bgcol = self.bg[col].to_numpy()
                xcol = chunk[col].to_numpy()
                take = np.repeat(masks[:, j], b)  # (C*B,) per row
                # layout: row-major over (row, coalition, background row)
                values = np.tile(bgcol, k * c)
                chosen = np.tile(take, k)
                xs = np.repeat(xcol, c * b)
                values = (
                    np.where(chosen, xs, values) if values.dtype != object else _where(chosen, xs, values)
                )
                data[col] = pd.Series(values, dtype=self.bg[col].dtype)
            frame = pd.DataFrame(data, columns=self.columns)
            pred = np.asarray(self.predict(frame), dtype=np.float64)
            out.append(pred.reshape(k, c, b, -1).mean(axis=2))
        return np.concatenate(out, axis=0)

    def _exact(self, x: pd.DataFrame) -> np.ndarray:
        m = len(self.columns)
        masks = np.array([[(s >> j) & 1 for j in range(m)] for s in range(2**m)], dtype=bool)
        v = self._values(x, masks)  # (rows, 2^m, outputs)
        phi = np.zeros((len(x), m, v.shape[2]))
        weight = [math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) for s in range(m)]
        for j in range(m):
            bit = 1 << j
            others = [i for i in range(m) if i != j]
            for size in range(m):
                w = weight[size]
                for subset in combinations(others, size):
                    s = sum(1 << i for i in subset)
                    phi[:, j, :] += w * (v[:, s | bit, :] - v[:, s, :])
        return phi

    def _sampled(self, x: pd.DataFrame) -> np.ndarray:
        m = len(self.columns)
        rng = np.random.default_rng(self.seed)
        phi = np.zeros((len(x), m, len(self.base)))
        deadline = time.perf_counter() + self.time_budget_s
        done, pairs = 0, 1
        while done < _MAX_PERMUTATIONS:
            started = time.perf_counter()
            perms = []
            for _ in range(pairs):
                p = rng.permutation(m)
                perms += [p, p[::-1]]
            masks = np.zeros((len(perms) * (m + 1), m), dtype=bool)
            for i, p in enumerate(perms):
                for t in range(1, m + 1):
                    masks[i * (m + 1) + t, p[:t]] = True
            v = self._values(x, masks).reshape(len(x), len(perms), m + 1, -1)
            for i, p in enumerate(perms):
                phi[:, p, :] += v[:, i, 1:, :] - v[:, i, :-1, :]
            done += len(perms)
            now = time.perf_counter()
            left = deadline - now
            if left <= 0:
                break
            per_pair = (now - started) / pairs
            pairs = int(max(1, min(left / max(per_pair, 1e-6) * 0.8, (_MAX_PERMUTATIONS - done) // 2)))
            if left < per_pair:
                break
        self.permutations = done
        return phi / done


def _where(chosen: np.ndarray, xs: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = values.copy()
    out[chosen] = xs[chosen]
    return out
