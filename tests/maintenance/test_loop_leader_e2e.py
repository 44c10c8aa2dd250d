"""One leader among three processes on one PostgreSQL (two `modelward serve`, one `modelward loop`): exactly
one runs the loop; a leader stalled past the lease TTL (SIGSTOP, as a paused VM) is replaced within the TTL
plus one retry, and when it wakes its next write is refused and it stops, changing nothing; a leader killed
with kill -9 is seen gone by the processes of its host and replaced at their next try, before its TTL ends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from modelward import Workspace
from modelward.jobs.lease import Lease
from modelward.store.schema import events
from server.process import ServerProcess

from .loop_support import AUTH, make_loop_workspace, send, set_mode, traffic, wait_for
from .test_loop_e2e import _training_children

TTL, RENEW = 3.0, 1.0
SLACK = 1.5  # a follower's try (a database round trip), the test's polling


class LoopProcess:
    """`modelward loop` as a subprocess, its output in a file."""

    def __init__(self, root: Path, database_url: str) -> None:
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by stop()
        cmd = [sys.executable, "-m", "modelward", "loop", "-w", str(root), "--database-url", database_url]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, text=True)

    def read_output(self) -> str:
        self._log.seek(0)
        return self._log.read()

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self.read_output()
        self._log.close()
        return out


def _pid(holder: str) -> int:
    return int(holder.split(":")[1])


def _flat(text: str) -> str:
    """Log output with the console's line wrapping undone."""
    return " ".join(text.split())


def _elected(ws: Workspace) -> list[dict[str, object]]:
    with ws.store.read() as conn:
        rows = conn.execute(
            sa.select(events.c.payload).where(events.c.kind == "loop_leader_elected").order_by(events.c.id)
        )
        return [dict(r.payload) for r in rows]


def _next_leader(ws: Workspace, after: Lease, since: float) -> tuple[Lease, float]:
    lease = wait_for(
        f"a leader after epoch {after.epoch}",
        lambda: (cur := ws.leases.current()) is not None and cur.epoch > after.epoch and cur,
        timeout=30,
        every=0.05,
    )
    return lease, time.monotonic() - since


@pytest.mark.slow
def test_three_processes_one_leader_failover_and_a_stale_leader_refused(tmp_path: Path, pg_url: str) -> None:
    root = make_loop_workspace(tmp_path / "ws", pg_url)
    config = (root / "modelward.yaml").read_text()
    (root / "modelward.yaml").write_text(
        config.replace(
            "stale_after_seconds: 30",
            f"stale_after_seconds: 6, lease: {{ttl_seconds: {TTL}, renew_seconds: {RENEW}}}",
        )
    )
    set_mode(root, "sleep 60")
    servers = [ServerProcess(root, pg_url), ServerProcess(root, pg_url)]
    loop = LoopProcess(root, pg_url)
    output = {
        servers[0].proc.pid: servers[0]._read_output,
        servers[1].proc.pid: servers[1]._read_output,
        loop.proc.pid: loop.read_output,
    }
    stalled_pid: int | None = None
    children: list[int] = []
    try:
        for server in servers:
            server.wait_ready()
        with Workspace.open(root, database_url=pg_url) as ws:
            first = wait_for("a leader", ws.leases.current, timeout=30)
            leader = _pid(first.holder)
            assert leader in output, (first, list(output))
            time.sleep(2 * TTL)  # the leader renews; nobody else takes it
            assert ws.leases.current().epoch == first.epoch == 1  # type: ignore[union-attr]
            assert len(_elected(ws)) == 1
            for pid, read in output.items():
                if pid != leader:
                    wait_for(
                        f"follower {pid} to say who leads",
                        lambda read=read: f"{first.holder} leads the loop (lease epoch 1)" in _flat(read()),
                        timeout=10,
                    )
                    assert "leads the loop now" not in _flat(read())  # it never led

            # The leader runs a job; it stalls (SIGSTOP, and its training child) in the middle of it.
            with httpx.Client(base_url=servers[0].base_url, timeout=30) as http:
                send(http, traffic(300, seed=5))
                answer = http.post("/v1/admin/models/credit/retrain", json={"reason": "lease"}, headers=AUTH)
                assert answer.status_code == 202, answer.text
            job_id = answer.json()["job"]["id"]
            children = wait_for("the leader's training child", lambda: _training_children(leader), timeout=60)
            assert _pid(ws.jobs.get(job_id).owner or "::") == leader
            for pid in (leader, *children):
                os.kill(pid, signal.SIGSTOP)
            stalled_pid, stalled = leader, time.monotonic()
            set_mode(root, "good")
            second, took = _next_leader(ws, first, stalled)
            assert second.holder != first.holder and _pid(second.holder) in output
            assert took <= TTL + RENEW + SLACK, f"failover took {took:.1f} s"
            print(f"stalled leader (SIGSTOP) replaced after {took:.2f} s (ttl {TTL:g} s, retry {RENEW:g} s)")

            # The new leader resumes the job (its runner was silent for stale_after_seconds) and ends it.
            job = wait_for(
                "the resumed job to end",
                lambda: (j := ws.jobs.get(job_id)) and not j.active and j,
                timeout=120,
            )
            assert job.status in ("promoted", "rejected") and job.attempt == 2
            assert _pid(job.owner or "::") == _pid(second.holder)
            versions = [v.version for v in ws.registry.versions("credit")]

            # The stalled leader wakes: its next write (the job's heartbeat) is refused; it stops acting.
            os.kill(leader, signal.SIGCONT)
            stalled_pid = None
            refused = f"{first.holder} no longer leads (lease 'loop'): it acted under epoch 1"
            try:
                wait_for("the stale leader to stop", lambda: refused in _flat(output[leader]()), timeout=30)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; it printed:\n{output[leader]()[-6000:]}") from None
            assert "Its write was refused and changed nothing" in _flat(output[leader]())
            wait_for("its training child to die", lambda: not _training_children(leader), timeout=10)
            assert ws.jobs.get(job_id) == job  # the refused write changed nothing
            assert [v.version for v in ws.registry.versions("credit")] == versions
            assert ws.leases.current() == second or ws.leases.current().epoch == second.epoch  # type: ignore[union-attr]

            # kill -9 the leader (its supervisor reaps it): another process of this host sees it gone and
            # leads at its next try, before the TTL runs out.
            crashed = _pid(second.holder)
            victim = next((s.proc for s in servers if s.proc.pid == crashed), loop.proc)
            assert victim.pid == crashed
            killed = time.monotonic()
            victim.kill()
            victim.wait(timeout=10)
            third, took = _next_leader(ws, ws.leases.current() or second, killed)
            assert _pid(third.holder) in output and _pid(third.holder) != crashed
            assert took <= RENEW + SLACK < TTL, f"failover took {took:.1f} s"
            elected = _elected(ws)[-1]
            assert elected["previous_holder"] == second.holder and elected["holder_gone"] is True
            print(f"killed leader (kill -9) replaced after {took:.2f} s")
    finally:
        for pid in children:  # a stopped training child left behind by a failure
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if stalled_pid is not None:
            os.kill(stalled_pid, signal.SIGCONT)
        outs = [s.stop() for s in servers] + [loop.stop()]
    for out in outs:
        assert "Traceback" not in out, out[-4000:]
