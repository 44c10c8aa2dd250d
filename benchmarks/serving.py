"""Serving benchmark: modelward serve vs mlflow models serve vs bentoml serve, in one run.

    .venv/bin/python benchmarks/serving.py                 # 15 s per cell, concurrency 8 and 32
    .venv/bin/python benchmarks/serving.py --duration 20 --servers modelward mlflow --models rf
    .venv/bin/python benchmarks/serving.py --explain       # modelward, rf, c=8: predict vs explain

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

``--explain`` (issue 13, acceptance 3) measures modelward alone (no peer venv is built), by
default on ``rf`` at concurrency 8 with one worker, and sends three kinds of request to the
same server one after another, each after its own warm-up: ``POST .../predict``, ``POST
.../explain`` (the same bodies) and ``POST .../predict`` with ``"return": ["explanations"]``.
Before the load, one request of each kind must answer 200 (with ``explanations`` where asked
for), which also builds the explainer. It prints req/s, p50, p99, non-2xx and socket errors
for each, and each one's 2xx req/s and p99 divided by plain predict's (only 2xx answers
count towards a ratio's req/s), and writes ``benchmarks/results/serving-explain-<UTC
time>.{json,md}``.
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
from typing import Any

import httpx

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
# --explain: request kind -> (modelward route, keys added to every body); plain predict first.
EXPLAIN_REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "predict": ("predict", {}),
    "explain": ("explain", {}),
    "predict+explanations": ("predict", {"return": ["explanations"]}),
}

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
    request: str = "predict"  # a key of EXPLAIN_REQUESTS

    @property
    def ok_rps(self) -> float:
        """wrk's req/s counting only the answers with a 2xx status: an error is not a fast answer."""
        return self.rps * (self.requests - self.non_2xx) / self.requests if self.requests else 0.0


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is not installed. On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk")
    return wrk


def bodies(extra: dict[str, Any] | None = None) -> list[bytes]:
    """The 64 single-row bodies, each with the keys of ``extra`` added (e.g. ``"return"``)."""
    return [json.dumps({"dataframe_records": [row], **(extra or {})}).encode() for row in request_rows(64)]


def lua_script(directory: Path, extra: dict[str, Any] | None = None, name: str = "post") -> Path:
    # JSON strings are valid Lua strings here
    quoted = ", ".join(json.dumps(b.decode()) for b in bodies(extra))
    path = directory / f"{name}.lua"
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


def requests(args: argparse.Namespace) -> dict[str, tuple[str, dict[str, Any]]]:
    """The kinds of request each server gets: plain predict, or with ``--explain`` all of EXPLAIN_REQUESTS."""
    return EXPLAIN_REQUESTS if args.explain else {"predict": EXPLAIN_REQUESTS["predict"]}


def route_url(srv: Server, route: str) -> str:
    """The server's predict URL, or modelward's route beside it (``.../v1/models/rf/explain``)."""
    if route == "predict":
        return srv.url
    if not srv.url.endswith("/predict"):
        raise ValueError(f"{srv.name} has no {route} route beside {srv.url}")
    return srv.url.removesuffix("predict") + route


def check_answer(srv: Server, url: str, body: bytes, *, explained: bool) -> None:
    """One request before the load (it also builds the explainer): 200, with explanations when asked for.

    wrk counts statuses only, so this is where an answer that drops the explanations would show.
    """
    r = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=120)
    rows = r.json().get("explanations", {}).get("rows") if r.status_code == 200 else None
    if r.status_code != 200 or (explained and not rows):
        raise RuntimeError(f"POST {url} answered {r.status_code}: {r.text[:500]}\n{srv.tail()}")


def measure(args: argparse.Namespace) -> list[Cell]:
    wrk = require_wrk()
    if set(args.servers) - {"modelward"}:
        build_peers()
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        scripts = {
            request: lua_script(Path(tmp), extra, request.replace("+", "-"))
            for request, (_, extra) in requests(args).items()
        }
        first_body = bodies()[0]
        for kind in args.models:
            model_pkl = Path(tmp) / f"{kind}.pkl"
            model_pkl.write_bytes(pickle.dumps(train(kind)))
            for server in servers(args):
                print(f"[bench] starting {server} for {kind} ...", file=sys.stderr, flush=True)
                srv = start(server, model_pkl, kind, args)
                try:
                    srv.wait_ready(first_body)
                    urls = {request: route_url(srv, route) for request, (route, _) in requests(args).items()}
                    if args.explain:
                        for request, (_, extra) in requests(args).items():
                            check_answer(srv, urls[request], bodies(extra)[0], explained=request != "predict")
                    for c in args.concurrency:
                        for request, url in urls.items():
                            run_wrk(wrk, url, scripts[request], c, args.warmup)
                            load = os.getloadavg()[0]
                            r = run_wrk(wrk, url, scripts[request], c, args.duration)
                            cell = Cell(server, kind, c, load_before=load, request=request, **r)  # type: ignore[arg-type]
                            cells.append(cell)
                            label = f"{kind} {request}" if args.explain else kind
                            print(
                                f"[bench] {server:9} {label} c={c:<3} {cell.rps:8.1f} req/s  p50 {cell.p50_ms:7.1f} ms"
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


def _find(cells: list[Cell], server: str, kind: str, c: int, request: str = "predict") -> Cell | None:
    key = (server, kind, c, request)
    return next((x for x in cells if (x.server, x.model, x.concurrency, x.request) == key), None)


def explain_report(cells: list[Cell]) -> tuple[str, list[dict[str, object]]]:
    """``--explain``: every request kind beside plain predict's, measured on the same server."""
    lines = [
        "| server | model | concurrency | request | req/s | 2xx req/s | p50 ms | p99 ms | non-2xx | socket errors "
        "| 2xx req/s ÷ predict's | p99 ÷ predict's |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios: list[dict[str, object]] = []
    for x in cells:
        predict = _find(cells, x.server, x.model, x.concurrency)
        assert predict is not None  # measured first on every server
        rps = x.ok_rps / predict.ok_rps if predict.ok_rps else float("nan")
        p99 = x.p99_ms / predict.p99_ms if predict.p99_ms else float("nan")
        errors = x.non_2xx + x.socket_errors
        ratios.append(
            {
                "server": x.server,
                "model": x.model,
                "concurrency": x.concurrency,
                "request": x.request,
                "ok_rps": x.ok_rps,
                "ok_rps_ratio_to_predict": rps,
                "p99_ratio_to_predict": p99,
                "errors": errors,
            }
        )
        lines.append(
            f"| {x.server} | {x.model} | {x.concurrency} | {x.request} | {x.rps:.1f} | {x.ok_rps:.1f} | "
            f"{x.p50_ms:.1f} | {x.p99_ms:.1f} | {x.non_2xx} | {x.socket_errors} | {rps:.3f} | {p99:.2f} |"
        )
    return "\n".join(lines), ratios


def report(cells: list[Cell], args: argparse.Namespace) -> tuple[str, list[dict[str, object]]]:
    if args.explain:
        return explain_report(cells)
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
    parser.add_argument(
        "--concurrency", type=int, nargs="+", help="wrk connections (default: 8 32; with --explain: 8)."
    )
    parser.add_argument("--models", nargs="+", choices=KINDS, help="Default: rf lr; with --explain: rf.")
    parser.add_argument(
        "--servers", nargs="+", choices=SERVERS, help="Default: all; with --explain: modelward."
    )
    parser.add_argument(
        "--also-workers",
        type=int,
        nargs="*",
        help="Also run modelward serve --workers N for each N (default: 2, with --explain none; "
        "none: --also-workers).",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="modelward only: predict, /explain and predict with explanations on the same server (issue 13).",
    )
    args = parser.parse_args()
    if args.explain and set(args.servers or ()) - {"modelward"}:
        parser.error("--explain measures modelward only (the peers have no explain route): drop --servers")
    args.concurrency = args.concurrency or ([8] if args.explain else [8, 32])
    args.models = args.models or (["rf"] if args.explain else list(KINDS))
    args.servers = args.servers or (["modelward"] if args.explain else list(SERVERS))
    if args.also_workers is None:
        args.also_workers = [] if args.explain else [2]

    started = dt.datetime.now(dt.UTC)
    load = os.getloadavg()
    cells = measure(args)
    table, ratios = report(cells, args)
    header = (
        f"Serving benchmark {started:%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} CPUs), "
        f"load average at start {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}; wrk -t1, {args.duration:g} s per cell "
        f"after {args.warmup:g} s warm-up; single-row JSON; modelward with durable logging (sync, SQLite)."
    )
    if args.explain:
        header += (
            ' Requests, one after another on the same server: predict; explain (logs nothing); predict with "return": '
            '["explanations"] (logged). Ratios count 2xx answers only.'
        )
    print(f"\n{header}\n\n{table}")
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"serving{'-explain' if args.explain else ''}-{started:%Y%m%dT%H%M%S}"
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
