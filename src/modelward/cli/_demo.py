"""`modelward demo [DIR]`: the product's main job, end to end, in a minute or two.

A workspace is built from nothing: a loan-approval model (v1) is trained on an Agrawal stream, served by a
real ``modelward serve`` over HTTP on 127.0.0.1 with the maintenance loop inside it, and fed live traffic
whose true labels arrive late. Then, in acts:

1. **a retrain nobody needed**: an operator asks for one while nothing is wrong; the gate compares the
   challenger with the champion on the same held-out recent rows and rejects it (no evidence it is better);
2. **the world changes**: at a known row the approval rule changes (Agrawal concept 0 -> 2); the loop sees the
   realized accuracy fall as labels arrive, retrains on recent labeled traffic, gates the new version, rolls
   it out as a canary on half the requests and promotes it once the live labels show it better; the server
   answers with it without a restart;
3. **a challenger the gate passes but live traffic does not**: a temporary rule comes in for applicants
   under 60 (concept 6 for them, 2 for the others) and an operator asks for a retrain once its labels are
   in; the gate passes the new version on the newest rows, which follow the temporary rule, and the loop
   starts its canary; the rule ends as it does (the demo switches it back to concept 2 when it sees the
   rollout begin, as the rollout end-to-end test does). On live traffic the challenger is now worse than
   the champion: the loop's always-valid sequential test (or a guardrail) shows it and the canary rolls it
   back on its own; the champion never changed.

Every decision is printed as it is stored (time-stamped, with its evidence, read back from the registry's
events), and the whole timeline is written as JSON and as one self-contained HTML page with a chart. The
acts are a list: a new one is one more function.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import httpx
import typer

from modelward.cli._common import console
from modelward.cli._demo_output import recap, say, write
from modelward.cli._demo_replay import Batch, Replay
from modelward.cli._demo_server import DemoServer
from modelward.cli._demo_timeline import Timeline
from modelward.config import STATE_DIR
from modelward.errors import ModelwardError
from modelward.jobs import RetrainJob
from modelward.rollouts import Rollout
from modelward.workspace import Workspace

if TYPE_CHECKING:  # modelward.demo imports river and scikit-learn: only the demo itself pays for them
    from modelward.demo import Rules

__all__ = ["MARKER", "demo_command"]

MARKER = ".modelward-demo"
MODEL = "credit"
_QUICKSTART_HEADER = "# modelward workspace made by `modelward quickstart`."

DEMO_CONFIG = """\
# The workspace of `modelward demo` (a re-run wipes and rebuilds it). Every key: docs/configuration.md.
# Tuned so the whole loop runs in a minute or two (a second of the demo stands for hours of a real service):
# 1000-row monitoring windows, a loop pass every half second, a 5-second cooldown; retraining on the labeled
# rows of the last 8 seconds with 95 % of the weight (halving every 3 seconds), the reference data the rest;
# a gate on the newest 5 % of those rows (at least 200); a canary on half the requests for at least 3 seconds,
# promoted once its live labels show it is not worse and its guardrails (errors, latency) pass. Concept-drift
# detection is off: the realized accuracy catches act 2's drift, and in act 3 the error stream of the champion
# rightly changes when the temporary rule ends, a retrain the demo has no time to show.
monitor: {window: "1000", lateness_seconds: 0}
loop: {interval_seconds: 0.5, heartbeat_seconds: 1}
serve: {reload_poll_seconds: 0.5}
models:
  credit:
    task: classification
    target: approved
    dataset: loans
    entrypoint: modelward.demo:train_random_forest
    params: {n_estimators: 30, max_depth: 10, random_state: 0}
    split: {kind: random, test_size: 0.25, seed: 0}
    description: Loan approval (river's Agrawal generator; the demo changes the rule from concept 0 to 2)
    loop:
      performance: {min_rows: 900}
      concept_drift: {enabled: false}
      cooldown: 5s
      retrain: {recent: 8s, half_life: 3s, new_share: 0.95, min_new_rows: 150, time_limit: 2m}
      # alpha 0.001: a retrain that is only a little better (p 0.02-0.03 on 100 rows, seen) is not promoted;
      # 200 gate rows: act 3's real gain (0.14 in accuracy, seen) then passes it every time, not one run in two.
      gate: {min_rows: 200, holdout_share: 0.05, bootstrap_resamples: 500, alpha: 0.001}
      rollout:
        mode: canary
        steps: [50, 100]
        step_seconds: 3s
        min_rows: 30
        # The demo's server shares two cores with its own training and the client: a generous latency slack.
        guardrails: {min_requests: 20, latency_slack_ms: 100}
"""


@dataclass(frozen=True)
class Scenario:
    """The demo's numbers: training rows, the stream, its pace and label delay, when things happen."""

    train_rows: int = 3000
    drift_row: int = 2000  # a multiple of the monitor's window: the first window after it is all new concept
    rate: float = 100.0
    batch: int = 10
    label_delay: int = 200
    routine_after_rows: int = 800
    tail_rows: int = 500
    temporary_rule: int = 6  # act 3: Agrawal concept 6 (salary + commission), unlike rule 2 (age and salary)
    # ... for applicants under 60 only (two in three): the champion's windows stay above the performance
    # trigger's threshold, so the loop's own triggers keep quiet once the canary is rolled back
    temporary_under: int = 60
    temporary_labels: int = 600  # act 3: labels of the temporary rule in before the operator asks (the 200
    # newest are the gate's; with fewer the 8-second training window also held rows of the old rule)
    rollback_tail_rows: int = 300
    seed: int = 7


@dataclass
class Demo:
    """What the acts share: the workspace, the server, the traffic, the timeline."""

    ws: Workspace
    server: DemoServer
    replay: Replay
    timeline: Timeline
    scenario: Scenario
    admin_token: str
    rules: Rules
    drifted: dt.datetime | None = None  # when the first row of the new concept was sent

    def pump(self) -> None:
        """Print the events stored since the last call (and the drift once it was sent); fail if the traffic
        or the server stopped."""
        self.timeline.absorb(self.ws.registry.events(MODEL))
        self._mark_drift()
        if not self.server.alive:
            raise ModelwardError(
                f"modelward serve stopped unexpectedly. Its output:\n{self.server.output(40)}"
            )
        if self.replay.error is not None:
            raise ModelwardError(f"The demo's traffic stopped: {self.replay.error}") from self.replay.error

    def _mark_drift(self) -> None:
        batch = None if self.drifted else self.replay.batch_of(self.scenario.drift_row)
        if batch is None:
            return
        self.drifted = self.replay.sent_at(batch)
        self.timeline.mark(
            "demo_drift",
            f"row {self.scenario.drift_row}: the approval rule changes (Agrawal concept 0 -> 2); the applicants "
            "look the same",
            mark="drift",
            at=self.drifted,
        )

    def wait(self, what: str, probe: Callable[[], T | None], *, timeout: float = 120.0) -> T:
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            value = probe()
            if value:
                return value
            if self.replay.finished:
                raise ModelwardError(
                    f"The traffic stopped before {what}. The server's output:\n{self.server.output(30)}"
                )
            if time.monotonic() > deadline:
                raise ModelwardError(f"Gave up after {timeout:g} s waiting for {what}.")
            time.sleep(0.2)


T = TypeVar("T")


# -- the workspace ---------------------------------------------------------------------------------------


def _is_demo_workspace(directory: Path) -> bool:
    if (directory / MARKER).is_file():
        return True
    config = directory / "modelward.yaml"
    return config.is_file() and config.read_text(encoding="utf-8").startswith(_QUICKSTART_HEADER)


def prepare_directory(directory: Path) -> Path:
    """An empty ``directory`` marked as the demo's; a previous demo workspace there is wiped, anything
    else is refused."""
    if directory.exists() and not directory.is_dir():
        raise ModelwardError(f"{directory} exists and is not a directory. Choose another DIR for the demo.")
    if directory.is_dir() and any(directory.iterdir()):
        if not _is_demo_workspace(directory):
            raise ModelwardError(
                f"{directory} is not empty and is not a previous demo workspace (it has no {MARKER} file), so "
                "the demo will not wipe it. Choose another DIR (modelward demo DIR), or empty it yourself."
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text(
        "Made by `modelward demo`: running it again wipes this directory and builds it afresh.\n",
        encoding="utf-8",
    )
    return directory.resolve()


def _train_v1(ws: Workspace, scenario: Scenario, timeline: Timeline) -> None:
    from modelward.demo import agrawal_frame

    csv = ws.root / "data" / "loans.csv"
    csv.parent.mkdir(exist_ok=True)
    agrawal_frame(scenario.train_rows, seed=scenario.seed, function=0).to_csv(csv, index=False)
    dv = ws.datasets.add(csv, "loans")
    timeline.mark(
        "demo_data",
        f"{dv.ref}: {dv.rows} loan applications under approval rule 0 (Agrawal concept 0), made locally",
    )
    mv = ws.train(MODEL, data=dv.ref)
    ws.registry.promote(MODEL, mv.version, alias="champion", reason="the first model")


# -- the acts --------------------------------------------------------------------------------------------


def act_routine_retrain(demo: Demo) -> None:
    """An operator asks for a retrain while nothing is wrong: the gate must reject a challenger that is not
    shown better."""
    scenario = demo.scenario
    demo.wait(f"row {scenario.routine_after_rows}", lambda: demo.replay.sent >= scenario.routine_after_rows)
    demo.timeline.mark("demo_request", "an operator asks for a retrain over HTTP, though nothing is wrong")
    job_id = demo.wait(
        "the retrain job to open",
        lambda: _request_retrain(demo, "routine retrain: nothing is wrong, just checking"),
        timeout=60,
    )
    job = demo.wait(f"job {job_id} to end", lambda: _ended(demo.ws, job_id), timeout=120)
    if job.status != "rejected":
        raise ModelwardError(
            f"Job {job_id} ended {job.status}, not rejected by the gate: {job.error or job.gate}"
        )


def _request_retrain(demo: Demo, reason: str) -> int | None:
    """``POST /v1/admin/models/credit/retrain``: the job's id (the loop's own, if it opened one first), or
    None while it waits for labels or a cooldown."""
    with httpx.Client(base_url=demo.server.base_url, timeout=30) as http:
        answer = http.post(
            f"/v1/admin/models/{MODEL}/retrain",
            json={"reason": reason},
            headers={"Authorization": f"Bearer {demo.admin_token}"},
        )
    if answer.status_code == 202:
        return int(answer.json()["job"]["id"])
    suppressed_by = answer.json().get("suppressed_by") if answer.status_code == 200 else None
    if suppressed_by == "active_job":
        return demo.ws.jobs.latest(MODEL)[0].id
    if suppressed_by in ("labels", "cooldown"):
        time.sleep(1.0)  # the decision is an event (printed); ask again once more labels arrived
        return None
    raise ModelwardError(f"The retrain request was answered {answer.status_code}: {answer.text}")


def act_concept_drift(demo: Demo) -> None:
    """The rule changes at a known row: the loop must notice, retrain, gate and promote, and the server
    must answer with the new version."""
    scenario = demo.scenario
    demo.wait("the concept drift", lambda: demo.drifted)
    version = demo.wait(
        "the loop to promote a new version",
        lambda: (v := demo.ws.registry.get(MODEL, "champion").version) != 1 and v,
        timeout=240,
    )
    first = demo.wait(
        f"the server to answer with v{version}",
        lambda: next((b for b in demo.replay.batches if b.version == version), None),
    )
    demo.timeline.mark(
        "demo_served",
        f"v{version} answers its first request at row {first.first_row} (hot reload, no restart)",
        mark="served",
        at=demo.replay.sent_at(first),
    )
    promoted_at = demo.replay.sent
    demo.wait(
        f"{scenario.tail_rows} rows after the promotion",
        lambda: demo.replay.sent >= promoted_at + scenario.tail_rows,
    )


def act_worse_on_live_traffic(demo: Demo) -> None:
    """A temporary rule comes in and an operator asks for a retrain for it: the gate passes the challenger
    on the newest rows; the rule ends as the canary starts, so live traffic shows the challenger worse: the
    canary must roll it back, and the champion must stay."""
    scenario = demo.scenario
    champion = demo.ws.registry.get(MODEL, "champion").version
    rule = demo.rules.changes[-1][1].function
    start = demo.replay.made + scenario.batch  # the first row the stream has not made yet, and a margin
    demo.rules.switch(start, scenario.temporary_rule, under=scenario.temporary_under)
    batch = demo.wait(f"row {start}", lambda: demo.replay.batch_of(start))
    demo.timeline.mark(
        "demo_rule",
        f"row {start}: a temporary approval rule for applicants under {scenario.temporary_under} (Agrawal "
        f"concept {scenario.temporary_rule} for them, still {rule} for the others); the applicants look the same",
        mark="drift",
        at=demo.replay.sent_at(batch),
    )
    # The champion's own holdout (a split of its mixed training data) is a weak yardstick for the performance
    # trigger here, so an operator asks, once the new rule's labels are in: the gate decides, not the demo.
    demo.wait(
        f"{scenario.temporary_labels} labels of the temporary rule",
        lambda: demo.replay.labeled >= start + scenario.temporary_labels,
    )
    demo.timeline.mark(
        "demo_request",
        f"an operator asks for a retrain over HTTP for the temporary rule ({scenario.temporary_labels} of its "
        "labels are in)",
    )
    job_id = demo.wait(
        "the retrain job to open",
        lambda: _request_retrain(demo, "a temporary approval rule: retrain for it"),
        timeout=60,
    )
    rollout = demo.wait(
        "the gate to pass a challenger and start a canary",
        lambda: _canary(demo.ws, job_id),
        timeout=120,
    )
    back = demo.replay.made + scenario.batch
    demo.rules.switch(back, rule)
    batch = demo.wait(f"row {back}", lambda: demo.replay.batch_of(back))
    demo.timeline.mark(
        "demo_rule",
        f"row {back}: the temporary rule ends as the canary starts (concept {rule} for everyone again): "
        f"v{rollout.challenger_version} learnt a rule that no longer holds",
        mark="drift",
        at=demo.replay.sent_at(batch),
    )
    done = demo.wait(
        f"rollout {rollout.id} to end",
        lambda: None if (r := demo.ws.rollouts.get(rollout.id)).active else r,
        timeout=120,
    )
    if done.status != "rolled_back" or demo.ws.registry.get(MODEL, "champion").version != champion:
        raise ModelwardError(
            f"Rollout {rollout.id} ended {done.status}, not rolled back by the canary: {done.reason}"
        )
    after = demo.replay.sent
    first = demo.wait(f"v{champion} to answer every request again", lambda: _all_by(demo, champion, after))
    demo.timeline.mark(
        "demo_served",
        f"v{champion} answers every request again from row {first.first_row}; the champion never changed",
        at=demo.replay.sent_at(first),
    )
    demo.wait(
        f"{scenario.rollback_tail_rows} rows after the rollback",
        lambda: demo.replay.sent >= after + scenario.rollback_tail_rows,
    )


#: The acts, in order, with their titles.
ACTS: list[tuple[str, Callable[[Demo], None]]] = [
    ("act 1: a retrain nobody needed", act_routine_retrain),
    ("act 2: the approval rule changes", act_concept_drift),
    ("act 3: the gate passes a challenger, live traffic does not", act_worse_on_live_traffic),
]


def _all_by(demo: Demo, version: int, after: int, run: int = 20) -> Batch | None:
    """The first batch from row ``after`` on from which ``run`` batches in a row were all answered by
    ``version`` (the split is random: one batch by the champion is no proof the canary is gone)."""
    batches = [b for b in demo.replay.batches if b.first_row >= after]
    for i in range(len(batches) - run + 1):
        if all(b.version == version for b in batches[i : i + run]):
            return batches[i]
    return None


def _canary(ws: Workspace, job_id: int) -> Rollout | None:
    """The active rollout, once job ``job_id`` started it; fails if the job ended without one."""
    rollout = ws.rollouts.active(MODEL)
    if rollout is not None:
        return rollout
    job = ws.jobs.get(job_id)
    if not job.active and job.status != "rolling_out":
        raise ModelwardError(
            f"Job {job_id} ended {job.status} instead of starting a canary: {job.error or job.gate}"
        )
    return None


def _ended(ws: Workspace, job_id: int) -> RetrainJob | None:
    job = ws.jobs.get(job_id)
    return None if job.active else job


# -- the command -----------------------------------------------------------------------------------------


def demo_command(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="Directory of the demo workspace (wiped and rebuilt on a re-run)."
        ),
    ] = Path("demo-workspace"),
) -> None:
    """The main job live: serve, drift, detect, retrain, gate, canary, promote, roll back; an HTML timeline.

    Builds a workspace in DIR, trains v1 on loan data, starts `modelward serve` (the loop inside) on a free
    127.0.0.1 port and replays traffic whose labels arrive late. A retrain nobody needed is rejected by the
    gate; then the approval rule changes and the loop detects it, retrains, gates, rolls out a canary and
    promotes it on live evidence. Last, a challenger the gate passes on a temporary rule goes out as a canary
    just as that rule ends, and the canary rolls it back on live evidence. Every decision is printed with its
    evidence; the timeline is written to DIR/timeline.html and DIR/timeline.json.
    """
    started = time.monotonic()
    root = prepare_directory(directory)
    (root / "modelward.yaml").write_text(DEMO_CONFIG, encoding="utf-8")
    console.rule(f"modelward demo in {root}")
    timeline = Timeline(dt.datetime.now(dt.UTC), say)
    scenario = Scenario()
    # The workspace's own SQLite file, whatever MODELWARD_DATABASE_URL says: a re-run must start afresh.
    database_url = f"sqlite:///{root / STATE_DIR / 'modelward.db'}"
    with Workspace.init(root, database_url=database_url) as ws:
        _train_v1(ws, scenario, timeline)
        timeline.absorb(ws.registry.events(MODEL))
        demo = _live(ws, timeline, scenario, database_url)
        seconds = time.monotonic() - started
        json_path, html_path = write(demo, root, seconds, MODEL)
        recap(demo, seconds, directory, json_path, html_path, MODEL)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _live(ws: Workspace, timeline: Timeline, scenario: Scenario, database_url: str) -> Demo:
    """Serve, send the traffic, play the acts; the server is stopped whatever happens (Ctrl-C included)."""
    token = secrets.token_urlsafe(16)  # the admin token lives in the server's environment only
    server = DemoServer(
        ws.root, ws.root / "serve.log", database_url=database_url, env={"MODELWARD_ADMIN_TOKEN": token}
    )
    from modelward.demo import Rules, rule_batches

    rules = Rules(0).switch(scenario.drift_row, 2)
    stream = rule_batches(rules, scenario.batch, seed=scenario.seed + 1)
    replay = Replay(
        server.base_url, MODEL, stream, target="approved", rate=scenario.rate, delay=scenario.label_delay
    )
    demo = Demo(ws, server, replay, timeline, scenario, token, rules)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops the demo like Ctrl-C
    try:
        server.start()
        timeline.mark(
            "demo_serve", f"modelward serve is up at {server.base_url} (pid {server.pid}), the loop inside"
        )
        replay.start()
        timeline.mark(
            "demo_traffic",
            f"traffic: {scenario.rate:g} loan applications a second over HTTP; each true label arrives "
            f"{scenario.label_delay} rows later (feedback)",
        )
        for title, act in ACTS:
            timeline.mark("demo_act", title)
            act(demo)
    except KeyboardInterrupt:
        console.print("\ninterrupted: stopping the server")
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        replay.stop()
        status = server.stop()
    timeline.absorb(ws.registry.events(MODEL))
    timeline.mark("demo_stopped", f"traffic stopped; modelward serve stopped (exit status {status})")
    return demo
