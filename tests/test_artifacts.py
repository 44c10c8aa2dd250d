from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelward.artifacts import ArtifactStore
from modelward.errors import IntegrityError, NotFoundError


def test_content_addressed_and_deduplicated(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    digest = store.put(b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert store.put(b"hello") == digest
    files = [p for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].name == digest
    assert store.get(digest) == b"hello"


def test_flipped_byte_is_refused(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    digest = store.put(b"some model bytes")
    path = Path(store.path(digest))
    data = bytearray(path.read_bytes())
    data[3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=f"sha256:{digest} is corrupted or was tampered with") as info:
        store.get(digest)
    assert "Restore" in info.value.message


def test_missing_blob(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(NotFoundError, match="is missing"):
        store.get("0" * 64)


def test_fsspec_url() -> None:
    store = ArtifactStore("memory://modelward-test-artifacts")
    digest = store.put(b"abc")
    assert store.get(digest) == b"abc" and store.exists(digest)
    assert not any(p.endswith(".tmp") or ".tmp-" in p for p in store.fs.find(store.root))


def test_a_store_reads_through_to_its_fallback_and_writes_only_to_itself(tmp_path: Path) -> None:
    base = ArtifactStore(tmp_path / "base")
    old = base.put(b"the workspace's model")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "base").rglob("*"))
    scratch = ArtifactStore(tmp_path / "scratch", fallback=base)
    assert scratch.exists(old) and scratch.get(old) == b"the workspace's model"
    assert scratch.put(b"the workspace's model") == old  # already there (in the fallback): nothing written
    new = scratch.put(b"a challenger")
    assert scratch.get(new) == b"a challenger" and not base.exists(new)
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "base").rglob("*")) == before
    assert not (tmp_path / "scratch" / "sha256" / old[:2]).exists()
    with pytest.raises(NotFoundError):
        scratch.get(hashlib.sha256(b"nowhere").hexdigest())
