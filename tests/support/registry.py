"""Registry versions without a real model: enough for pages and reads that never load the artifact."""

from __future__ import annotations

from typing import Any

from modelward import Workspace


def register_stub_versions(
    ws: Workspace,
    name: str,
    n: int,
    *,
    params: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    lineage: dict[str, Any] | None = None,
    importance: dict[str, Any] | None = None,
) -> None:
    """``n`` versions of classification model ``name`` whose artifact is a placeholder hash."""
    for _ in range(n):
        ws.registry.register(
            name,
            task="classification",
            artifact="0" * 64,
            serializer="skops",
            flavor="sklearn",
            signature={},
            input_example=[],
            params=params or {},
            metrics=metrics or {"accuracy": 0.9},
            lineage=lineage or {},
            importance=importance,
        )
