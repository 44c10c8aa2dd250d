"""Settings: one typed object, read from flags, environment, ``modelward.yaml`` and defaults.

Precedence, highest first: values passed by the caller (CLI flags) > ``MODELWARD_*``
environment variables > ``modelward.yaml`` > defaults. Nested values use ``__`` in the
environment (``MODELWARD_SERVE__PORT=9000``). An unknown key anywhere is an error that
names it and lists the valid ones. Secrets (the admin token, a database password) are
masked in ``repr`` and logs.

This is the only module that reads ``os.environ``.
"""

from __future__ import annotations

import contextvars
import getpass
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url

from modelward.errors import ConfigError
from modelward.loop_settings import LoopPolicy, LoopSettings

CONFIG_FILE = "modelward.yaml"
STATE_DIR = ".modelward"
ENV_PREFIX = "MODELWARD_"

_yaml_data: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("_yaml_data", default=None)


class SplitSpec(BaseModel):
    """How the evaluation holdout is cut from the training data."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["random", "time"] = Field(
        "random", description="'random' (seeded) or 'time' (latest rows)."
    )
    test_size: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="Share of rows held out for evaluation; the holdout must have at least 30 rows, or training is refused.",
    )
    seed: int = Field(0, description="Seed of the random split.")
    time_column: str | None = Field(None, description="Column ordering rows when kind is 'time'.")
    stratify: bool = Field(True, description="Stratify a random split by the target (classification).")


class ModelMonitorSpec(BaseModel):
    """``models.NAME.monitor:`` — what is checked in this model's windows beyond drift and performance."""

    model_config = ConfigDict(extra="forbid")

    sensitive_columns: list[str] = Field(
        default_factory=list,
        description="Columns of the logged features, or sent as the predict body's context, whose groups "
        "are compared in every window (selection rate, TPR/FPR, accuracy; demographic parity and equalized "
        "odds differences with intervals). Binary classifiers only.",
    )
    fairness_tolerance: float = Field(
        0.05,
        ge=0,
        le=1,
        description="A gap between groups is flagged when its interval's lower bound exceeds this.",
    )
    fairness_min_group_rows: int = Field(
        30, ge=2, description="Groups with fewer rows (labeled rows, for TPR/FPR) are reported as too small."
    )
    positive_label: str | int | None = Field(
        None, description="The class that counts as selected; default: the larger of the two classes."
    )
    attribution_rows: int = Field(
        300,
        ge=0,
        description="Rows of each window, and of the version's holdout, explained for attribution drift "
        "(the change of each column's mean |SHAP|); 0: off. Exact explainers only (trees, linear models).",
    )
    attribution_min_change: float = Field(
        0.05,
        ge=0,
        le=1,
        description="A column's attribution drifted when its change, as a share of the holdout's total mean "
        "|SHAP|, is at least this and significant.",
    )


class ModelSpec(BaseModel):
    """A model declared in ``modelward.yaml`` under ``models:``."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["classification", "regression"] = Field(description="Learning task.")
    target: str = Field(description="Name of the target column.")
    features: list[str] | None = Field(None, description="Feature columns; default: all but the target.")
    entrypoint: str = Field(
        description="Training function 'module:function' called as function(train_df, params) -> estimator."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Default training parameters.")
    dataset: str | None = Field(None, description="Dataset trained on when --data is not given.")
    split: SplitSpec = Field(default_factory=SplitSpec, description="Evaluation split.")
    sample_weight: str | None = Field(None, description="Column holding sample weights (not a feature).")
    serializer: Literal["skops", "pickle"] = Field(
        "skops",
        description="'skops' (safe, default) or 'pickle' (opt-in; loaded only when its hash matches).",
    )
    trusted_types: list[str] = Field(
        default_factory=list,
        description="Extra fully-qualified types a skops model may contain, trusted deliberately.",
    )
    description: str | None = Field(None, description="Free text shown in the registry.")
    importance: bool = Field(
        True,
        description="Compute a new version's global importance (mean |SHAP|, permutation importance) on its "
        "holdout when it is registered; false skips it (`modelward explain` still computes it on demand).",
    )
    loop: LoopPolicy = Field(
        default_factory=LoopPolicy, description="The maintenance loop's policy for this model (docs/loop.md)."
    )
    monitor: ModelMonitorSpec = Field(
        default_factory=ModelMonitorSpec,
        description="This model's fairness checks in every monitored window (docs/fairness.md).",
    )

    @field_validator("entrypoint")
    @classmethod
    def _check_entrypoint(cls, value: str) -> str:
        module, sep, func = value.partition(":")
        if not sep or not module or not func:
            raise ValueError(f"entrypoint must look like 'package.module:function', got {value!r}")
        return value


class HooksSettings(BaseModel):
    """``hooks:`` — incoming webhooks (``POST /v1/hooks/alertmanager``): an alert asks for retraining."""

    model_config = ConfigDict(extra="forbid")

    token: SecretStr | None = Field(
        None,
        description="Bearer token the webhooks require; none: webhooks are off (403). Separate from "
        "admin_token: a hook can only ask for retraining, so the token Alertmanager holds cannot promote.",
    )
    model_label: str = Field(
        "model", min_length=1, description="The alert label that names the model to retrain."
    )


class ServeSettings(BaseModel):
    """``serve:`` — the model server (``modelward serve``)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Interface the server binds to (loopback by default).")
    port: int = Field(8000, ge=0, le=65535, description="TCP port of the server.")
    workers: int = Field(1, ge=1, description="Worker processes (metrics are aggregated across them).")
    max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1, description="Largest accepted request body; larger bodies get 413."
    )
    max_rows: int = Field(10_000, ge=1, description="Most rows accepted in one predict request.")
    max_feedback_items: int = Field(
        10_000, ge=1, description="Most labels accepted in one feedback request; more get 413."
    )
    unexpected_columns: Literal["reject", "drop"] = Field(
        "reject", description="What to do with input columns the model's signature does not have."
    )
    unknown_categories: Literal["reject", "allow"] = Field(
        "reject", description="Whether a categorical value never seen in training is refused or passed on."
    )
    batch_max_rows: int = Field(
        256, ge=1, description="Most rows merged into one predict call by the micro-batcher."
    )
    batch_max_wait_ms: float = Field(
        1.0,
        ge=0,
        description="How long the micro-batcher waits for more requests before predicting (0: never waits).",
    )
    reload_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="How often the server checks the registry for alias changes."
    )
    default_model: str | None = Field(
        None, description="Model answering POST /invocations; default: the only served model."
    )
    explain_max_rows: int = Field(
        1000,
        ge=1,
        description="Most rows explained in one request (explanations cost more than predictions).",
    )
    explain_time_budget_ms: float = Field(
        1000.0,
        gt=0,
        description="Time the model-agnostic explainer may spend sampling per request (exact explainers need none).",
    )


class LogSettings(BaseModel):
    """``log:`` — the durable prediction log written by the server."""

    model_config = ConfigDict(extra="forbid")

    durability: Literal["sync", "async"] = Field(
        "sync",
        description="'sync': answer after the prediction record is committed; 'async': answer at once "
        "(a crash can lose the last few milliseconds of records).",
    )
    on_failure: Literal["spool", "reject"] = Field(
        "spool",
        description="Database unreachable: 'spool' to a local file and replay later, or 'reject' with 503.",
    )
    spool_dir: str = Field(
        f"{STATE_DIR}/spool", description="Directory of the spool file (relative to the workspace)."
    )
    explanations: bool = Field(
        False,
        description='Also log the explanations a predict request asked for ("return": ["explanations"]), '
        "by prediction id; read back with modelward.predlog.read_explanations. /explain answers are not logged.",
    )


class MonitorSettings(BaseModel):
    """``monitor:`` — ``modelward monitor`` over the prediction log (see docs/prediction-log-monitoring.md)."""

    model_config = ConfigDict(extra="forbid")

    window: str = Field(
        "1h", description="Window length: a duration (30s, 15m, 1h, 1d) or a row count (5000)."
    )
    slide: str | None = Field(
        None, description="Step between window starts (same unit as window); default: tumbling (= window)."
    )
    interval_seconds: float = Field(
        60.0, gt=0, description="How often the monitor loop looks for newly completed windows."
    )
    lateness_seconds: float = Field(
        60.0, ge=0, description="A time window is complete this long after its end (room for late writes)."
    )
    top_k_features: int = Field(
        20, ge=1, le=1000, description="Per-feature drift gauges exported for at most this many features."
    )
    label_horizon_days: float = Field(
        7.0,
        ge=0,
        description="Windows that ended this recently get their realized metrics recomputed when "
        "new labels arrive.",
    )
    alpha: float = Field(0.05, gt=0, lt=1, description="Significance level of the drift tests.")
    correction: Literal["bh", "bonferroni", "none"] = Field(
        "bh", description="Multiple-testing correction across features."
    )
    drift_share: float = Field(
        0.5, gt=0, le=1, description="Dataset drift when at least this share of the features drift."
    )
    important_features: list[str] = Field(
        default_factory=list,
        description="Dataset drift when any of these features drifts (names a model "
        "does not have are ignored for that model).",
    )
    confidence: float = Field(0.95, gt=0, lt=1, description="Confidence level of metric intervals.")
    resample_budget: int = Field(
        6_000_000,
        ge=0,
        description="Rows x resamples allowed per interval: bootstrap resamples (up to 1000) "
        "and CBPE simulations (up to 500) are reduced on large windows to fit it (never below 50).",
    )
    multivariate_rows: int = Field(
        0,
        ge=0,
        description="Also run the multivariate (domain classifier) drift test on at most this many rows "
        "a side (the reference side is the evaluation holdout); 0 (default) skips it: it costs seconds.",
    )
    concept_drift_rows: int = Field(
        10_000,
        ge=0,
        description="Concept-drift detectors run on at most this many of a window's labeled rows "
        "(the latest); 0 turns them off.",
    )
    textfile: str | None = Field(
        None, description="Also write the Prometheus gauges to this file (node-exporter textfile collector)."
    )


class Settings(BaseSettings):
    """Every setting modelward reads. See ``docs/configuration.md``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the metadata database; default: SQLite file .modelward/modelward.db. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db.",
    )
    artifacts: str = Field(
        f"{STATE_DIR}/artifacts",
        description="Where blobs (models, dataset snapshots) live: a path (relative to the workspace) or an "
        "fsspec URL such as s3://bucket/prefix.",
    )
    admin_token: SecretStr | None = Field(None, description="Bearer token required by admin HTTP endpoints.")
    actor: str | None = Field(None, description="Name recorded as the actor of events; default: the OS user.")
    sqlite_busy_timeout_ms: int = Field(30_000, ge=0, description="How long SQLite waits for a lock.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Logging level.")
    models: dict[str, ModelSpec] = Field(default_factory=dict, description="Declared models, by name.")
    serve: ServeSettings = Field(default_factory=ServeSettings, description="Model server settings.")
    log: LogSettings = Field(default_factory=LogSettings, description="Prediction log settings.")
    monitor: MonitorSettings = Field(default_factory=MonitorSettings, description="Monitoring settings.")
    loop: LoopSettings = Field(default_factory=LoopSettings, description="Where and how often the loop runs.")
    hooks: HooksSettings = Field(
        default_factory=HooksSettings, description="Incoming webhooks (Alertmanager)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name == "database_url" and isinstance(value, str):
                yield name, mask_url(value)
            else:
                yield name, value

    @property
    def actor_name(self) -> str:
        if self.actor:
            return self.actor
        try:
            return getpass.getuser()
        except Exception:  # no user database entry (containers)
            return "unknown"


class _YamlSource(PydanticBaseSettingsSource):
    """Values from the workspace's ``modelward.yaml`` (already parsed by :func:`load_settings`)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        data = _yaml_data.get() or {}
        return data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_data.get() or {})


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "***"


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse ``modelward.yaml``; an empty file is an empty mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}. Fix the syntax and retry.") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of settings, got {type(data).__name__}.")
    return data


def load_settings(root: Path, **overrides: Any) -> Settings:
    """Build the settings of the workspace at ``root``.

    ``overrides`` are the highest-precedence values (CLI flags); ``None`` values are ignored.
    """
    _check_environment()
    data = read_yaml(root / CONFIG_FILE)
    token = _yaml_data.set(data)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(_explain(exc, root / CONFIG_FILE), details={"errors": _errors(exc)}) from exc
    finally:
        _yaml_data.reset(token)


def environment(name: str) -> str | None:
    """Read one non-setting environment variable (e.g. ``CI``); the only door to ``os.environ``."""
    return os.environ.get(name)


def _check_environment() -> None:
    valid = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    for key in os.environ:
        if not key.startswith(ENV_PREFIX):
            continue
        head = key.split("__", 1)[0]
        if head not in valid:
            raise ConfigError(
                f"Unknown environment variable {key}. Valid MODELWARD_ variables: {', '.join(sorted(valid))}.",
                details={"key": key, "valid": sorted(valid)},
            )


def _valid_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The field names valid at the parent of ``loc`` (for 'unknown key' messages)."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        if part == "models":
            model = ModelSpec
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return sorted(model.model_fields)


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
    ]


def _explain(exc: ValidationError, path: Path) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            valid = ", ".join(_valid_keys(tuple(err["loc"])))
            lines.append(f"Unknown setting '{loc}'. Valid keys here: {valid}.")
        elif err["type"] == "missing":
            lines.append(f"Setting '{loc}' is required.")
        else:
            lines.append(f"Setting '{loc}': {err['msg']} (got {err.get('input')!r}).")
    return f"Invalid configuration (from flags, MODELWARD_* environment or {path}):\n  " + "\n  ".join(lines)
