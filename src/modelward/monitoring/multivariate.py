"""Multivariate drift: can a classifier tell the reference rows from the current ones?

Per-feature tests look at one column at a time, so they miss a change in how columns relate (the
marginals stay the same while a correlation flips). A *domain classifier* sees every column at once:
gradient-boosted trees (scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier`) learn
to predict whether a row comes from the current window, and stratified k-fold cross-validation gives
every row an out-of-fold score. If the two samples are exchangeable, no model can rank current rows
above reference rows better than chance, so the out-of-fold ROC AUC is about 0.5.

* **AUC** is computed on all out-of-fold scores together: ``AUC = U / (n_ref * n_cur)`` where ``U`` is
  the Mann-Whitney statistic of the current rows' scores against the reference rows' scores.
* **Significance**: the one-sided Mann-Whitney U test (normal approximation with tie correction and
  continuity correction, as :func:`scipy.stats.mannwhitneyu` computes it) of "current scores rank
  higher" — which is exactly a test of ``AUC > 0.5``.
* **Decision**: drift when ``p < alpha`` *and* ``AUC >= min_auc`` (default 0.55), so a very large
  sample does not alarm on a separation too small to matter.
* **Attribution**: permutation importance on the held-out folds — how much the out-of-fold AUC drops
  when one column is shuffled — averaged over folds; shares are the positive drops normalised to sum
  to 1. Columns that separate the samples only jointly (a correlation flip) both get large drops.
  By default computed only when the AUC is significant (otherwise there is nothing to attribute).

Each side is subsampled (seeded) to at most ``max_rows`` rows, so the cost does not grow with the
window. The trees stop early once 10% of each training fold held out stops improving (the out-of-fold
rows never take part), which ends quickly when nothing separates the samples. Categorical columns are ordinal-encoded (at most 254 categories each, rarer ones pooled; missing
values kept as missing) and passed to the trees as categorical features.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> z = rng.normal(size=(2000, 2))
>>> ref = pd.DataFrame({"a": z[:, 0], "b": 0.9 * z[:, 0] + 0.44 * z[:, 1]})
>>> z = rng.normal(size=(2000, 2))
>>> cur = pd.DataFrame({"a": z[:, 0], "b": -0.9 * z[:, 0] + 0.44 * z[:, 1]})
>>> result = multivariate_drift(ref, cur, seed=0)
>>> result.drifted, result.auc > 0.9, sorted(result.top_features(2))
(True, True, ['a', 'b'])
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special, stats
from threadpoolctl import threadpool_limits

from modelward.errors import ConfigError, DataError
from modelward.monitoring._columns import dtype_family
from modelward.monitoring._json import jsonable

logger = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 20_000
DEFAULT_MIN_AUC = 0.55
_MAX_CATEGORIES = 254  # HistGradientBoosting accepts category codes below max_bins (255)


@dataclass(frozen=True)
class FeatureAttribution:
    """How much one column separates reference from current.

    ``feature`` is the column; ``auc_drop`` is the mean fall of the held-out AUC when the column is
    shuffled (can be slightly negative by chance); ``share`` is its positive part divided by the sum
    over columns.
    """

    feature: str
    auc_drop: float
    share: float


@dataclass(frozen=True)
class MultivariateResult:
    """The domain classifier's verdict.

    Attributes:
        auc: out-of-fold ROC AUC of "row is from the current window" (0.5 = indistinguishable).
        fold_aucs: the AUC within each held-out fold.
        p_value: one-sided Mann-Whitney U p-value of ``AUC > 0.5``.
        drifted: ``p_value < alpha`` and ``auc >= min_auc``; ``reason`` says which held.
        attributions: one per feature, largest share first.
        n_reference, n_current: rows used (after subsampling).
        n_reference_total, n_current_total: rows before subsampling.
        features: the columns the classifier saw; ``categorical`` those encoded as categories.
        settings: alpha, min_auc, n_splits, max_rows, seed, model parameters.
        alpha, min_auc: the two thresholds of the verdict.
        method: what ran, in words (classifier, cross-validation, test).
    """

    auc: float
    fold_aucs: tuple[float, ...]
    p_value: float
    alpha: float
    min_auc: float
    drifted: bool
    reason: str
    attributions: tuple[FeatureAttribution, ...]
    n_reference: int
    n_current: int
    n_reference_total: int
    n_current_total: int
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    method: str = (
        "domain classifier (HistGradientBoosting), stratified k-fold out-of-fold ROC AUC, "
        "one-sided Mann-Whitney U test"
    )

    def top_features(self, k: int = 5, min_share: float = 0.01) -> list[str]:
        """The (at most) ``k`` columns with the largest attribution share, among those with ``min_share``."""
        return [a.feature for a in self.attributions if a.share >= min_share and a.share > 0][:k]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(asdict(self))
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> MultivariateResult:
        """The result :meth:`to_dict` wrote (non-finite numbers come back as ``None``)."""
        values = {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
        values["fold_aucs"] = tuple(values["fold_aucs"])
        values["attributions"] = tuple(FeatureAttribution(**a) for a in values["attributions"])
        values["features"] = tuple(values["features"])
        values["categorical"] = tuple(values["categorical"])
        return cls(**values)


def auc_mann_whitney(labels: NDArray[Any], scores: NDArray[Any]) -> tuple[float, float]:
    """``(AUC, one-sided p-value)`` of ``scores`` ranking the rows with ``labels == 1`` higher.

    ``AUC = U1 / (n1 * n0)``; the p-value is the normal approximation of the Mann-Whitney U test with
    tie and continuity corrections (``scipy.stats.mannwhitneyu(..., alternative="greater",
    method="asymptotic")``).

    >>> auc, p = auc_mann_whitney(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> auc, round(p, 4)
    (0.75, 0.3493)
    """
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        raise DataError("auc_mann_whitney needs rows of both labels.")
    ranks = stats.rankdata(s)
    u1 = float(ranks[y].sum()) - n1 * (n1 + 1) / 2.0
    auc = u1 / (n1 * n0)
    n = n1 + n0
    _, tie_counts = np.unique(s, return_counts=True)
    tie_term = float((tie_counts.astype(np.float64) ** 3 - tie_counts).sum())
    var = n1 * n0 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:
        return auc, 1.0
    z = (u1 - n1 * n0 / 2.0 - 0.5) / math.sqrt(var)
    return auc, float(special.ndtr(-z))


def _encode(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], categorical: set[str]
) -> tuple[NDArray[np.float64], list[str], list[str]]:
    """Both frames stacked into one float matrix (reference rows first); categorical columns as codes."""
    from sklearn.preprocessing import OrdinalEncoder

    used: list[str] = []
    cats: list[str] = []
    blocks: list[NDArray[np.float64]] = []
    for name in columns:
        r, c = reference[name], current[name]
        fam_r, fam_c = dtype_family(r), dtype_family(c)
        is_cat = name in categorical or fam_r == "string" or fam_c == "string"
        if not is_cat and {fam_r, fam_c} <= {"numeric", "boolean"}:
            both = np.concatenate(
                [r.to_numpy(dtype=np.float64, na_value=np.nan), c.to_numpy(dtype=np.float64, na_value=np.nan)]
            )
            both[~np.isfinite(both)] = np.nan
            blocks.append(both.reshape(-1, 1))
            used.append(name)
        elif is_cat and {fam_r, fam_c} <= {"numeric", "boolean", "string"}:
            values = pd.concat([r, c], ignore_index=True)
            missing = values.isna().to_numpy()
            text = values.astype(object).where(~missing, None).map(lambda v: None if v is None else str(v))
            filled = text.where(~missing, "\x00missing").to_numpy(dtype=object).reshape(-1, 1)
            enc = OrdinalEncoder(max_categories=_MAX_CATEGORIES, dtype=np.float64)
            codes = enc.fit_transform(filled)
            codes[missing] = np.nan
            blocks.append(np.asarray(codes, dtype=np.float64))
            used.append(name)
            cats.append(name)
        else:
            logger.info("multivariate drift skips column %r (dtypes %s / %s)", name, r.dtype, c.dtype)
    if not blocks:
        raise DataError(
            "Multivariate drift needs at least one numeric, boolean or categorical column shared "
            f"by both frames; got {', '.join(columns) or 'none'}."
        )
    return np.hstack(blocks), used, cats


def _subsample(frame: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame
    idx = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[idx]


def _cross_validate(
    x: NDArray[np.float64],
    y: NDArray[np.int8],
    cat_mask: NDArray[np.bool_],
    n_splits: int,
    max_iter: int,
    seed: int,
) -> tuple[NDArray[np.float64], list[float], list[tuple[Any, NDArray[np.int64]]]]:
    """Out-of-fold scores, per-fold AUCs, and each fold's fitted model with its held-out rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    scores = np.empty(len(y), dtype=np.float64)
    fold_aucs: list[float] = []
    fitted: list[tuple[Any, NDArray[np.int64]]] = []
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(folds.split(x, y)):
        model = HistGradientBoostingClassifier(
            max_iter=max_iter,
            categorical_features=cat_mask if cat_mask.any() else None,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=10,
            random_state=seed + k,
        )
        model.fit(x[train], y[train])
        scores[test] = model.predict_proba(x[test])[:, 1]
        fold_aucs.append(float(roc_auc_score(y[test], scores[test])))
        fitted.append((model, test))
    return scores, fold_aucs, fitted


def _permutation_drops(
    fitted: list[tuple[Any, NDArray[np.int64]]],
    x: NDArray[np.float64],
    y: NDArray[np.int8],
    n_repeats: int,
    seed: int,
) -> NDArray[np.float64]:
    """Mean fall of the held-out AUC when each column is shuffled, averaged over the folds."""
    from sklearn.inspection import permutation_importance

    drops = np.zeros(x.shape[1])
    for k, (model, test) in enumerate(fitted):
        imp = permutation_importance(
            model, x[test], y[test], scoring="roc_auc", n_repeats=n_repeats, random_state=seed + k
        )
        drops += np.asarray(imp["importances_mean"], dtype=np.float64)
    out: NDArray[np.float64] = drops / len(fitted)
    return out


def multivariate_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    alpha: float = 0.05,
    min_auc: float = DEFAULT_MIN_AUC,
    n_splits: int = 5,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_iter: int = 100,
    attribution: bool | Literal["auto"] = "auto",
    n_repeats: int = 2,
    seed: int = 0,
    n_threads: int | None = 1,
) -> MultivariateResult:
    """Train a domain classifier to separate ``reference`` rows from ``current`` rows.

    Args:
        reference, current: the two samples (frames with the same columns).
        columns: the columns to use (default: every column both frames have, reference order).
            Columns of other types (dates…) are skipped and logged.
        categorical: columns to treat as categories even when numeric (text columns always are).
        alpha: significance level of the AUC test.
        min_auc: smallest AUC an alarm also needs (effect-size floor).
        n_splits: folds of the stratified cross-validation.
        max_rows: each side is subsampled (seeded, without replacement) to at most this many rows.
        max_iter: most boosting iterations of the classifier (it stops early when it stops improving).
        attribution: compute permutation importances (``n_repeats`` shuffles per column and fold):
            ``True`` always, ``False`` never, ``"auto"`` (default) when the AUC is significant — when it is
            not, no column separates the samples and the importances would only be noise. They cost about
            as much again as the cross-validation.
        seed: seeds the subsampling, the folds, the classifier and the permutations.
        n_threads: OpenMP threads for the trees (``None``: the library default, all cores). One is the
            default because on at most ``2 * max_rows`` rows the trees gain little from more, and a busy
            machine makes spinning OpenMP threads very slow.
    """
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise ConfigError(f"alpha must be between 0 and 1 (exclusive), got {alpha!r}. Try 0.05.")
    if not (isinstance(min_auc, int | float) and 0.5 <= min_auc < 1):
        raise ConfigError(f"min_auc must be in [0.5, 1), got {min_auc!r}. The default is {DEFAULT_MIN_AUC}.")
    for pname, value, low in (
        ("n_splits", n_splits, 2),
        ("max_rows", max_rows, 10),
        ("max_iter", max_iter, 1),
        ("n_repeats", n_repeats, 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{pname} must be an integer >= {low}, got {value!r}.")
    if attribution not in (True, False, "auto"):
        raise ConfigError(f"attribution must be True, False or 'auto', got {attribution!r}.")
    if n_threads is not None and (
        not isinstance(n_threads, int) or isinstance(n_threads, bool) or n_threads < 1
    ):
        raise ConfigError(f"n_threads must be None or an integer >= 1, got {n_threads!r}.")
    for label, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise DataError(
                f"multivariate_drift expects pandas DataFrames; {label} is {type(frame).__name__}."
            )
    ref_cols = [str(c) for c in reference.columns]
    cur_cols = {str(c) for c in current.columns}
    reference = reference.set_axis(ref_cols, axis=1)
    current = current.set_axis([str(c) for c in current.columns], axis=1)
    if columns is None:
        use = [c for c in ref_cols if c in cur_cols]
    else:
        use = [str(c) for c in columns]
        missing = [c for c in use if c not in ref_cols or c not in cur_cols]
        if missing:
            raise ConfigError(
                f"multivariate_drift: column(s) {', '.join(missing)} are not in both frames.",
                details={"columns": missing},
            )
    n_ref_total, n_cur_total = len(reference), len(current)
    if min(n_ref_total, n_cur_total) < n_splits:
        raise DataError(
            f"Multivariate drift needs at least {n_splits} rows on each side (one per fold); got "
            f"{n_ref_total} reference and {n_cur_total} current rows."
        )
    rng = np.random.default_rng(seed)
    ref = _subsample(reference[use], max_rows, rng)
    cur = _subsample(current[use], max_rows, rng)
    x, used, cats = _encode(ref, cur, use, {str(c) for c in categorical})
    y = np.concatenate([np.zeros(len(ref), dtype=np.int8), np.ones(len(cur), dtype=np.int8)])
    cat_mask = np.array([name in cats for name in used])
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        scores, fold_aucs, fitted = _cross_validate(x, y, cat_mask, n_splits, max_iter, seed)
        auc, p_value = auc_mann_whitney(y, scores)
        significant, large = p_value < alpha, auc >= min_auc
        attribute = attribution is True or (attribution == "auto" and significant)
        drops = _permutation_drops(fitted, x, y, n_repeats, seed) if attribute else np.zeros(len(used))
    positive = np.clip(drops, 0.0, None)
    total = float(positive.sum())
    attributions = tuple(
        sorted(
            (
                FeatureAttribution(name, float(d), float(p / total) if total > 0 else 0.0)
                for name, d, p in zip(used, drops, positive, strict=True)
            )
            if attribute
            else (),
            key=lambda a: (-a.share, -a.auc_drop, a.feature),
        )
    )
    drifted = significant and large
    if drifted:
        reason = f"AUC {auc:.3f} ≥ {min_auc} and p = {p_value:.3g} < alpha {alpha}"
    elif significant:
        reason = f"p = {p_value:.3g} < alpha {alpha} but AUC {auc:.3f} is below the minimum {min_auc}"
    else:
        reason = f"AUC {auc:.3f} is not significantly above 0.5 (p = {p_value:.3g}, alpha {alpha})"
    logger.debug("multivariate drift: auc=%.4f p=%.3g on %d+%d rows", auc, p_value, len(ref), len(cur))
    return MultivariateResult(
        auc=float(auc),
        fold_aucs=tuple(fold_aucs),
        p_value=p_value,
        alpha=float(alpha),
        min_auc=float(min_auc),
        drifted=bool(drifted),
        reason=reason,
        attributions=attributions,
        n_reference=len(ref),
        n_current=len(cur),
        n_reference_total=n_ref_total,
        n_current_total=n_cur_total,
        features=tuple(used),
        categorical=tuple(cats),
        settings={
            "alpha": alpha,
            "min_auc": min_auc,
            "n_splits": n_splits,
            "max_rows": max_rows,
            "max_iter": max_iter,
            "n_repeats": n_repeats,
            "seed": seed,
            "attribution": attribution,
        },
    )
