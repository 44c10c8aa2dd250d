"""The reference profile: fitted once from reference data, compared with every current window."""

from __future__ import annotations

import io
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, NamedTuple, TypeAlias, TypeVar

import numpy as np
import pandas as pd

from modelward.errors import ConfigError, DataError
from modelward.monitoring._columns import (
    KINDS,
    CategoricalSummary,
    ColumnKind,
    ColumnSummary,
    NumericSummary,
    infer_kind,
    prepare_current,
    summarise,
)
from modelward.monitoring._decision import CORRECTIONS, adjust_p_values, dataset_decision
from modelward.monitoring._summaries import distribution
from modelward.monitoring.drift import REGISTRY, DriftTest, TestOutcome, get_test
from modelward.monitoring.drift_report import DriftReport, FeatureResult
from modelward.monitoring.quality import Finding, column_findings, frame_findings, sort_findings

logger = logging.getLogger(__name__)

FORMAT = "modelward.profile/1"
MethodSpec: TypeAlias = str | DriftTest | Mapping[str, str | DriftTest]

#: Methods ``"auto"`` picks per column kind, and why.
AUTO_METHODS: dict[ColumnKind, tuple[str, str]] = {
    "numeric": (
        "ks",
        "numeric column: Kolmogorov-Smirnov p-value (exact up to 10,000 values per side, "
        "asymptotic above) with the normalised Wasserstein distance as effect size",
    ),
    "categorical": (
        "chi2",
        "categorical column: chi-square test of homogeneity on the 2xK table with the "
        "Jensen-Shannon distance as effect size",
    ),
    "boolean": (
        "ztest",
        "boolean column: two-proportion z-test with the Jensen-Shannon distance as effect size",
    ),
}
#: Smallest effect an alarm needs, per column kind (normalised Wasserstein for numeric columns, i.e.
#: 0.05 standard deviations for a pure shift; Jensen-Shannon distance, base 2, for the others).
DEFAULT_MIN_EFFECT: dict[ColumnKind, float] = {"numeric": 0.05, "categorical": 0.05, "boolean": 0.05}
_PARALLEL_MIN_VALUES = 500_000  # compare columns on threads once the current frame is this large


class _Compared(NamedTuple):
    """What comparing one column left behind (no window data: the prepared column is already freed)."""

    unusable: str | None  # why the column could not be compared at all (missing, type changed)
    n_current: int
    outcome: TestOutcome | None
    findings: list[Finding]


_T = TypeVar("_T")
_R = TypeVar("_R")


def _map_columns(func: Callable[[_T], _R], items: Iterable[_T], n_values: int) -> list[_R]:
    """``[func(item) for item in items]``, on a thread pool when there are enough values to gain."""
    todo = list(items)
    if n_values >= _PARALLEL_MIN_VALUES and len(todo) > 1:
        with ThreadPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1, 8)) as pool:
            return list(pool.map(func, todo))
    return [func(item) for item in todo]


def _string_columns(frame: pd.DataFrame, caller: str) -> pd.DataFrame:
    """``frame`` with ``str`` column names (profiles key columns by name), refusing duplicates."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{caller} expects a pandas DataFrame, got {type(frame).__name__}.")
    names = [str(c) for c in frame.columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(
            f"{caller}: the frame has duplicate column names ({', '.join(duplicates)}); rename them first.",
            details={"columns": duplicates},
        )
    if all(isinstance(c, str) for c in frame.columns):
        return frame
    return frame.set_axis(names, axis=1)


class Profile:
    """What drift and quality checks need to know about the reference data, computed once.

    Numeric columns keep their sorted finite values (so KS and Wasserstein are exact, and each window
    only sorts its own data) plus mean and standard deviation; categorical and boolean columns keep their
    category counts. Save with :meth:`to_bytes` (``.npz`` arrays + JSON, no pickle) and reuse without
    the reference data.

    >>> import pandas as pd
    >>> ref = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", "a"]})
    >>> profile = Profile.fit(ref)
    >>> profile.schema
    {'x': 'numeric', 'c': 'categorical'}
    >>> Profile.from_bytes(profile.to_bytes()).schema == profile.schema
    True
    """

    def __init__(
        self, columns: Mapping[str, ColumnSummary], n_rows: int, ignored: tuple[str, ...] = ()
    ) -> None:
        self.columns: dict[str, ColumnSummary] = dict(columns)
        self.n_rows = n_rows
        self.ignored = tuple(ignored)

    def __repr__(self) -> str:
        return f"Profile(n_rows={self.n_rows}, columns={self.schema!r})"

    @property
    def schema(self) -> dict[str, ColumnKind]:
        """Column name → kind, in reference order."""
        return {name: col.kind for name, col in self.columns.items()}

    # -- fitting ----------------------------------------------------------------------------------------

    @classmethod
    def fit(cls, reference: pd.DataFrame, schema: Mapping[str, str] | None = None) -> Profile:
        """Profile every column of ``reference``.

        Args:
            reference: the reference data (e.g. the training set).
            schema: column → ``"numeric"``, ``"categorical"``, ``"boolean"`` or ``"ignore"`` for the
                columns whose kind should not be inferred (bool dtype → boolean, numbers → numeric,
                strings/categories → categorical).
        """
        reference = _string_columns(reference, "Profile.fit")
        schema = dict(schema or {})
        names = [str(c) for c in reference.columns]
        unknown = [c for c in schema if c not in names]
        if unknown:
            raise ConfigError(
                f"schema names column(s) the reference does not have: {', '.join(unknown)}.",
                details={"columns": unknown},
            )
        bad = {c: k for c, k in schema.items() if k not in (*KINDS, "ignore")}
        if bad:
            col, bad_kind = next(iter(bad.items()))
            raise ConfigError(
                f"schema gives column {col!r} the kind {bad_kind!r}; expected one of "
                f"{', '.join((*KINDS, 'ignore'))}.",
                details={"column": col, "kind": bad_kind},
            )

        def fit_one(position: int) -> ColumnSummary | None:
            name = names[position]
            declared = schema.get(name)
            if declared == "ignore":
                return None
            series = reference.iloc[:, position]
            kind = next((k for k in KINDS if k == declared), None) or infer_kind(series, name)
            return summarise(series, kind, name)

        # numpy sorts and pandas/Arrow counting release the GIL, so columns are profiled on threads once
        # the frame is large; map() keeps column order and raises the first failing column's error.
        summaries = _map_columns(fit_one, range(len(names)), len(reference) * len(names))
        columns = {
            name: summary for name, summary in zip(names, summaries, strict=True) if summary is not None
        }
        ignored = tuple(name for name, summary in zip(names, summaries, strict=True) if summary is None)
        return cls(columns, len(reference), ignored)

    # -- saving ----------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The profile as an ``.npz`` archive: arrays for values/counts, one JSON document for the rest."""
        arrays: dict[str, np.ndarray[Any, Any]] = {}
        metas: list[dict[str, Any]] = []
        for i, col in enumerate(self.columns.values()):
            meta = col.meta()
            if isinstance(col, NumericSummary):
                arrays[f"values_{i}"] = col.values
            else:
                arrays[f"counts_{i}"] = col.counts
            metas.append(meta)
        doc = {"format": FORMAT, "n_rows": self.n_rows, "ignored": list(self.ignored), "columns": metas}
        text = json.dumps(doc, allow_nan=True, ensure_ascii=False).encode("utf-8")
        arrays["meta"] = np.frombuffer(text, dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Profile:
        """Load a profile written by :meth:`to_bytes` (never unpickles anything)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                doc = json.loads(npz["meta"].tobytes().decode("utf-8"))
                if doc.get("format") != FORMAT:
                    raise DataError(
                        f"Not a modelward profile (format {doc.get('format')!r}, expected {FORMAT!r})."
                    )
                columns: dict[str, ColumnSummary] = {}
                for i, meta in enumerate(doc["columns"]):
                    common = {
                        "name": meta["name"],
                        "dtype": meta["dtype"],
                        "family": meta["family"],
                        "n_missing": int(meta["n_missing"]),
                    }
                    if meta["kind"] == "numeric":
                        columns[meta["name"]] = NumericSummary(
                            values=np.asarray(npz[f"values_{i}"], dtype=np.float64),
                            mean=float(meta["mean"]),
                            std=float(meta["std"]),
                            **common,
                        )
                    else:
                        cats = (
                            tuple(bool(c) for c in meta["categories"])
                            if meta["kind"] == "boolean"
                            else tuple(meta["categories"])
                        )
                        columns[meta["name"]] = CategoricalSummary(
                            categories=cats,
                            counts=np.asarray(npz[f"counts_{i}"], dtype=np.int64),
                            kind=meta["kind"],
                            **common,
                        )
                return cls(columns, int(doc["n_rows"]), tuple(doc.get("ignored", ())))
        except (ValueError, KeyError, OSError, UnicodeDecodeError, TypeError) as exc:
            raise DataError(f"Cannot read the profile: {exc}. Was it written by Profile.to_bytes()?") from exc

    # -- comparing -------------------------------------------------------------------------------------

    def _resolve_method(
        self, column: str, kind: ColumnKind, method: MethodSpec
    ) -> tuple[DriftTest, str, bool]:
        spec: str | DriftTest
        explicit = False
        if isinstance(method, Mapping):
            spec = method.get(column, "auto")
            explicit = column in method
        else:
            spec = method
        if isinstance(spec, str) and spec == "auto":
            name, why = AUTO_METHODS[kind]
            return get_test(name), why, True
        test = spec if isinstance(spec, DriftTest) else get_test(spec)
        if test.accepts(kind):
            return test, f"method {test.name!r} requested", False
        if explicit:
            raise ConfigError(
                f"Method {test.name!r} does not accept {kind} column {column!r}; it accepts "
                f"{', '.join(sorted(test.kinds))}. Methods for {kind} columns: "
                f"{', '.join(sorted(n for n, c in REGISTRY.items() if kind in c.kinds))}.",
                details={"column": column, "method": test.name, "kind": kind},
            )
        name, why = AUTO_METHODS[kind]
        return (
            get_test(name),
            f"{test.name!r} does not accept {kind} columns, so auto chose {name!r}: {why}",
            True,
        )

    def compare(
        self,
        current: pd.DataFrame,
        *,
        method: MethodSpec = "auto",
        alpha: float = 0.05,
        correction: str = "bh",
        min_effect: float | Mapping[str, float] | None = None,
        drift_share: float = 0.5,
        important_features: list[str] | None = None,
        quality: bool = True,
        distributions: bool = True,
    ) -> DriftReport:
        """Test every reference column of ``current`` for drift, and (by default) check data quality.

        Args:
            current: the current window.
            method: ``"auto"`` (KS for numeric, chi-square for categorical, z-test for boolean columns),
                a registered name or :class:`DriftTest` for every column (columns it cannot handle fall
                back to auto), or a mapping column → method (others auto).
            alpha: significance level for the p-value tests, after correction.
            correction: ``"bh"`` (Benjamini-Hochberg, default), ``"bonferroni"`` or ``"none"``, applied
                across the p-value tests of this comparison.
            min_effect: smallest effect size a p-value test's alarm also needs (so a large window does
                not alarm on a negligible shift): one number for all kinds, or per kind; defaults to
                :data:`DEFAULT_MIN_EFFECT`. ``0`` gives pure significance. Distance tests compare their
                statistic with their own threshold instead.
            drift_share: the dataset drifts when at least this share of tested features drift …
            important_features: … or when any of these columns drifts.
            quality: also run :func:`modelward.monitoring.quality.check_quality`.
            distributions: attach a reference-vs-current summary to each feature (for plots).
        """
        current = _string_columns(current, "compare")
        if not (isinstance(alpha, int | float) and 0 < alpha < 1):
            raise ConfigError(f"alpha must be between 0 and 1 (exclusive), got {alpha!r}. Try 0.05.")
        if correction not in CORRECTIONS:
            raise ConfigError(f"Unknown correction {correction!r}; expected one of {', '.join(CORRECTIONS)}.")
        if not (isinstance(drift_share, int | float) and 0 < drift_share <= 1):
            raise ConfigError(f"drift_share must be in (0, 1], got {drift_share!r}. The default is 0.5.")
        effects = self._min_effects(min_effect)
        important = list(important_features or [])
        unknown = [c for c in important if c not in self.columns]
        if unknown:
            raise ConfigError(
                f"important_features names column(s) not in the profile: {', '.join(unknown)}.",
                details={"columns": unknown},
            )
        plans = {name: self._resolve_method(name, col.kind, method) for name, col in self.columns.items()}

        dists: dict[str, dict[str, Any]] = {}

        def run_one(name: str) -> _Compared:
            # Everything that needs the prepared (sorted) window column happens here, on the worker
            # threads, so each column's copy is freed as soon as it is done.
            if name not in current.columns:
                return _Compared("column missing from the current data", 0, None, [])
            ref = self.columns[name]
            series = current[name]
            prepared = prepare_current(series, ref)
            outcome = None
            if not isinstance(prepared, str) and ref.n > 0 and prepared.n > 0:
                outcome = plans[name][0].run(ref, prepared)
                if distributions:
                    dists[name] = distribution(ref, prepared)
            found = column_findings(name, ref, series, prepared) if quality else []
            if isinstance(prepared, str):
                return _Compared(prepared, 0, None, found)
            return _Compared(None, prepared.n, outcome, found)

        names = list(self.columns)
        outputs = _map_columns(run_one, names, len(current) * len(names))
        results = self._decide(names, outputs, plans, alpha, correction, effects)
        if distributions:
            results = [replace(r, distribution=dists[r.column]) if r.status == "ok" else r for r in results]
        drifted = {r.column: r.drifted for r in results if r.status == "ok"}
        dataset_drift, share, reason = dataset_decision(drifted, drift_share, important)
        findings = (
            sort_findings(frame_findings(self, current) + [f for out in outputs for f in out.findings])
            if quality
            else []
        )
        settings = {
            "method": method if isinstance(method, str) else repr(method),
            "alpha": alpha,
            "correction": correction,
            "min_effect": effects,
            "drift_share": drift_share,
            "important_features": important,
        }
        return DriftReport(
            tuple(results), dataset_drift, reason, share, settings, tuple(findings), self.n_rows, len(current)
        )

    def _min_effects(self, min_effect: float | Mapping[str, float] | None) -> dict[ColumnKind, float]:
        effects = dict(DEFAULT_MIN_EFFECT)
        if min_effect is None:
            return effects
        given: dict[str, float] = (
            dict(min_effect) if isinstance(min_effect, Mapping) else dict.fromkeys(KINDS, min_effect)
        )
        for key, value in given.items():
            kind = next((k for k in KINDS if k == key), None)
            if kind is None:
                raise ConfigError(f"min_effect has unknown kind {key!r}; expected {', '.join(KINDS)}.")
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(f"min_effect for {kind} must be a number >= 0, got {value!r}.")
            effects[kind] = float(value)
        return effects

    def _decide(
        self,
        names: list[str],
        outputs: list[_Compared],
        plans: dict[str, tuple[DriftTest, str, bool]],
        alpha: float,
        correction: str,
        effects: dict[ColumnKind, float],
    ) -> list[FeatureResult]:
        p_names = [
            n
            for n, out in zip(names, outputs, strict=True)
            if out.outcome is not None and out.outcome.p_value is not None
        ]
        p_by_name = {
            n: out.outcome.p_value
            for n, out in zip(names, outputs, strict=True)
            if out.outcome is not None and out.outcome.p_value is not None
        }
        adjusted = dict(
            zip(p_names, adjust_p_values([float(p_by_name[n]) for n in p_names], correction), strict=True)
        )
        results: list[FeatureResult] = []
        for name, compared in zip(names, outputs, strict=True):
            ref = self.columns[name]
            test, why, auto = plans[name]
            n_cur = compared.n_current
            out = compared.outcome
            if out is None:
                reason = (
                    compared.unusable
                    if compared.unusable is not None
                    else (
                        "no non-missing values in the reference"
                        if ref.n == 0
                        else "no non-missing values in the current window"
                    )
                )
                results.append(
                    FeatureResult(
                        name, ref.kind, None, reason, auto, "skipped", n_reference=ref.n, n_current=n_cur
                    )
                )
                continue
            if out.p_value is not None:
                p_adj = adjusted[name]
                floor = effects[ref.kind]
                drifted = p_adj < alpha and out.effect_size >= floor
                threshold, min_eff = alpha, floor
            else:
                p_adj, drifted, threshold, min_eff = None, out.drifted, out.threshold, None
            results.append(
                FeatureResult(
                    column=name,
                    kind=ref.kind,
                    method=test.name,
                    reason=why,
                    auto=auto,
                    status="ok",
                    drifted=bool(drifted),
                    statistic=out.statistic,
                    p_value=out.p_value,
                    p_value_adjusted=p_adj,
                    effect_size=out.effect_size,
                    effect_measure=out.effect_measure,
                    threshold=threshold,
                    min_effect=min_eff,
                    n_reference=ref.n,
                    n_current=n_cur,
                    details=dict(out.details),
                )
            )
        return results
