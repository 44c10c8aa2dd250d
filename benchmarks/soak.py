"""Soak test of ``modelward serve``: a fixed request rate for minutes, memory and log checked.

    .venv/bin/python benchmarks/soak.py                      # 10 minutes at 150 req/s (RandomForest)
    .venv/bin/python benchmarks/soak.py --minutes 1 --rate 100 --model lr

Starts ``modelward serve`` (SQLite workspace, default durable logging ``log.durability: sync``)
serving the benchmark's RandomForest (or LogisticRegression), then sends single-row predict
requests open-loop at ``--rate`` per second from an asyncio client (each request is scheduled
at its time whether or not earlier ones have finished, and sent on the first free one of
``--connections`` keep-alive connections; latency counts from the scheduled time). Every
``--sample-seconds`` it reads the resident memory (``VmRSS`` in ``/proc/PID/status``) of the
server and all its worker processes. At the end it stops the server (which drains the
log) and checks:

* RSS growth < 10 %: the mean of the last three samples against a baseline taken after the
  warm-up (``--warmup-minutes``, default 1; the mean of the three samples that follow it);
* zero errors: every request answered 200 (no other status, no transport error, none late);
* the predictions table holds exactly one row per prediction id received in a 200 answer,
  and no other rows.

Prints a summary and exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _serving_models import KINDS, request_rows, train  # type: ignore[import-not-found]
from _serving_servers import Server, start_modelward  # type: ignore[import-not-found]

MAX_QUEUED = 2000  # an open-loop client still needs a bound; requests over it are counted as errors


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    shed: int = 0  # requests not sent because MAX_QUEUED were waiting for a connection
    ids: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    late_starts: int = 0  # requests that started > 100 ms after their scheduled time


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue  # a worker that just exited
    return total


class Connection:
    """One keep-alive HTTP/1.1 connection: a minimal client, cheap enough to hold the rate on a busy box.

    (httpx spends about a millisecond of CPU per request; on a loaded 2-core machine it could
    not keep up with 150 req/s and the backlog collapsed it, which would be the client failing,
    not the server.)
    """

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            key, _, value = line.partition(b":")
            key = key.strip().lower()
            if key == b"content-length":
                length = int(value)
            elif key == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def worker(conn: Connection, queue: asyncio.Queue[tuple[float, bytes] | None], tally: Tally) -> None:
    while True:
        item = await queue.get()
        if item is None:
            conn.close()
            return
        due, body = item
        try:
            status, data = await asyncio.wait_for(conn.post(body), timeout=30)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            tally.transport_errors[type(exc).__name__] += 1
            conn.close()
            continue
        tally.latencies_ms.append((time.perf_counter() - due) * 1000)  # from the scheduled time: open loop
        tally.statuses[status] += 1
        if status == 200:
            tally.ids.extend(json.loads(data)["prediction_ids"])


async def drive(server: Server, args: argparse.Namespace, samples: list[tuple[float, int]]) -> Tally:
    bodies = [json.dumps({"dataframe_records": [row]}).encode() for row in request_rows(256, seed=3)]
    tally = Tally()
    total = round(args.minutes * 60 * args.rate)
    url = urlsplit(server.url)
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    workers = [
        asyncio.create_task(
            worker(Connection(url.hostname or "127.0.0.1", url.port or 80, url.path), queue, tally)
        )
        for _ in range(args.connections)
    ]

    async def sample() -> None:
        start = time.monotonic()
        while True:
            samples.append((time.monotonic() - start, rss_kib(server.pids)))
            await asyncio.sleep(args.sample_seconds)

    sampler = asyncio.create_task(sample())
    t0 = time.perf_counter()
    next_report = 60.0
    for i in range(total):
        due = t0 + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.1:
            tally.late_starts += 1
        if queue.qsize() >= MAX_QUEUED:
            tally.shed += 1
            continue
        queue.put_nowait((due, bodies[i % len(bodies)]))
        elapsed = time.perf_counter() - t0
        if elapsed >= next_report:
            print(
                f"[soak] {elapsed / 60:4.1f} min: {i + 1} scheduled, {tally.statuses[200]} answered 200, "
                f"{queue.qsize()} waiting for a connection, RSS {samples[-1][1] / 1024:.1f} MiB",
                file=sys.stderr,
                flush=True,
            )
            next_report += 60.0
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    sampler.cancel()
    samples.append((samples[-1][0] + args.sample_seconds, rss_kib(server.pids)))
    return tally


def logged_ids(workspace: str, ids: list[str]) -> tuple[int, int]:
    """Rows in the predictions table, and how many of ``ids`` are among them."""
    import sqlalchemy as sa

    from modelward import Workspace
    from modelward.store.schema import predictions

    with Workspace.open(workspace) as ws, ws.store.read() as conn:
        rows = int(conn.execute(sa.select(sa.func.count()).select_from(predictions)).scalar() or 0)
        found = 0
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            found += int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(predictions).where(predictions.c.id.in_(chunk))
                ).scalar()
                or 0
            )
    return rows, found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="Duration of the load (default 10).")
    parser.add_argument("--rate", type=float, default=150.0, help="Requests per second (default 150).")
    parser.add_argument("--model", choices=KINDS, default="rf", help="Model served (default rf).")
    parser.add_argument(
        "--warmup-minutes", type=float, default=1.0, help="Before the RSS baseline (default 1)."
    )
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="RSS sampling period (default 5).")
    parser.add_argument("--max-growth", type=float, default=0.10, help="Allowed RSS growth (default 0.10).")
    parser.add_argument("--connections", type=int, default=32, help="Keep-alive connections (default 32).")
    parser.add_argument("--workers", type=int, default=None, help="modelward serve --workers.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        model_pkl = Path(tmp) / "model.pkl"
        model_pkl.write_bytes(pickle.dumps(train(args.model)))
        extra = ["--workers", str(args.workers)] if args.workers else []
        server = start_modelward(model_pkl, args.model, extra)
        samples: list[tuple[float, int]] = []
        try:
            server.wait_ready(json.dumps({"dataframe_records": request_rows(1)}).encode())
            warm_rows = 1  # the readiness probe made one logged prediction
            started = time.perf_counter()
            tally = asyncio.run(drive(server, args, samples))
            elapsed = time.perf_counter() - started
        finally:
            keep, server.cleanup = server.cleanup, []  # the workspace stays until it has been counted
            server.stop()
        stopped_cleanly = server.proc.returncode in (0, -2, 130)
        rows, found = logged_ids(keep[0].name, tally.ids)
        for item in keep:
            item.cleanup()

    sent = sum(tally.statuses.values()) + sum(tally.transport_errors.values())
    ok = tally.statuses[200]
    errors = sent - ok + tally.shed
    after = [kib for t, kib in samples if t >= args.warmup_minutes * 60]
    baseline = statistics.mean(after[:3]) if len(after) >= 3 else float("nan")
    end = statistics.mean(kib for _, kib in samples[-3:])
    growth = (end - baseline) / baseline if baseline == baseline else float("nan")
    lat = sorted(tally.latencies_ms) or [float("nan")]
    checks = {
        f"RSS growth {growth:+.1%} < {args.max_growth:.0%}": growth < args.max_growth,
        f"errors: {errors} (non-200 {dict((k, v) for k, v in tally.statuses.items() if k != 200)}, "
        f"transport {dict(tally.transport_errors)}, shed {tally.shed})": errors == 0,
        f"logged rows {rows} == 200 responses {ok} + {warm_rows} readiness probe": rows == ok + warm_rows,
        f"every received prediction id logged: {found} of {len(tally.ids)}": found == len(tally.ids) == ok,
        "server stopped cleanly (log drained)": stopped_cleanly,
    }
    print(
        f"\nSoak of modelward serve ({args.model}, SQLite, log.durability sync): {sent} requests in "
        f"{elapsed:.0f} s ({sent / elapsed:.1f} req/s offered {args.rate:g}), {ok} answered 200; "
        f"latency p50 {lat[len(lat) // 2]:.1f} ms, p99 {lat[int(len(lat) * 0.99)]:.1f} ms, "
        f"max {lat[-1]:.1f} ms; {tally.late_starts} requests started > 100 ms late (client side).\n"
        f"RSS (all server processes): first {samples[0][1] / 1024:.1f} MiB, baseline after "
        f"{args.warmup_minutes:g} min {baseline / 1024:.1f} MiB, end {end / 1024:.1f} MiB, "
        f"max {max(k for _, k in samples) / 1024:.1f} MiB ({len(samples)} samples); "
        f"load average {os.getloadavg()[0]:.2f}."
    )
    for text, passed in checks.items():
        print(f"  [{'PASS' if passed else 'FAIL'}] {text}")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
