"""Serving benchmark: modelward serve vs mlflow models serve vs bentoml serve, in one run.

    .venv/bin/python benchmarks/serving.py                 # 15 s per cell, concurrency 8 and 32
    .venv/bin/python benchmarks/serving.py --duration 20 --servers modelward mlflow --models rf

For a RandomForestClassifier (100 trees, max_depth 10, 20 numeric features) and a
LogisticRegression, trained once here (seeded; see ``_serving_models.py``) and served from the
same pickle by every server, ``wrk`` sends single-row JSON requests
(``{"dataframe_records": [{...}]}``, cycling through 64 different rows) at each concurrency
for ``--duration`` seconds after a short warm-up, on 127.0.0.1. modelward runs with its
defaults: durable logging (``log.durability: sync``) to SQLite, every request validated
against the signature and logged; it runs a second time with ``--workers 2``
(``modelward-w2``; ``--also-workers`` with no value skips it). The peers run from their own
virtualenvs (``benchmarks/.venvs/``, built on first use) with their defaults (one worker).

Prints req/s, p50, p99 and non-2xx/socket errors per server x model x concurrency, the
ratios modelward/MLflow and modelward/BentoML against the targets, and writes the table to
``benchmarks/results/serving-<UTC time>.{json,md}``. ``wrk`` comes from Debian:
``apt-get install -y wrk``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _serving_models import KINDS, request_rows, train  # type: ignore[import-not-found]
from _serving_servers import (  # type: ignore[import-not-found]
    Server,
    build_peers,
    start_bentoml,
    start_mlflow,
    start_modelward,
)

RESULTS = Path(__file__).resolve().parent / "results"
SERVERS = ("modelward", "mlflow", "bentoml")
# Throughput targets of issue 3: modelward req/s ÷ peer req/s, per model.
TARGETS = {("rf", "mlflow"): 10.0, ("rf", "bentoml"): 4.0, ("lr", "mlflow"): 5.0, ("lr", "bentoml"): 2.0}

LUA = """\
-- POST single-row JSON bodies, cycling through a fixed set of rows.
local bodies = {BODIES}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""


@dataclass
class Cell:
    server: str
    model: str
    concurrency: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    load_before: float  # 1-minute load average when the cell started


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is not installed. On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk")
    return wrk


def bodies() -> list[bytes]:
    return [json.dumps({"dataframe_records": [row]}).encode() for row in request_rows(64)]


def lua_script(directory: Path) -> Path:
    quoted = ", ".join(json.dumps(b.decode()) for b in bodies())  # JSON strings are valid Lua strings here
    path = directory / "post.lua"
    path.write_text(LUA.replace("{BODIES}", "{" + quoted + "}"))
    return path


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, float]:
    """Requests, duration, req/s, p50, p99, non-2xx and socket errors from ``wrk --latency`` output."""
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (done and rps and p50 and p99):
        raise RuntimeError(f"could not parse wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": int(done.group(1)),
        "seconds": _ms(done.group(2) + done.group(3)) / 1000,
        "rps": float(rps.group(1)),
        "p50_ms": _ms(p50.group(1)),
        "p99_ms": _ms(p99.group(1)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(g) for g in sock.groups()) if sock else 0,
    }


def run_wrk(wrk: str, url: str, script: Path, concurrency: int, seconds: float) -> dict[str, float]:
    cmd = [
        wrk,
        "-t1",
        f"-c{concurrency}",
        f"-d{round(seconds)}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def servers(args: argparse.Namespace) -> list[str]:
    """The servers to run: ``modelward`` with its defaults, ``modelward-wN`` with ``--workers N``."""
    out: list[str] = []
    for name in args.servers:
        out.append(name)
        if name == "modelward":
            out += [f"modelward-w{n}" for n in args.also_workers]
    return out


def start(server: str, model_pkl: Path, kind: str, args: argparse.Namespace) -> Server:
    if server == "mlflow":
        return start_mlflow(model_pkl, kind)
    if server == "bentoml":
        return start_bentoml(model_pkl, kind)
    workers = server.partition("-w")[2]  # "modelward-w2": modelward serve --workers 2
    return start_modelward(model_pkl, kind, ["--workers", workers] if workers else [])


def measure(args: argparse.Namespace) -> list[Cell]:
    wrk = require_wrk()
    if set(args.servers) - {"modelward"}:
        build_peers()
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        script = lua_script(Path(tmp))
        first_body = bodies()[0]
        for kind in args.models:
            model_pkl = Path(tmp) / f"{kind}.pkl"
            model_pkl.write_bytes(pickle.dumps(train(kind)))
            for server in servers(args):
                print(f"[bench] starting {server} for {kind} ...", file=sys.stderr, flush=True)
                srv = start(server, model_pkl, kind, args)
                try:
                    srv.wait_ready(first_body)
                    for c in args.concurrency:
                        run_wrk(wrk, srv.url, script, c, args.warmup)
                        load = os.getloadavg()[0]
                        r = run_wrk(wrk, srv.url, script, c, args.duration)
                        cell = Cell(server, kind, c, load_before=load, **r)  # type: ignore[arg-type]
                        cells.append(cell)
                        print(
                            f"[bench] {server:9} {kind} c={c:<3} {cell.rps:8.1f} req/s  p50 {cell.p50_ms:7.1f} ms"
                            f"  p99 {cell.p99_ms:7.1f} ms  non-2xx {cell.non_2xx}  socket errors "
                            f"{cell.socket_errors}  (load {load:.2f})",
                            file=sys.stderr,
                            flush=True,
                        )
                finally:
                    srv.stop()
                    if srv.proc.returncode not in (0, -2, 130) and server == "modelward":
                        print(srv.tail(), file=sys.stderr)
    return cells


def _find(cells: list[Cell], server: str, kind: str, c: int) -> Cell | None:
    return next((x for x in cells if (x.server, x.model, x.concurrency) == (server, kind, c)), None)


def report(cells: list[Cell], args: argparse.Namespace) -> tuple[str, list[dict[str, object]]]:
    lines = [
        "| model | concurrency | server | req/s | p50 ms | p99 ms | non-2xx | socket errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for x in cells:
        lines.append(
            f"| {x.model} | {x.concurrency} | {x.server} | {x.rps:.1f} | {x.p50_ms:.1f} | {x.p99_ms:.1f} | "
            f"{x.non_2xx} | {x.socket_errors} |"
        )
    ratios: list[dict[str, object]] = []
    lines += [
        "",
        "| server | model | concurrency | vs | throughput ratio | target | p99 ours / peer | verdict |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    ours_names = ("modelward", *(f"modelward-w{n}" for n in args.also_workers))
    for us, kind, c in [(u, k, c) for u in ours_names for k in args.models for c in args.concurrency]:
        ours = _find(cells, us, kind, c)
        for peer in ("mlflow", "bentoml"):
            theirs = _find(cells, peer, kind, c)
            if ours is None or theirs is None:
                continue
            errors = ours.non_2xx + ours.socket_errors
            ratio = ours.rps / theirs.rps if theirs.rps else float("inf")
            p99 = ours.p99_ms / theirs.p99_ms if theirs.p99_ms else float("inf")
            target = TARGETS[(kind, peer)]
            ok = ratio >= target and p99 <= 1.0 and errors == 0
            ratios.append(
                {
                    "server": us,
                    "model": kind,
                    "concurrency": c,
                    "peer": peer,
                    "throughput_ratio": ratio,
                    "target": target,
                    "p99_ratio": p99,
                    "met": ok,
                }
            )
            lines.append(
                f"| {us} | {kind} | {c} | {peer} | {ratio:.2f}x | ≥ {target:.0f}x | {p99:.2f} | "
                f"{'met' if ok else 'NOT met'} |"
            )
    return "\n".join(lines), ratios


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15, help="Seconds measured per cell (default 15).")
    parser.add_argument("--warmup", type=int, default=3, help="Seconds of load before each cell (default 3).")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32], help="wrk connections.")
    parser.add_argument("--models", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    parser.add_argument(
        "--also-workers",
        type=int,
        nargs="*",
        default=[2],
        help="Also run modelward serve --workers N for each N (default: 2; none: --also-workers).",
    )
    args = parser.parse_args()

    started = dt.datetime.now(dt.UTC)
    load = os.getloadavg()
    cells = measure(args)
    table, ratios = report(cells, args)
    header = (
        f"Serving benchmark {started:%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} CPUs), "
        f"load average at start {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}; wrk -t1, {args.duration:g} s per cell "
        f"after {args.warmup:g} s warm-up; single-row JSON; modelward with durable logging (sync, SQLite)."
    )
    print(f"\n{header}\n\n{table}")
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"serving-{started:%Y%m%dT%H%M%S}"
    stem.with_suffix(".md").write_text(f"{header}\n\n{table}\n")
    stem.with_suffix(".json").write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "host": platform.node(),
                "cpus": os.cpu_count(),
                "load_at_start": load,
                "args": vars(args),
                "cells": [asdict(c) for c in cells],
                "ratios": ratios,
            },
            indent=2,
        )
    )
    print(f"\nwritten: {stem}.md, {stem}.json")


if __name__ == "__main__":
    main()
