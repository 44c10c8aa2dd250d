"""What an explainer returns: attributions per input column, base values, and how they were made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Explanation", "RowExplanation"]

# What the attributions add up to, per method and model (named in every answer).
OUTPUTS = {
    "probability": "the predicted probability of the class",
    "log_odds": "the log-odds of the class (the model's decision function)",
    "logit": "the class's score before the softmax (multinomial log-odds)",
    "prediction": "the predicted value",
}


@dataclass(frozen=True)
class RowExplanation:
    """One row's attributions for one output: ``base_value + sum(attributions) == value``."""

    label: Any  # the class explained (None for regression)
    base_value: float
    value: float
    attributions: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.label,
            "base_value": self.base_value,
            "value": self.value,
            "attributions": self.attributions,
        }


@dataclass(frozen=True)
class Explanation:
    """Attributions of a batch of rows.

    Attributes:
        method: ``tree_shap`` (exact TreeSHAP, path-dependent), ``linear_shap`` (exact, features
            taken as independent over the background), ``exact_shap`` (exact interventional
            Shapley values over the background, every coalition evaluated) or ``permutation_shap``
            (sampled permutations within a time budget; still additive).
        output: the space the values are in: ``probability``, ``log_odds``, ``logit`` or ``prediction``.
        exact: whether the values are the exact Shapley values of the method (not sampled).
        features: the input columns, in the order of ``values``' second axis.
        values: attributions, shape (rows, features, outputs).
        base_values: the expected output over the background, shape (outputs,).
        labels: the class of each output (``None`` for a regression's single output). A binary
            model explained in log-odds has one output, for ``classes[1]``; the other class's
            attributions are its negation.
        classes: every class of the model (``None`` for regression).
        background: what the base value is the expectation over (e.g. ``"training data (tree
            covers)"``, ``"reference holdout, 100 rows"``).
        permutations: for ``permutation_shap``, how many permutations were evaluated.
    """

    method: str
    output: str
    exact: bool
    features: list[str]
    values: np.ndarray
    base_values: np.ndarray
    labels: list[Any] | None
    classes: list[Any] | None
    background: str
    permutations: int | None = None

    @property
    def rows(self) -> int:
        return int(self.values.shape[0])

    def outputs_of(self, label: Any) -> tuple[int, float]:
        """(output index, sign) giving the attributions of class ``label``."""
        if self.labels is None:
            return 0, 1.0
        if label in self.labels:
            return self.labels.index(label), 1.0
        if (
            len(self.labels) == 1
            and self.classes is not None
            and len(self.classes) == 2
            and label in self.classes
        ):
            return 0, -1.0  # binary log-odds: the other class's log-odds are the negation
        raise ValueError(f"class {label!r} is not one of {self.classes}")

    def row(self, i: int, label: Any = None) -> RowExplanation:
        """Row ``i`` explained for class ``label`` (ignored for regression)."""
        k, sign = self.outputs_of(label)
        phi = sign * self.values[i, :, k]
        base = sign * float(self.base_values[k])
        return RowExplanation(
            None if self.labels is None else label,
            base,
            base + float(phi.sum()),
            {f: float(v) for f, v in zip(self.features, phi, strict=True)},
        )

    def for_rows(self, predicted: Sequence[Any] | None = None, *, all_classes: bool = False) -> list[Any]:
        """JSON-ready rows: each the predicted class's explanation, or a list over every class."""
        out: list[Any] = []
        for i in range(self.rows):
            if self.classes is None:
                out.append(self.row(i).to_dict())
            elif all_classes:
                out.append([self.row(i, c).to_dict() for c in self.classes])
            else:
                assert predicted is not None, "the predicted classes are needed"
                out.append(self.row(i, predicted[i]).to_dict())
        return out

    def describe(self) -> dict[str, Any]:
        """The method, output space and background, as an answer states them."""
        out: dict[str, Any] = {
            "method": self.method,
            "exact": self.exact,
            "output": self.output,
            "output_meaning": OUTPUTS[self.output],
            "background": self.background,
            "features": self.features,
        }
        if self.permutations is not None:
            out["permutations"] = self.permutations
        return out
