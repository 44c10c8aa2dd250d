"""Safe model persistence.

Models are saved with skops by default and loaded with an explicit allowlist of trusted
types: scikit-learn's own estimators, the few scikit-learn internals listed in
:data:`DEFAULT_TRUSTED_TYPES`, and whatever a model declares deliberately in
``trusted_types``. A file holding any other type is refused, naming the types.

Plain pickle is used only when a model opts in (``serializer: pickle``); such a file is
loaded only through :class:`~modelward.artifacts.ArtifactStore`, which checks its bytes
against the SHA-256 pinned in the registry first. Every load re-verifies the hash.

The same model always serialises to the same bytes, so its content address (SHA-256) says
whether two trainings made the same model: skops names its array files and references after
``id()`` and stamps the zip entries with the time, so :func:`dumps` renumbers both in order of
appearance and writes the archive with a fixed timestamp.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from modelward.artifacts import ArtifactStore
from modelward.errors import UntrustedModelError

if TYPE_CHECKING:
    from types import ModuleType


def _sio() -> ModuleType:
    """skops.io, imported on first use (importing it scans scikit-learn and takes seconds)."""
    import importlib

    return importlib.import_module("skops.io")


Serializer = Literal["skops", "pickle"]

# scikit-learn internals that skops does not trust by default but that hold only data.
DEFAULT_TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


def dumps(model: Any, serializer: Serializer = "skops") -> bytes:
    """Serialise ``model``."""
    if serializer == "skops":
        return _canonical_skops(bytes(_sio().dumps(model)))
    if serializer == "pickle":
        buf = io.BytesIO()
        pickle.dump(model, buf, protocol=pickle.HIGHEST_PROTOCOL)
        return buf.getvalue()
    raise ValueError(f"unknown serializer {serializer!r}; use 'skops' or 'pickle'")


_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def _canonical_skops(data: bytes) -> bytes:
    """``data`` (a skops archive) with ``id()``-based names and ids renumbered and fixed timestamps."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read("schema.json"))
        ids: dict[int, int] = {}
        files: dict[str, str] = {}

        def renumber(node: Any) -> Any:
            if isinstance(node, list):
                return [renumber(v) for v in node]
            if not isinstance(node, dict):
                return node
            out = {}
            is_node = "__loader__" in node
            for key, value in node.items():
                if is_node and key == "__id__" and isinstance(value, int):
                    value = ids.setdefault(value, len(ids) + 1)
                elif is_node and key == "file" and isinstance(value, str):
                    value = files.setdefault(value, f"{len(files) + 1}{Path(value).suffix}")
                else:
                    value = renumber(value)
                out[key] = value
            return out

        canonical = renumber(schema)
        entries = [(new, archive.read(old)) for old, new in files.items()]
        # Entries the schema does not reference by "file" (none in skops 0.16) are kept as they are.
        entries += [
            (n, archive.read(n)) for n in sorted(archive.namelist()) if n not in files and n != "schema.json"
        ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as out:
        for name, content in [*entries, ("schema.json", json.dumps(canonical, indent=2).encode())]:
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.external_attr = 0o600 << 16
            out.writestr(info, content)
    return buffer.getvalue()


def untrusted_types(data: bytes, trusted: Iterable[str] = ()) -> list[str]:
    """Types in a skops file that are neither trusted by skops nor on the allowlist."""
    allowed = set(DEFAULT_TRUSTED_TYPES) | set(trusted)
    return sorted(t for t in _sio().get_untrusted_types(data=data) if t not in allowed)


def loads(data: bytes, serializer: Serializer, *, trusted: Iterable[str] = (), name: str = "model") -> Any:
    """Deserialise bytes that the caller has already verified against their pinned hash.

    Prefer :func:`load` which reads and verifies in one step.
    """
    if serializer == "pickle":
        return pickle.loads(data)  # noqa: S301 - opted in and hash-verified by the caller
    if serializer != "skops":
        raise ValueError(f"unknown serializer {serializer!r}; use 'skops' or 'pickle'")
    try:
        refused = untrusted_types(data, trusted)
    except zipfile.BadZipFile as exc:
        raise UntrustedModelError(
            f"Refusing to load {name}: it is not a skops file (skops files are zip archives). modelward never "
            "unpickles a file unless its model opted in with `serializer: pickle`.",
        ) from exc
    if refused:
        listed = ", ".join(refused)
        raise UntrustedModelError(
            f"Refusing to load {name}: the file contains types that are not trusted: {listed}. "
            "Loading them could run arbitrary code. If you wrote this code or trust its source, allow "
            "the types deliberately: add them under models.<name>.trusted_types in modelward.yaml "
            "(or pass --trust TYPE) and register the model again.",
            details={"untrusted_types": refused},
        )
    allowed = set(DEFAULT_TRUSTED_TYPES) | set(trusted)
    sio = _sio()
    present = [t for t in sio.get_untrusted_types(data=data) if t in allowed]
    return sio.loads(data, trusted=present)


def load(
    artifacts: ArtifactStore,
    digest: str,
    serializer: Serializer,
    *,
    trusted: Iterable[str] = (),
    name: str = "model",
) -> Any:
    """Read blob ``digest`` (hash verified on read) and deserialise it safely."""
    return loads(artifacts.get(digest), serializer, trusted=trusted, name=name)
