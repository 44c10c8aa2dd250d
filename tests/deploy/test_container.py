"""The Dockerfile, .dockerignore and compose.yaml. Images cannot be pulled or built here, so: the files are
checked statically (stages, non-root user, healthcheck, constraints, every file they name exists and is in the
build context), Prometheus's compose config passes promtool, and the image's exact entry command line (its
ENTRYPOINT + CMD, with its ENV, in its WORKDIR's stead a workspace) runs outside a container: a real
`modelward serve` that the image's own HEALTHCHECK command finds healthy — and unhealthy once stopped."""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from maintenance.loop_support import make_loop_workspace
from server.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as ``(INSTRUCTION, arguments)``, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


def exec_form(args: str) -> list[str]:
    parsed = json.loads(args)
    assert isinstance(parsed, list), f"not the exec form: {args}"
    return [str(a) for a in parsed]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in final_stage():
        if word == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def healthcheck() -> list[str]:
    (args,) = [a for w, a in final_stage() if w == "HEALTHCHECK"]
    return exec_form(args[args.index("CMD ") + 4 :])


def included(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` in the build context (last matching rule wins)."""
    keep = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            keep = negate
    return keep


def test_the_dockerfile_is_multi_stage_non_root_pinned_and_healthchecked() -> None:
    steps = instructions()
    froms = [a for w, a in steps if w == "FROM"]
    assert len(froms) >= 2 and " AS build" in froms[0], froms
    final = final_stage()
    (user,) = [a for w, a in final if w == "USER"]
    assert user.split(":")[0] not in ("root", "0"), user
    assert any(w == "COPY" and a.startswith("--from=build ") for w, a in final)
    runs = " ".join(a for w, a in steps if w == "RUN")
    assert "pip install -c requirements/constraints.txt ." in runs
    assert "/healthz" in " ".join(healthcheck())
    assert exec_form(dict(final)["ENTRYPOINT"]) == ["modelward"]
    assert image_env()["MODELWARD_SERVE__PORT"] == "8000" and ("EXPOSE", "8000") in final


def test_every_file_the_dockerfile_copies_exists_and_is_in_the_build_context() -> None:
    sources = []
    for word, args in instructions():
        if word == "COPY" and not args.startswith("--from="):
            sources += args.split()[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which does not exist"
        assert included(source.rstrip("/")), f".dockerignore leaves {source} out of the build context"
    for kept_out in (".venv", ".git", "tests", "demo-workspace", ".modelward"):
        assert not included(kept_out), f".dockerignore lets {kept_out} into the build context"


def test_the_compose_file_runs_the_stack_and_names_only_files_that_exist() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"modelward", "postgres", "prometheus", "alertmanager", "grafana"}
    assert services["modelward"]["build"] == "."
    assert services["modelward"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["modelward"]["environment"]["MODELWARD_DATABASE_URL"].startswith("postgresql+psycopg://")
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
    mounted = {v.split(":")[1] for v in services["grafana"]["volumes"]}
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/modelward.yml").read_text())
    assert provider["providers"][0]["options"]["path"] in mounted
    # Alertmanager reaches the hook at the compose service's name and port, with the token as a secret.
    am = yaml.safe_load((ROOT / "deploy/prometheus/alertmanager.yml").read_text())
    hook = am["receivers"][1]["webhook_configs"][0]
    assert hook["url"] == "http://modelward:8000/v1/hooks/alertmanager"
    targets = {s["target"] for s in services["alertmanager"]["secrets"]}
    assert hook["http_config"]["authorization"]["credentials_file"] in targets


def test_prometheus_compose_config_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed: `apt-get install prometheus` (.ci/run installs it)"
    done = subprocess.run(
        [promtool, "check", "config", "deploy/prometheus/prometheus.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 12 rules found" in done.stdout and "SUCCESS: 1 rules found" in done.stdout


def run_healthcheck(env: dict[str, str]) -> int:
    return subprocess.run(healthcheck(), env=env, capture_output=True, timeout=30).returncode


@pytest.mark.slow
def test_the_image_entry_command_serves_and_its_healthcheck_sees_it(tmp_path: Path) -> None:
    """ENTRYPOINT + CMD as written, the image's ENV (but the port: a free one here), run in a workspace."""
    root = make_loop_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'mw.db'}")
    port = free_port()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, **image_env(), "PATH": path, "MODELWARD_SERVE__PORT": str(port)}
    argv = exec_form(dict(final_stage())["ENTRYPOINT"]) + exec_form(dict(final_stage())["CMD"])
    assert argv == ["modelward", "serve"]
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while run_healthcheck(env) != 0:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the image's healthcheck never passed"
            time.sleep(0.5)
        answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        assert answer.status_code == 200, answer.text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        log.close()
    assert run_healthcheck(env) != 0, "the healthcheck passes with no server"
    out = (tmp_path / "serve.log").read_text()
    assert "0.0.0.0" in out and "Traceback" not in out, out[-3000:]
