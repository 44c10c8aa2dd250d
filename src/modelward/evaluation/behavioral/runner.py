"""Running a behavioral suite against a model's ``predict`` / ``predict_proba``.

Each test builds its base rows (from the file, or sampled from the frame given to :func:`run_suite`),
applies its perturbations, and scores base and perturbed rows in one call of the model, so a test costs
one ``predict`` however many rows it checks. A test passes when its share of failing checks is at most
its ``max_failure_rate``; the result keeps the first failing examples (row, change, before, after) so a
failed gate can show why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelward.errors import ConfigError, DataError
from modelward.evaluation._json import jsonable
from modelward.evaluation.behavioral.spec import BehavioralSuite, BehavioralTest, Perturbation

Predict = Callable[[pd.DataFrame], Any]
#: Failing examples kept per test.
MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Failure:
    """One failing check: the input row, the change made (``None`` for minimum functionality), what was
    expected, and the model's answers before and after."""

    row: dict[str, Any]
    change: dict[str, Any] | None
    expected: str
    before: Any
    after: Any


@dataclass(frozen=True)
class TestResult:
    """The outcome of one behavioral test."""

    __test__ = False  # not a pytest class

    name: str
    type: str
    passed: bool
    checks: int
    failed: int
    failure_rate: float
    max_failure_rate: float
    reason: str
    failures: tuple[Failure, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(asdict(self))
        return out


@dataclass(frozen=True)
class BehavioralReport:
    """Every test's result; ``passed`` when all passed."""

    source: str
    seed: int
    results: tuple[TestResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> tuple[TestResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "seed": self.seed,
            "passed": self.passed,
            "results": [r.to_dict() for r in self.results],
        }


def run_suite(
    suite: BehavioralSuite,
    predict: Predict,
    *,
    predict_proba: Predict | None = None,
    classes: Sequence[Any] | None = None,
    data: pd.DataFrame | None = None,
) -> BehavioralReport:
    """Run every test of ``suite`` against a model.

    Args:
        suite: from :func:`~modelward.evaluation.behavioral.load_suite`.
        predict: ``predict(frame) -> one answer per row`` (labels, or numbers for a regressor).
        predict_proba: ``predict_proba(frame) -> (rows, classes)`` probabilities (or P(positive) per
            row); needed by tests with ``output: probability``.
        classes: the class labels in the column order of ``predict_proba`` (scikit-learn's
            ``classes_``), to find a test's ``class``; without it the last column is used.
        data: rows for tests whose ``rows`` is ``data`` (typically the gate's holdout features).

    >>> import pandas as pd
    >>> from modelward.evaluation.behavioral import load_suite
    >>> suite = load_suite('''
    ... tests:
    ...   - {name: rich approved, type: minimum_functionality, cases: [{input: {income: 9}, expect: 1}]}
    ...   - name: income up, approval up
    ...     type: directional
    ...     change: {column: income, add: 1}
    ...     expect: increase
    ... ''')
    >>> model = lambda frame: (frame["income"] > 5).astype(int).to_numpy()
    >>> report = run_suite(suite, model, data=pd.DataFrame({"income": [1, 4, 5, 8]}))
    >>> [(r.name, r.passed, r.checks, r.failed) for r in report.results]
    [('rich approved', True, 1, 0), ('income up, approval up', True, 4, 0)]
    """
    results = []
    for index, test in enumerate(suite.tests):
        runner = _TestRun(suite, index, test, predict, predict_proba, classes, data)
        results.append(runner.run())
    return BehavioralReport(source=suite.source, seed=suite.seed, results=tuple(results))


class _TestRun:
    def __init__(
        self,
        suite: BehavioralSuite,
        index: int,
        test: BehavioralTest,
        predict: Predict,
        predict_proba: Predict | None,
        classes: Sequence[Any] | None,
        data: pd.DataFrame | None,
    ) -> None:
        self.suite, self.test = suite, test
        self.where = f"{suite.source}: test {test.name!r}"
        self.predict, self.predict_proba, self.classes, self.data = predict, predict_proba, classes, data
        self.rng = np.random.default_rng([suite.seed, index])

    # -- scoring -------------------------------------------------------------------------------------
    def score(self, frame: pd.DataFrame, output: str) -> np.ndarray[Any, Any]:
        fn = self.predict if output == "prediction" else self.predict_proba
        if fn is None:
            raise ConfigError(f"{self.where} uses output: probability, but no predict_proba was given.")
        try:
            out = np.asarray(fn(frame.reset_index(drop=True)))
        except Exception as exc:  # the model's own failure, reported with the test that caused it
            raise DataError(
                f"{self.where}: the model's {'predict' if fn is self.predict else 'predict_proba'} "
                f"raised {type(exc).__name__}: {exc}"
            ) from exc
        if out.shape[0] != len(frame):
            raise DataError(f"{self.where}: the model returned {out.shape[0]} answers for {len(frame)} rows.")
        if output == "prediction":
            return out.reshape(len(frame), -1)[:, 0] if out.ndim > 1 else out
        return self.column(out)

    def column(self, proba: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        p = proba.astype(np.float64)
        if p.ndim == 1:
            if (
                self.test.class_label is not None
                and self.classes is not None
                and len(self.classes) == 2
                and self.test.class_label == self.classes[0]
            ):
                return 1.0 - p
            return p
        label = self.test.class_label
        if label is None:
            return p[:, -1]
        if self.classes is not None:
            matches = [i for i, c in enumerate(self.classes) if c == label]
            if not matches:
                raise ConfigError(
                    f"{self.where}: class {label!r} is not one of the model's classes {list(self.classes)}."
                )
            return p[:, matches[0]]
        if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < p.shape[1]:
            return p[:, label]
        raise ConfigError(
            f"{self.where}: cannot find class {label!r} among {p.shape[1]} probability columns; "
            "pass classes= to the runner."
        )

    # -- base rows and perturbations ---------------------------------------------------------------
    def base_rows(self) -> pd.DataFrame:
        t = self.test
        if t.rows is not None:
            frame = pd.DataFrame([dict(r) for r in t.rows])
        elif self.data is None:
            raise DataError(
                f"{self.where} takes its rows from the data, but none was given; pass data= or "
                "list rows in the file."
            )
        else:
            frame = self.data.reset_index(drop=True)
            if len(frame) == 0:
                raise DataError(f"{self.where}: the data holds no rows.")
        if t.sample is not None and t.sample < len(frame):
            keep = np.sort(self.rng.choice(len(frame), size=t.sample, replace=False))
            frame = frame.iloc[keep].reset_index(drop=True)
        for p in t.perturb:
            if p.column not in frame.columns:
                raise DataError(
                    f"{self.where}: column {p.column!r} is not in the rows (columns: "
                    f"{', '.join(map(str, frame.columns))})."
                )
        return frame

    def variants(self, base: pd.DataFrame) -> list[tuple[pd.DataFrame, list[dict[str, Any]]]]:
        """Perturbed copies of ``base``: one frame per value (or draw), with each row's change."""
        out = []
        for p in self.test.perturb:
            for value_index in range(len(p.values) if p.op in ("set", "add", "multiply") else p.draws):
                out.append(self.apply(base, p, value_index))
        return out

    def apply(self, base: pd.DataFrame, p: Perturbation, k: int) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
        frame = base.copy()
        col = frame[p.column]
        n = len(frame)
        if p.op == "set":
            new: Any = pd.Series([p.values[k]] * n, index=frame.index)
            amounts: list[Any] = [p.values[k]] * n
        elif p.op in ("add", "multiply"):
            amounts = [p.values[k]] * n
            new = self.numeric(col, p) + p.values[k] if p.op == "add" else self.numeric(col, p) * p.values[k]
        else:
            draws = self.rng.uniform(p.values[0], p.values[1], size=n)
            amounts = draws.tolist()
            new = self.numeric(col, p) + draws if p.op == "add_uniform" else self.numeric(col, p) * draws
        frame[p.column] = new
        changes = [{"column": p.column, "op": p.op, "value": a} for a in amounts]
        return frame, changes

    def numeric(self, col: pd.Series[Any], p: Perturbation) -> pd.Series[Any]:
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise DataError(
                f"{self.where}: '{p.op}' needs a numeric column, but {p.column!r} holds "
                f"{col.dtype} values; use 'set' for categories."
            )
        return col.astype(np.float64)

    # -- the three kinds --------------------------------------------------------------------------------
    def run(self) -> TestResult:
        if self.test.type == "minimum_functionality":
            return self.minimum_functionality()
        base = self.base_rows()
        variants = self.variants(base)
        frames = [base, *(f for f, _ in variants)]
        scores = self.score(pd.concat(frames, ignore_index=True), self.test.output)
        n = len(base)
        before = scores[:n]
        failures: list[Failure] = []
        checks = failed = 0
        for i, (_, changes) in enumerate(variants):
            after = scores[n * (i + 1) : n * (i + 2)]
            bad = self.violations(before, after)
            checks += n
            failed += int(bad.sum())
            for r in np.flatnonzero(bad)[: max(0, MAX_EXAMPLES - len(failures))]:
                failures.append(
                    Failure(
                        row=_row(base, int(r)),
                        change=changes[int(r)],
                        expected=self.expected(),
                        before=_plain(before[r]),
                        after=_plain(after[r]),
                    )
                )
        return self.result(checks, failed, failures)

    def violations(self, before: np.ndarray[Any, Any], after: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        t = self.test
        numeric = _is_numeric(before) and _is_numeric(after)
        if t.type == "invariance":
            if numeric:
                return np.asarray(np.abs(after.astype(np.float64) - before.astype(np.float64)) > t.tolerance)
            return np.asarray(after != before)
        if not numeric:
            raise DataError(
                f"{self.where}: a directional test needs numeric answers (a probability or a "
                "regression output); use output: probability for a classifier."
            )
        b, a = before.astype(np.float64), after.astype(np.float64)
        if t.expect == "increase":
            return np.asarray(a < b - t.tolerance)
        return np.asarray(a > b + t.tolerance)

    def expected(self) -> str:
        t = self.test
        what = "probability" if t.output == "probability" else "prediction"
        if t.type == "invariance":
            return f"{what} unchanged" + (f" within {t.tolerance:g}" if t.tolerance else "")
        return f"{what} {'not lower' if t.expect == 'increase' else 'not higher'}" + (
            f" by more than {t.tolerance:g}" if t.tolerance else ""
        )

    def minimum_functionality(self) -> TestResult:
        t = self.test
        failures: list[Failure] = []
        failed = 0
        by_output: dict[str, list[int]] = {}
        for i, case in enumerate(t.cases):
            by_output.setdefault(case.output, []).append(i)
        answers: dict[int, Any] = {}
        for output, idx in by_output.items():
            frame = pd.DataFrame([dict(t.cases[i].input) for i in idx])
            for i, v in zip(idx, self.score(frame, output), strict=True):
                answers[i] = v
        for i, case in enumerate(t.cases):
            got = answers[i]
            if case.range is not None:
                ok = _is_number(got) and case.range[0] <= float(got) <= case.range[1]
                expected = f"{case.output} in [{case.range[0]:g}, {case.range[1]:g}]"
            else:
                ok = _same(got, case.expect)
                expected = f"prediction == {case.expect!r}"
            if not ok:
                failed += 1
                if len(failures) < MAX_EXAMPLES:
                    failures.append(
                        Failure(
                            row=dict(case.input),
                            change=None,
                            expected=expected,
                            before=None,
                            after=_plain(got),
                        )
                    )
        return self.result(len(t.cases), failed, failures)

    def result(self, checks: int, failed: int, failures: list[Failure]) -> TestResult:
        t = self.test
        rate = failed / checks if checks else math.nan
        passed = checks > 0 and rate <= t.max_failure_rate
        if checks == 0:
            reason = "no check ran (no rows): never a pass on no data"
        else:
            verdict = "<=" if passed else ">"
            reason = (
                f"{failed} of {checks} checks failed ({rate:.2%}) {verdict} allowed {t.max_failure_rate:.2%}"
            )
            if failures and not passed:
                f = failures[0]
                change = (
                    ""
                    if f.change is None
                    else f" after {f.change['column']} {f.change['op']} {f.change['value']!r}"
                )
                reason += f"; e.g. {f.row}{change}: expected {f.expected}, got {f.before!r} -> {f.after!r}"
        return TestResult(
            name=t.name,
            type=t.type,
            passed=passed,
            checks=checks,
            failed=failed,
            failure_rate=rate,
            max_failure_rate=t.max_failure_rate,
            reason=reason,
            failures=tuple(failures),
        )


def _row(frame: pd.DataFrame, i: int) -> dict[str, Any]:
    return {str(k): _plain(v) for k, v in frame.iloc[i].items()}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _is_numeric(arr: np.ndarray[Any, Any]) -> bool:
    return bool(np.issubdtype(arr.dtype, np.number)) and not np.issubdtype(arr.dtype, np.bool_)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _same(got: Any, want: Any) -> bool:
    if _is_number(got) and _is_number(want):
        return math.isclose(float(got), float(want), rel_tol=0.0, abs_tol=1e-9)
    return bool(_plain(got) == want)


__all__ = ["MAX_EXAMPLES", "BehavioralReport", "Failure", "TestResult", "run_suite"]
