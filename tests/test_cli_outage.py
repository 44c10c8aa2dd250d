"""A command whose database goes away while it runs ends with a clear message, never a traceback.

The database is taken away for real, from inside the user's training code (so between the command's
first reads and its registration): the PostgreSQL role is locked out and its connections cut, or the
SQLite file is deleted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from modelward import Workspace
from modelward.demo import agrawal_frame
from support.pg import BreakablePostgres

CONFIG = """\
models:
  credit:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: usercode:train
    params: {n_estimators: 5, random_state: 0}
"""

TRAIN = """
from modelward.demo import train_random_forest


def train(train_df, params, *, target):
    model = train_random_forest(train_df, params, target=target)
    take_the_database_away()
    return model
"""

LOCK_OUT_ROLE = """
import sqlalchemy as sa


def take_the_database_away():
    admin = sa.create_engine({admin!r}, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text('ALTER ROLE "{role}" NOLOGIN'))
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"))
    admin.dispose()
"""

DELETE_FILE = """
from pathlib import Path


def take_the_database_away():
    (Path(__file__).parent / ".modelward" / "modelward.db").unlink()
"""


def _workspace(root: Path, usercode: str, database_url: str | None = None) -> Path:
    root.mkdir()
    (root / "usercode.py").write_text(usercode + TRAIN)
    agrawal_frame(400, seed=1).to_csv(root / "data.csv", index=False)
    with Workspace.init(root, config=CONFIG, database_url=database_url) as ws:
        ws.datasets.add(root / "data.csv", "agrawal")
    return root


def _train(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelward", "train", "credit", "-w", str(root), *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_postgresql_going_away_mid_command_is_a_clear_error(
    tmp_path: Path, breakable_pg: BreakablePostgres
) -> None:
    admin = breakable_pg.admin.url.render_as_string(hide_password=False)
    root = _workspace(
        tmp_path / "ws", LOCK_OUT_ROLE.format(admin=admin, role=breakable_pg.role), breakable_pg.url
    )
    done = _train(root, "--database-url", breakable_pg.url)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    message = " ".join(done.stderr.split())
    masked = sa.engine.make_url(breakable_pg.url).render_as_string(hide_password=True)
    assert message.startswith(f"error: The database {masked} is unavailable: "), message
    assert f'role "{breakable_pg.role}" is not permitted to log in' in message
    assert "Check that the server is running and reachable from here, that the role may log in" in message
    breakable_pg.up()
    with Workspace.open(root, database_url=breakable_pg.url) as ws:
        assert ws.registry.list_models() == []  # nothing half-registered


def test_a_sqlite_file_deleted_mid_command_is_a_clear_error(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", DELETE_FILE)
    db = root / ".modelward" / "modelward.db"
    done = _train(root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    message = " ".join(done.stderr.split())
    # Logged when the store notices (a server's log shows it once), then the command's error.
    assert f"error: The SQLite database {db} was deleted while in use" in message, message
    assert message.endswith("Restore the file and restart."), message
    assert not db.exists()  # and nothing created an empty one in its place
