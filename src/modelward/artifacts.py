"""Content-addressed blob store: a blob's name is the SHA-256 of its bytes.

Writes are atomic (temporary file, then rename), identical content is stored once, and
every read re-hashes the bytes: a corrupted or tampered blob raises
:class:`~modelward.errors.IntegrityError` and is never handed to a loader.

The location is a local path or any fsspec URL (``s3://bucket/prefix``, ``memory://x``). A store may read
through to a ``fallback`` store it never writes to (a scratch copy of a workspace: the backtest).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from modelward.errors import IntegrityError, NotFoundError

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def sha256_bytes(data: bytes) -> str:
    """The SHA-256 of ``data`` as 64 hex digits: the key the artifact store files it under."""
    return hashlib.sha256(data).hexdigest()


class ArtifactStore:
    """Blobs under ``<root>/sha256/<aa>/<digest>``; with ``fallback``, a blob missing here is read from
    that store (which is only ever read)."""

    def __init__(self, location: str | os.PathLike[str], *, fallback: ArtifactStore | None = None) -> None:
        self.location = str(location)
        self.fallback = fallback
        fs, root = fsspec.core.url_to_fs(self.location)
        self.fs = fs
        self.root = root.rstrip("/")
        self._local = isinstance(fs, LocalFileSystem)
        if self._local:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> str:
        _check_digest(digest)
        return f"{self.root}/sha256/{digest[:2]}/{digest}"

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self.path(digest))) or (
            self.fallback is not None and self.fallback.exists(digest)
        )

    def put(self, data: bytes) -> str:
        """Store ``data``; return its digest. Storing the same bytes twice keeps one copy."""
        digest = sha256_bytes(data)
        target = self.path(digest)
        if self.exists(digest):
            return digest
        if self._local:
            directory = Path(target).parent
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        else:
            tmp = f"{target}.tmp-{uuid.uuid4().hex}"
            self.fs.makedirs(self.fs._parent(target), exist_ok=True)
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, target)
        return digest

    def get(self, digest: str) -> bytes:
        """The bytes of blob ``digest``, verified against the digest."""
        target = self.path(digest)
        if self.fallback is not None and not self.fs.exists(target) and self.fallback.exists(digest):
            return self.fallback.get(digest)
        try:
            data: bytes = self.fs.cat_file(target)
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"Artifact sha256:{digest} is missing from {self.location} (expected at {target}). "
                "Restore the artifact store from a backup, or register the model/dataset again.",
                details={"artifact": digest},
            ) from exc
        actual = sha256_bytes(data)
        if actual != digest:
            raise IntegrityError(
                f"Artifact sha256:{digest} is corrupted or was tampered with: its bytes now hash to "
                f"sha256:{actual}. modelward refuses to load it. Restore {target} from a backup, "
                "or register the model/dataset again.",
                details={"artifact": digest, "actual": actual, "path": target},
            )
        return data


def _check_digest(digest: str) -> None:
    if not _DIGEST.match(digest):
        raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
