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
