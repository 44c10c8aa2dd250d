"""Registry: versions, aliases, rollback, history, audit events, concurrency — on both backends."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from modelward.errors import ConflictError, NotFoundError
from modelward.registry import Registry
from modelward.store import Store


def _register(reg: Registry, name: str = "m", **overrides: object):  # type: ignore[no-untyped-def]
    fields: dict[str, object] = dict(
        task="classification",
        artifact="a" * 64,
        serializer="skops",
        flavor="sklearn",
        signature={"inputs": []},
        input_example=[],
        params={},
        metrics={"accuracy": 0.5},
        lineage={},
    )
    fields.update(overrides)
    return reg.register(name, **fields)  # type: ignore[arg-type]


@pytest.fixture
def registry(database_url: str):  # type: ignore[no-untyped-def]
    store = Store.open(database_url)
    yield Registry(store, actor="tester")
    store.close()


def test_versions_are_numbered_and_readable(registry: Registry) -> None:
    v1 = _register(registry, metrics={"accuracy": 0.7})
    v2 = _register(registry, metrics={"accuracy": 0.8})
    assert (v1.version, v2.version) == (1, 2)
    assert registry.get("m").version == 2
    assert registry.get("m", 1).metrics == {"accuracy": 0.7}
    [info] = registry.list_models()
    assert (info.name, info.versions, info.latest_version) == ("m", 2, 2)
    with pytest.raises(NotFoundError, match="Model 'm' has no version 9"):
        registry.get("m", 9)
    with pytest.raises(NotFoundError, match="No model named 'nope'. Known models: m"):
        registry.get("nope")
    with pytest.raises(ConflictError, match="is a classification model"):
        _register(registry, task="regression")


def test_promote_rollback_history(registry: Registry) -> None:
    for _ in range(3):
        _register(registry)
    with pytest.raises(NotFoundError, match="has no alias 'champion'. No alias is set yet"):
        registry.get("m", "champion")
    registry.promote("m", 1, reason="first")
    registry.promote("m", 2, reason="better")
    registry.promote("m", 3, reason="even better")
    registry.promote("m", 3, alias="challenger")
    assert registry.get("m", "champion").version == 3
    assert registry.get("m", 3).aliases == ["challenger", "champion"]

    back = registry.rollback("m", reason="v3 regressed")
    assert (back.from_version, back.to_version) == (3, 2)
    assert registry.get("m", "champion").version == 2
    assert registry.rollback("m").to_version == 1
    with pytest.raises(ConflictError, match="no earlier version held that alias"):
        registry.rollback("m")
    assert registry.get("m", "challenger").version == 3  # other aliases untouched

    history = registry.history("m", "champion")
    assert [(c.from_version, c.to_version, c.kind) for c in history] == [
        (None, 1, "alias_set"),
        (1, 2, "alias_set"),
        (2, 3, "alias_set"),
        (3, 2, "alias_rollback"),
        (2, 1, "alias_rollback"),
    ]
    assert history[3].reason == "v3 regressed" and history[1].reason == "better"
    assert all(c.actor == "tester" for c in history)
    assert [c.ts for c in history] == sorted(c.ts for c in history)

    kinds = [e.kind for e in registry.events("m")]
    assert kinds.count("version_registered") == 3 and kinds[0] == "model_created"


def test_promote_unknown_version(registry: Registry) -> None:
    _register(registry)
    with pytest.raises(NotFoundError, match="has no version 5; cannot point 'champion' at it"):
        registry.promote("m", 5)


def test_tags_and_descriptions(registry: Registry) -> None:
    _register(registry)
    registry.set_tags("m", None, {"team": "risk"})
    registry.set_tags("m", 1, {"stage": "qa"})
    registry.describe("m", "loan model")
    assert registry.list_models()[0].tags == {"team": "risk"}
    assert registry.list_models()[0].description == "loan model"
    assert registry.get("m", 1).tags == {"stage": "qa"}


_WORKER = textwrap.dedent(
    """
    import sys, time
    from modelward.registry import Registry
    from modelward.store import Store
    url, start, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    store = Store.open(url)
    reg = Registry(store, actor="worker")
    while time.time() < start:
        time.sleep(0.001)
    for _ in range(n):
        mv = reg.register("shared", task="classification", artifact="a" * 64, serializer="skops",
                          flavor="sklearn", signature={}, input_example=[], params={}, metrics={}, lineage={})
        print(mv.version, flush=True)
    store.close()
    """
)


def test_concurrent_registration_gets_distinct_versions(database_url: str, tmp_path: Path) -> None:
    Store.open(database_url).close()  # migrate once so workers race on registration, not on DDL
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    start = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), database_url, str(start), "15"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    numbers = [int(line) for out, _ in outputs for line in out.split()]
    assert sorted(numbers) == list(range(1, 61))
    store = Store.open(database_url)
    versions = [v.version for v in Registry(store, "x").versions("shared")]
    store.close()
    assert versions == list(range(1, 61))


def test_change_mark_moves_with_every_change_and_only_then(registry: Registry) -> None:
    assert registry.change_mark() == 0
    _register(registry)
    after_register = registry.change_mark()
    assert after_register > 0 and registry.change_mark() == after_register  # reading changes nothing
    registry.get("m", 1)
    registry.list_models()
    assert registry.change_mark() == after_register
    registry.promote("m", 1)
    after_promote = registry.change_mark()
    assert after_promote > after_register
    registry.set_tags("m", 1, {"k": "v"})
    assert registry.change_mark() > after_promote
