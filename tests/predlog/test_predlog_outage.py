"""The database goes away: spool, keep answering, replay exactly once; or reject with 503."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from predlog_helpers import make_record, stored_ids

from modelward.predlog import FeedbackItem, FeedbackResult, LogUnavailableError, PredictionLog
from modelward.store import Store
from support.pg import BreakablePostgres


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


class Load:
    """Client threads submitting one record at a time (sync) and keeping what was acknowledged."""

    def __init__(self, plog: PredictionLog, clients: int = 4) -> None:
        self.plog = plog
        self.acked: list[str] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(k,)) for k in range(clients)]
        for t in self._threads:
            t.start()

    def _run(self, k: int) -> None:
        i = 0
        while not self._stop.is_set():
            record = make_record(i=i)
            try:
                self.plog.submit([record]).result(timeout=10)
            except BaseException as exc:
                self.errors.append(exc)
                return
            self.acked.append(record.id)
            i += 1
            time.sleep(0.001)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)


def test_outage_spools_keeps_answering_and_replays_exactly_once(
    breakable_pg: BreakablePostgres, spool_dir: Path
) -> None:
    store = Store.open(breakable_pg.url)
    plog = PredictionLog(store, spool_dir=spool_dir)
    plog.start()
    load = Load(plog)
    try:
        wait_for(lambda: len(load.acked) >= 100, "predictions before the outage")
        breakable_pg.down()
        at_outage = len(load.acked)
        wait_for(lambda: not plog.database_reachable, "the log to notice the outage")
        wait_for(lambda: len(load.acked) >= at_outage + 300, "predictions during the outage")
        assert plog.spool_bytes > 0
        assert not load.errors
        spooled_id = load.acked[-1]
        with pytest.raises(
            LogUnavailableError, match="Feedback not recorded: the database is unreachable"
        ) as err:
            plog.add_feedback([FeedbackItem(spooled_id, 1)])
        assert err.value.status_code == 503

        breakable_pg.up()
        wait_for(lambda: plog.database_reachable and plog.spool_bytes == 0, "the spool to be replayed")
        at_recovery = len(load.acked)
        wait_for(lambda: len(load.acked) >= at_recovery + 100, "predictions after recovery")
    finally:
        load.stop()
    assert not load.errors
    assert plog.add_feedback([FeedbackItem(spooled_id, 1)]) == [FeedbackResult(spooled_id, "recorded")]
    plog.close()
    assert not list(spool_dir.glob("slot-*/seg-*"))
    ids = stored_ids(breakable_pg.url)
    assert len(ids) == len(set(ids)) == len(set(load.acked)) == len(load.acked)
    assert set(ids) == set(load.acked)
    store.close()


def test_reject_mode_answers_503_with_the_reason(breakable_pg: BreakablePostgres, spool_dir: Path) -> None:
    store = Store.open(breakable_pg.url)
    plog = PredictionLog(store, spool_dir=spool_dir, on_failure="reject")
    plog.start()
    kept = make_record()
    plog.submit([kept]).result(timeout=10)
    breakable_pg.down()
    with pytest.raises(LogUnavailableError) as err:
        plog.submit([make_record()]).result(timeout=10)
    assert err.value.status_code == 503
    assert "the database is unreachable (" in err.value.message
    assert "log.on_failure is 'reject'" in err.value.message
    with pytest.raises(LogUnavailableError):  # refused at once now that the log knows
        plog.submit([make_record()]).result(timeout=10)
    assert plog.spool_bytes == 0
    breakable_pg.up()
    wait_for(lambda: plog.database_reachable, "the log to reach the database again")
    after = make_record()
    plog.submit([after]).result(timeout=10)
    plog.close()
    assert sorted(stored_ids(breakable_pg.url)) == sorted([kept.id, after.id])
    store.close()


_CRASHING_SERVER = """
import datetime as dt, json, os, signal, sys
from pathlib import Path
from modelward.predlog import PredictionLog, PredictionRecord, new_prediction_id
from modelward.store import Store

store = Store("postgresql+psycopg://postgres@127.0.0.1:1/test")  # nothing listens on port 1
plog = PredictionLog(store, spool_dir=Path(sys.argv[1]))
plog.start()
ids = []
for i in range(40):
    pid = new_prediction_id()
    record = PredictionRecord(pid, dt.datetime.now(dt.UTC), "m", 1, None, None, {"x": i}, i % 2, None, 0.1)
    plog.submit([record, ]).result(timeout=10)
    ids.append(pid)
assert plog.spool_bytes > 0 and not plog.database_reachable
print(json.dumps(ids), flush=True)
if sys.argv[2] == "hang":  # keep the spool slot locked until the test kills us
    sys.stdin.read()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_spool_left_by_a_crash_is_replayed_once(database_url: str, spool_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _CRASHING_SERVER, str(spool_dir), "crash"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr
    acked = json.loads(proc.stdout)
    segments = list(spool_dir.glob("slot-0/seg-*.jsonl"))
    assert len(segments) == 1
    with segments[0].open("ab") as fh:  # the crash also tore a write that was never acknowledged
        fh.write(b'{"id": "torn-rec')

    for _ in range(2):  # a second start finds nothing more to replay
        store = Store.open(database_url)
        plog = PredictionLog(store, spool_dir=spool_dir)
        plog.start()
        wait_for(lambda: plog.spool_bytes == 0, "the spool to be replayed")  # noqa: B023
        plog.close()
        store.close()
        ids = stored_ids(database_url)
        assert len(ids) == len(set(ids)) == 40
        assert set(ids) == set(acked)
    assert not list(spool_dir.glob("slot-*/seg-*"))


def test_workers_sharing_a_spool_dir_get_own_slots_and_adopt_orphans(
    store: Store, database_url: str, spool_dir: Path
) -> None:
    other = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_SERVER, str(spool_dir), "hang"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None
        acked = json.loads(other.stdout.readline())  # spooled in slot-0, still running
        live = PredictionLog(store, spool_dir=spool_dir)
        assert sorted(p.name for p in spool_dir.iterdir()) == ["slot-0", "slot-1"]
        live.start()
        assert live.replay() == 0  # slot-0 belongs to a live process: not ours to replay
        assert stored_ids(database_url) == []
    finally:
        other.kill()
        other.communicate(timeout=30)
    wait_for(lambda: sorted(stored_ids(database_url)) == sorted(acked), "the orphaned slot to be adopted")
    live.close()
    assert not list(spool_dir.glob("slot-*/seg-*"))
