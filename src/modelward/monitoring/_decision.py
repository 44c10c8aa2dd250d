"""Decisions across features: multiple-testing correction and the dataset-level rule."""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np

from modelward.errors import ConfigError

Correction: TypeAlias = Literal["bh", "bonferroni", "none"]
CORRECTIONS: tuple[str, ...] = ("bh", "bonferroni", "none")


def adjust_p_values(p_values: list[float], correction: str) -> list[float]:
    """Adjusted p-values: Benjamini-Hochberg (false discovery rate), Bonferroni (family-wise) or none.

    Rejecting where the adjusted value is below ``alpha`` controls the FDR (``"bh"``) or the FWER
    (``"bonferroni"``) at ``alpha``; with every null true, both keep the chance of any alarm ≤ ``alpha``.

    >>> adjust_p_values([0.01, 0.04, 0.03, 0.2], "bh")
    [0.04, 0.05333333333333334, 0.05333333333333334, 0.2]
    >>> adjust_p_values([0.01, 0.3], "bonferroni")
    [0.02, 0.6]
    """
    if correction not in CORRECTIONS:
        raise ConfigError(
            f"Unknown correction {correction!r}; expected one of {', '.join(CORRECTIONS)} "
            "('bh' = Benjamini-Hochberg, the default).",
            details={"correction": correction},
        )
    m = len(p_values)
    if m == 0 or correction == "none":
        return list(p_values)
    p = np.asarray(p_values, dtype=np.float64)
    if correction == "bonferroni":
        return [float(v) for v in np.minimum(p * m, 1.0)]
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    return [float(v) for v in out]


def dataset_decision(
    drifted: dict[str, bool], drift_share: float, important_features: list[str] | None
) -> tuple[bool, float, str]:
    """``(dataset_drift, drifted_share, reason)`` from per-feature flags of the features that were tested.

    Drift when the share of drifted features reaches ``drift_share``, or when any of the
    ``important_features`` drifted.
    """
    n = len(drifted)
    if n == 0:
        return False, 0.0, "no feature could be tested"
    names = [c for c, flag in drifted.items() if flag]
    share = len(names) / n
    parts = [f"{len(names)} of {n} features drifted ({share:.0%}; rule: ≥ {drift_share:.0%})"]
    hit = share >= drift_share
    if important_features:
        important = [c for c in important_features if drifted.get(c)]
        if important:
            parts.append(f"important feature(s) drifted: {', '.join(important)}")
            hit = True
        else:
            parts.append("no important feature drifted")
    return hit, share, "; ".join(parts)
