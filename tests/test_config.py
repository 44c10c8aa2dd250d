"""Settings precedence, unknown keys, secret masking, and docs coverage."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelward.config import (
    HooksSettings,
    LogSettings,
    ModelMonitorSpec,
    ModelSpec,
    ServeSettings,
    Settings,
    SplitSpec,
    load_settings,
)
from modelward.errors import ConfigError
from modelward.loop_settings import (
    ConceptDriftTrigger,
    DriftTrigger,
    GateSettings,
    GuardrailSettings,
    LeaseSettings,
    LoopPolicy,
    LoopSettings,
    PerformanceTrigger,
    RetrainSettings,
    RolloutSettings,
    ScheduleTrigger,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def _write(root: Path, text: str) -> None:
    (root / "modelward.yaml").write_text(text)


def test_precedence_flag_over_env_over_file_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(tmp_path).log_level == "INFO"  # default
    _write(tmp_path, "log_level: WARNING\nsqlite_busy_timeout_ms: 5\n")
    assert load_settings(tmp_path).log_level == "WARNING"  # file
    monkeypatch.setenv("MODELWARD_LOG_LEVEL", "ERROR")
    settings = load_settings(tmp_path)
    assert settings.log_level == "ERROR"  # env beats file
    assert settings.sqlite_busy_timeout_ms == 5  # untouched keys still come from the file
    assert load_settings(tmp_path, log_level="DEBUG").log_level == "DEBUG"  # flag beats env
    assert load_settings(tmp_path, log_level=None).log_level == "ERROR"  # an unset flag is ignored


def test_unknown_key_in_file_is_named_with_valid_keys(tmp_path: Path) -> None:
    _write(tmp_path, "databse_url: sqlite:///x.db\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert "Unknown setting 'databse_url'" in info.value.message
    assert "database_url" in info.value.message and "artifacts" in info.value.message


def test_unknown_nested_key_lists_model_keys(tmp_path: Path) -> None:
    _write(
        tmp_path, "models:\n  m:\n    task: regression\n    target: y\n    entrypoint: a:b\n    tagret: y\n"
    )
    with pytest.raises(
        ConfigError, match=r"Unknown setting 'models.m.tagret'. Valid keys here: .*entrypoint"
    ):
        load_settings(tmp_path)


def test_unknown_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELWARD_DATABASE_ULR", "x")
    with pytest.raises(
        ConfigError, match="Unknown environment variable MODELWARD_DATABASE_ULR.*MODELWARD_DATABASE_URL"
    ):
        load_settings(tmp_path)


def test_bad_values_are_explained(tmp_path: Path) -> None:
    _write(tmp_path, "models:\n  m:\n    task: clustering\n    target: y\n    entrypoint: nocolon\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert "models.m.task" in info.value.message and "models.m.entrypoint" in info.value.message
    _write(tmp_path, "models: [1, 2\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_settings(tmp_path)


def test_secrets_are_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELWARD_ADMIN_TOKEN", "s3cret-token")
    monkeypatch.setenv("MODELWARD_DATABASE_URL", "postgresql+psycopg://u:hunter2@db/x")
    settings = load_settings(tmp_path)
    text = repr(settings) + str(settings)
    assert "s3cret-token" not in text and "hunter2" not in text
    assert settings.admin_token is not None and settings.admin_token.get_secret_value() == "s3cret-token"
    assert settings.database_url == "postgresql+psycopg://u:hunter2@db/x"


def test_nested_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "models:\n  m:\n    task: regression\n    target: y\n    entrypoint: a:b\n")
    monkeypatch.setenv("MODELWARD_MODELS__m__TARGET", "z")
    assert load_settings(tmp_path).models["m"].target == "z"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    missing = []
    sections = (
        (Settings, ""),
        (ModelSpec, "models.NAME."),
        (SplitSpec, "models.NAME.split."),
        (ModelMonitorSpec, "models.NAME.monitor."),
        (ServeSettings, "serve."),
        (HooksSettings, "hooks."),
        (LeaseSettings, "loop.lease."),
        (LogSettings, "log."),
        (LoopSettings, "loop."),
        (LoopPolicy, "models.NAME.loop."),
        (DriftTrigger, "models.NAME.loop.drift."),
        (PerformanceTrigger, "models.NAME.loop.performance."),
        (PerformanceTrigger, "models.NAME.loop.estimated."),
        (ConceptDriftTrigger, "models.NAME.loop.concept_drift."),
        (ScheduleTrigger, "models.NAME.loop.schedule."),
        (RetrainSettings, "models.NAME.loop.retrain."),
        (GateSettings, "models.NAME.loop.gate."),
        (RolloutSettings, "models.NAME.loop.rollout."),
        (GuardrailSettings, "models.NAME.loop.rollout.guardrails."),
    )
    for model, prefix in sections:
        for name in model.model_fields:
            if f"`{prefix}{name}`" not in text:
                missing.append(prefix + name)
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_serve_and_log_sections_merge_flags_env_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, "serve:\n  host: 0.0.0.0\n  max_rows: 5\nlog:\n  durability: async\n")
    monkeypatch.setenv("MODELWARD_SERVE__PORT", "9100")
    settings = load_settings(tmp_path, serve={"workers": 3})
    assert (settings.serve.host, settings.serve.port, settings.serve.workers) == ("0.0.0.0", 9100, 3)
    assert settings.serve.max_rows == 5 and settings.serve.unexpected_columns == "reject"
    assert settings.log.durability == "async" and settings.log.on_failure == "spool"
    _write(tmp_path, "serve:\n  prot: 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert "Unknown setting 'serve.prot'" in info.value.message and "port" in info.value.message


_MODEL = "models:\n  m:\n    task: classification\n    target: y\n    entrypoint: a:b\n"


def test_every_loop_default_works_without_a_loop_section(tmp_path: Path) -> None:
    _write(tmp_path, _MODEL)
    settings = load_settings(tmp_path)
    policy = settings.models["m"].loop
    assert policy == LoopPolicy() and settings.loop == LoopSettings()
    assert (policy.drift.windows, policy.cooldown, policy.retrain.recent, policy.gate.mode) == (
        3,
        3600.0,
        604800.0,
        "superior",
    )


def test_malformed_loop_settings_name_the_key(tmp_path: Path) -> None:
    _write(
        tmp_path,
        _MODEL + "    loop:\n      drift: {windws: 2}\n      schedule: {cron: '61 * * * *'}\n"
        "      cooldown: 5 minutes\n      gate: {mode: better, metric: accuracyy}\n      rollout: {mode: slow, steps: [50, 5]}\n"
        "loop: {serve: maybe, intervall_seconds: 3}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    message = info.value.message
    for expected in (
        "Unknown setting 'models.m.loop.drift.windws'. Valid keys here: enabled, windows.",
        "Setting 'models.m.loop.schedule.cron': Value error, '61 * * * *' is not a cron expression",
        "Setting 'models.m.loop.cooldown': Value error, expected a duration such as 30s, 15m, 1h or 7d",
        "Setting 'models.m.loop.gate.mode'",
        "Setting 'models.m.loop.gate.metric': Value error, unknown metric 'accuracyy'",
        "Setting 'models.m.loop.rollout.mode'",
        "Setting 'models.m.loop.rollout.steps': Value error, steps must be increasing percentages",
        "Setting 'loop.serve'",
        "Unknown setting 'loop.intervall_seconds'. Valid keys here: heartbeat_seconds, interval_seconds",
    ):
        assert expected in message, message


def test_a_malformed_behavioral_file_stops_the_loop_before_it_starts(tmp_path: Path) -> None:
    from modelward import Workspace
    from modelward.maintenance import Loop

    _write(tmp_path, _MODEL + "    loop:\n      gate: {behavioral_tests: checks.yaml}\n")
    (tmp_path / "checks.yaml").write_text(
        "tests:\n  - name: t\n    type: minimum_functionality\n    cases: [{input: {x: 1}, expct: 1}]\n"
    )
    with Workspace.init(tmp_path) as ws, pytest.raises(ConfigError) as info:
        Loop(ws).check()
    assert info.value.message.startswith("models.m.loop.gate.behavioral_tests: ")
    assert "checks.yaml" in info.value.message and "tests[0].cases[0]" in info.value.message
    (tmp_path / "checks.yaml").unlink()
    with Workspace.open(tmp_path) as ws, pytest.raises(ConfigError, match="checks.yaml .* does not exist"):
        Loop(ws).check()
