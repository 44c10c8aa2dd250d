"""Explanations of served predictions, kept off the predict path.

Each served version's explainer (:func:`modelward.explain.explainer_for`) is built on the first
request that asks for explanations, on a thread of its own (``modelward-explain``), with the
version's monitoring reference (its holdout rows) as background, or its input example when no
reference is stored. Explaining never runs on the prediction thread: a request that asks for
explanations waits for them, a plain predict never does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd

from modelward.errors import ModelwardError
from modelward.explain import ModelExplainer, explainer_for
from modelward.predlog import ExplanationRecord, record_explanations
from modelward.server.served import ServedModel
from modelward.server.validation import InputError
from modelward.workspace import Workspace

__all__ = ["BACKGROUND_ROWS", "Explanations"]

log = logging.getLogger(__name__)

BACKGROUND_ROWS = 100  # background rows for linear and model-agnostic SHAP (as shap's maskers keep)


class Explanations:
    """The explainers of one app's served versions and the thread they run on."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.settings = workspace.settings.serve
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelward-explain")
        self._explainers: dict[tuple[str, int], ModelExplainer] = {}
        self._lock = threading.Lock()

    def check_rows(self, rows: int) -> None:
        limit = self.settings.explain_max_rows
        if rows > limit:
            raise InputError(
                f"{rows} rows to explain in one request; at most {limit} are explained "
                "(serve.explain_max_rows). Split the request.",
                reason="too_many_rows",
                status_code=413,
                details={"rows": rows, "explain_max_rows": limit},
            )

    async def explain(
        self,
        served: ServedModel,
        columns: dict[str, list[Any]],
        predictions: Sequence[Any],
        *,
        all_classes: bool,
        log_ids: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """The ``explanations`` member of a predict answer whose ``predictions`` are known; with ``log_ids``
        (``log.explanations``), each row is also stored by its prediction id before the answer goes."""
        loop = asyncio.get_running_loop()
        out = await loop.run_in_executor(self.executor, self._run, served, columns, predictions, all_classes)
        if log_ids is not None:
            try:
                await loop.run_in_executor(self.executor, self._record, served, log_ids, out)
            except (
                Exception
            ) as exc:  # the predictions are logged and answered; their explanations can be redone
                log.warning(
                    "%s: %d explanations not logged: %s: %s",
                    served.version.ref,
                    len(log_ids),
                    type(exc).__name__,
                    exc,
                )
        return out

    def _record(self, served: ServedModel, ids: Sequence[str], out: dict[str, Any]) -> None:
        now = dt.datetime.now(dt.UTC)
        records = [
            ExplanationRecord(pid, served.name, served.number, now, out["method"], out["output"], row)
            for pid, row in zip(ids, out["rows"], strict=True)
        ]
        record_explanations(self.ws.store, records)

    def _run(
        self,
        served: ServedModel,
        columns: dict[str, list[Any]],
        predictions: Sequence[Any],
        all_classes: bool,
    ) -> dict[str, Any]:
        explainer = self.explainer(served)
        x = served.frame(columns)
        explanation = explainer.explain(x)
        out = explanation.describe()
        if explainer.fallback_reason is not None:
            out["fallback_reason"] = explainer.fallback_reason
        if explanation.classes is not None:
            out["classes"] = explanation.classes
        out["rows"] = explanation.for_rows(predictions, all_classes=all_classes)
        return out

    def explainer(self, served: ServedModel) -> ModelExplainer:
        """``served``'s explainer, built once (on the explain thread)."""
        key = (served.name, served.number)
        with self._lock:
            found = self._explainers.get(key)
        if found is not None:
            return found
        background, source = self._background(served)
        explainer = explainer_for(
            served.estimator,
            served.validator.names,
            background,
            task=served.version.task,
            time_budget_s=self.settings.explain_time_budget_ms / 1000,
        )
        if explainer.method != "tree_shap":
            explainer.inner.background = f"{explainer.inner.background} of {source}"
        log.info("%s explained by %s (%s)", served.version.ref, explainer.method, source)
        with self._lock:
            self._explainers[key] = explainer
        return explainer

    def _background(self, served: ServedModel) -> tuple[pd.DataFrame, str]:
        """Rows of the version's reference holdout, or its input example."""
        names = served.validator.names
        try:
            stored = self.ws.monitoring_results.reference(served.name, served.number)
        except Exception:  # an unreadable reference: the input example still explains
            log.warning("%s: monitoring reference unreadable", served.version.ref, exc_info=True)
            stored = None
        if stored is not None:
            rows = stored.holdout.features
            if set(names) <= set(rows.columns) and len(rows) > 0:
                rows = rows.sample(n=min(BACKGROUND_ROWS, len(rows)), random_state=0)
                columns = {n: rows[n].tolist() for n in names}
                return served.frame(columns), "the reference holdout"
        example = served.version.input_example
        if not example:
            raise ModelwardError(
                f"{served.version.ref} has neither a monitoring reference nor an input example to explain "
                "against. Register it with `modelward train`, or store a reference with `modelward monitor`.",
                details={"model": served.name, "version": served.number},
            )
        columns = {n: [row.get(n) for row in example] for n in names}
        return served.frame(columns), "the input example"

    def close(self) -> None:
        self.executor.shutdown(wait=True)
