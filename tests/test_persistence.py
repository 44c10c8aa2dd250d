"""Safe model persistence: allowlisted skops loading, hash verification, pickle only by opt-in."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from modelward import persistence
from modelward.artifacts import ArtifactStore
from modelward.errors import IntegrityError, UntrustedModelError

sys.path.insert(0, str(Path(__file__).parent / "helpers"))
from custom_estimator import MajorityClassifier

X = np.random.default_rng(0).normal(size=(60, 3))
Y = (X[:, 0] > 0).astype(int)


def test_sklearn_models_round_trip(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    for model in (RandomForestClassifier(n_estimators=5, random_state=0), LogisticRegression()):
        model.fit(X, Y)
        digest = store.put(persistence.dumps(model))
        loaded = persistence.load(store, digest, "skops")
        assert np.array_equal(loaded.predict(X), model.predict(X))


def test_custom_class_is_refused_and_named(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    digest = store.put(persistence.dumps(MajorityClassifier().fit(X, Y)))
    with pytest.raises(UntrustedModelError) as info:
        persistence.load(store, digest, "skops", name="m@1")
    assert "custom_estimator.MajorityClassifier" in info.value.message
    assert "trusted_types" in info.value.message
    assert info.value.details["untrusted_types"] == ["custom_estimator.MajorityClassifier"]
    # Trusting it deliberately, by name, loads it.
    loaded = persistence.load(store, digest, "skops", trusted=["custom_estimator.MajorityClassifier"])
    assert list(loaded.predict(X[:3])) == [loaded.majority_] * 3


def test_flipped_byte_in_stored_model_fails_with_corruption_error(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, Y)
    digest = store.put(persistence.dumps(model))
    path = Path(store.path(digest))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="corrupted or was tampered with"):
        persistence.load(store, digest, "skops")


def test_pickle_only_by_opt_in_and_hash_checked(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    model = MajorityClassifier().fit(X, Y)
    digest = store.put(persistence.dumps(model, "pickle"))
    assert persistence.load(store, digest, "pickle").majority_ == model.majority_
    with pytest.raises(UntrustedModelError, match="not a skops file"):  # the default path never unpickles
        persistence.load(store, digest, "skops")
    path = Path(store.path(digest))
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(IntegrityError):
        persistence.load(store, digest, "pickle")


def test_the_same_model_serialises_to_the_same_bytes() -> None:
    """Content addressing can tell two trainings of one model apart only if its bytes are stable:
    skops names arrays after id() and stamps the time; modelward's bytes carry neither."""
    for make in (
        lambda: RandomForestClassifier(n_estimators=5, random_state=0),
        lambda: LogisticRegression(),
    ):
        first, second = make().fit(X, Y), make().fit(X, Y)  # both alive: their ids differ
        blob = persistence.dumps(first)
        assert blob == persistence.dumps(second)
        loaded = persistence.loads(blob, "skops")
        assert np.array_equal(loaded.predict_proba(X), first.predict_proba(X))
