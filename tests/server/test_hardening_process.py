"""`modelward serve` as a subprocess: poisoned requests fail alone, feedback memory stays bounded."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from .conftest import Trained, make_workspace, rows
from .process import ServerProcess, serving

# Values a client can send that no model can take; each must be a 422 for its own request only.
POISONS = [
    b'{"salary": -1e300}',
    b'{"commission": 3.5e38}',
    b'{"age": 123456789012345678901234567890}',
    b'{"hvalue": 18446744073709551615}',
    b'{"loan": 1e400}',
]


def _body(row: dict[str, object], poison: bytes | None) -> bytes:
    import orjson

    text = orjson.dumps({"instances": [row]})
    if poison is None:
        return text
    key = poison[2 : poison.index(b'":')]
    value = poison[poison.index(b": ") + 2 : -1]
    start = text.index(b'"' + key + b'":') + len(key) + 3
    end = min(i for i in (text.find(b",", start), text.find(b"}", start)) if i >= 0)
    return text[:start] + value + text[end:]


@pytest.mark.slow
def test_one_poisoned_request_in_16_fails_alone_under_concurrent_load(
    tmp_path: Path, trained: dict[str, Trained]
) -> None:
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    root = make_workspace(tmp_path / "ws", url, trained, "serve:\n  batch_max_wait_ms: 5\n")
    data = rows(64, seed=9)
    statuses: dict[str, list[int]] = {"good": [], "poisoned": []}
    bad: list[str] = []
    lock = threading.Lock()

    def client(k: int, base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            for i in range(k, 960, 8):
                poison = POISONS[(i // 16) % len(POISONS)] if i % 16 == 7 else None
                answer = http.post(
                    "/v1/models/credit/predict",
                    content=_body(data[i % 64], poison),
                    headers={"Content-Type": "application/json"},
                )
                with lock:
                    statuses["good" if poison is None else "poisoned"].append(answer.status_code)
                    if poison is not None and (
                        answer.status_code != 422
                        or answer.json()["error"]["details"]["reason"] != "out_of_range"
                    ):
                        bad.append(f"{poison!r}: {answer.status_code} {answer.text[:300]}")

    with serving(root, url) as http:
        threads = [threading.Thread(target=client, args=(k, str(http.base_url))) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert len(statuses["good"]) == 900 and len(statuses["poisoned"]) == 60
    assert set(statuses["good"]) == {200}, sorted(set(statuses["good"]))
    assert not bad, bad[:5]
    print(f"\n900 good requests: all 200; 60 poisoned: all 422 out_of_range ({len(POISONS)} kinds)")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_feedback_at_the_body_limit_keeps_memory_bounded(tmp_path: Path, trained: dict[str, Trained]) -> None:
    """20 sequential feedback requests of ~10 MiB (the default serve.max_body_bytes): RSS grows < 100 MB."""
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    root = make_workspace(tmp_path / "ws", url, trained)
    limit = 10 * 1024 * 1024
    # Two kinds of body at the limit: 10,000 items with long labels (refused: ids never logged), and
    # ~190,000 small items (refused: over serve.max_feedback_items).
    long_items = (
        b"["
        + b",".join(b'{"prediction_id": "%063d", "label": "%s"}' % (i, b"x" * 990) for i in range(10_000))
        + b"]"
    )
    small_items = (
        b"[" + b",".join(b'{"prediction_id": "p%06d", "label": 1}' % i for i in range(400_000)) + b"]"
    )
    bodies = [long_items[:limit], small_items[: small_items.rindex(b"}", 0, limit) + 1] + b"]"]
    bodies[0] = bodies[0][: bodies[0].rindex(b"}") + 1] + b"]"
    assert all(limit - 2000 < len(b) <= limit for b in bodies), [len(b) for b in bodies]
    server = ServerProcess(root, url)
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            http.post("/v1/feedback", content=bodies[0])  # warm-up: allocator arenas, lazy imports
            before = _rss_mb(server.proc.pid)
            codes = [http.post("/v1/feedback", content=bodies[i % 2]).status_code for i in range(20)]
            after = _rss_mb(server.proc.pid)
    finally:
        out = server.stop()
    assert "Traceback" not in out, out[-3000:]
    assert codes == [404, 413] * 10, codes  # unknown ids (looked up in chunks); too many items
    print(
        f"\nfeedback at the body limit: RSS {before:.0f} MB -> {after:.0f} MB after 20 requests "
        f"(+{after - before:.0f} MB)"
    )
    assert after - before < 100, (before, after)
