"""Pydantic models describing the HTTP API in the OpenAPI schema.

The predict path does not parse bodies through these (it decodes with orjson and checks
against the model's signature itself, for speed and for one error shape); they exist so
that ``/openapi.json`` documents exactly what is accepted and answered. Feedback and admin
bodies are small and are parsed through them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AdminChange",
    "ErrorBody",
    "ErrorResponse",
    "ExplainOptions",
    "ExplainResponse",
    "Explanations",
    "FeedbackIn",
    "FeedbackOut",
    "FeedbackResponse",
    "ModelsResponse",
    "PredictRequest",
    "PredictResponse",
    "PromoteRequest",
    "RollbackRequest",
    "ServedEntry",
]

Scalar = str | int | float | bool | None


class DataframeSplit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    columns: list[str]
    data: list[list[Scalar]]
    index: list[Any] | None = None


class ExplainOptions(BaseModel):
    """Which classes' attributions an answer holds."""

    model_config = ConfigDict(extra="forbid")

    classes: Literal["predicted", "all"] = Field(
        "predicted", description="The predicted class's attributions per row, or every class's."
    )


class Explanations(BaseModel):
    """Attributions per row: ``base_value + sum(attributions) == value``, the model's raw output."""

    method: str = Field(
        description="tree_shap, linear_shap (exact), exact_shap (exact over the background) or "
        "permutation_shap (sampled within serve.explain_time_budget_ms)."
    )
    exact: bool = Field(description="Whether the values are exact Shapley values (not sampled).")
    output: str = Field(description="What the values add up to: probability, log_odds, logit or prediction.")
    output_meaning: str = Field(description="The output space in words.")
    background: str = Field(description="What the base value is the expected output over.")
    features: list[str] = Field(description="The input columns attributed.")
    classes: list[Any] | None = Field(None, description="The model's classes (classifiers).")
    permutations: int | None = Field(None, description="Permutations sampled (permutation_shap).")
    fallback_reason: str | None = Field(None, description="Why no exact explainer was used.")
    rows: list[Any] = Field(
        description='Per row {"class", "base_value", "value", "attributions": {column: value}}; a list of '
        'them, one per class, with "explain": {"classes": "all"}.'
    )


class PredictRequest(BaseModel):
    """Exactly one of ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"dataframe_records": [{"age": 41, "car": "make03"}], "return": ["proba"]},
                {"dataframe_split": {"columns": ["age", "car"], "data": [[41, "make03"]]}},
            ]
        },
    )

    dataframe_split: DataframeSplit | None = Field(None, description="Columns and rows (pandas 'split').")
    dataframe_records: list[dict[str, Scalar]] | None = Field(None, description="One object per row.")
    instances: list[dict[str, Scalar]] | None = Field(None, description="One object per row.")
    inputs: list[dict[str, Scalar]] | dict[str, list[Scalar]] | None = Field(
        None, description="One object per row, or one list of values per column."
    )
    return_: list[Literal["proba", "explanations"]] | None = Field(
        None,
        alias="return",
        description='["proba"] adds class probabilities to the answer; ["explanations"] adds SHAP '
        "attributions per row (see docs/explain.md).",
    )
    explain: ExplainOptions | None = Field(
        None, description='With "return": ["explanations"] (or on /explain): which classes to explain.'
    )
    routing_key: str | None = Field(
        None, description="Sticky-routing key (or header X-Routing-Key); stored hashed."
    )
    params: dict[str, Any] | None = Field(
        None, description="Accepted for MLflow compatibility; must be empty."
    )
    context: dict[str, Scalar] | list[dict[str, Scalar]] | None = Field(
        None,
        description="Logged beside the inputs, never passed to the model: e.g. a sensitive column the "
        'fairness check needs ({"gender": "f"}). One object for every row, or a list of one per row; '
        "at most 20 keys, strings of at most 200 characters (see docs/fairness.md).",
    )


class PredictResponse(BaseModel):
    predictions: list[Any] = Field(description="One prediction per input row, in order.")
    probabilities: list[list[float]] | None = Field(
        None,
        description='Class probabilities per row (only when "return": ["proba"]), columns in class order.',
    )
    classes: list[Any] | None = Field(None, description="Class order of the probabilities.")
    explanations: Explanations | None = Field(
        None, description='SHAP attributions per row (only when "return": ["explanations"]).'
    )
    prediction_ids: list[str] = Field(
        description="Time-ordered id of each prediction; send feedback with it."
    )
    model: str
    version: int


class ExplainResponse(BaseModel):
    predictions: list[Any] = Field(description="One prediction per input row, in order (not logged).")
    probabilities: list[list[float]] | None = Field(None, description='Only when "return": ["proba"].')
    classes: list[Any] | None = Field(None, description="Class order of the probabilities.")
    explanations: Explanations
    model: str
    version: int


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. invalid_input, not_found.")
    message: str = Field(description="What was expected, what was given, how to fix it.")
    details: dict[str, Any] = Field(description="For input errors: reason, column, row.")


class ErrorResponse(BaseModel):
    error: ErrorBody


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prediction_id: str = Field(min_length=1, max_length=64)
    label: Scalar = Field(description="The ground truth for that prediction.")
    overwrite: bool = Field(False, description="Replace a different label already recorded.")


class FeedbackOut(BaseModel):
    prediction_id: str
    status: Literal["recorded", "unchanged", "overwritten"]


class FeedbackResponse(BaseModel):
    results: list[FeedbackOut]


class ServedEntry(BaseModel):
    model: str
    ref: str = Field(description="The alias (e.g. champion) or version number it is served under.")
    version: int
    task: str
    inputs: list[dict[str, Any]]
    aliases: list[str]


class ModelsResponse(BaseModel):
    models: list[ServedEntry]


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    alias: str = "champion"
    reason: str | None = None
    actor: str | None = Field(None, max_length=100, description="Who asks; recorded as api:ACTOR.")


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: str = "champion"
    reason: str | None = None
    actor: str | None = Field(None, max_length=100, description="Who asks; recorded as api:ACTOR.")


class RetrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=2000, description="Why; recorded with the decision.")
    force: bool = Field(False, description="Start even within the cooldown (never beside an active job).")
    actor: str | None = Field(None, max_length=100, description="Who asks; recorded as api:ACTOR.")


class RetrainJobOut(BaseModel):
    id: int
    model: str
    status: str
    trigger: str
    champion_version: int | None
    challenger_version: int | None
    attempt: int
    created_at: str
    finished_at: str | None
    error: str | None


class RetrainResponse(BaseModel):
    started: bool = Field(description="A new job was opened (202); false: suppressed, see reason (200).")
    reason: str = Field(description="Why the trigger fired, or why it was suppressed.")
    suppressed_by: str | None = Field(None, description="active_job, cooldown or labels when not started.")
    job: RetrainJobOut | None = Field(None, description="The job opened, or the model's active job.")


class AdminChange(BaseModel):
    model: str
    alias: str
    from_version: int | None
    to_version: int
    actor: str
    reason: str | None
    kind: str


class RolloutStartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, description="The challenger version to roll out against the champion.")
    mode: Literal["canary", "shadow", "ab", "immediate"] | None = Field(
        None, description="Default: the model's loop.rollout.mode."
    )
    steps: list[float] | None = Field(
        None,
        max_length=20,
        description="Canary steps in percent, e.g. [5, 25, 50, 100]; default: loop.rollout.steps.",
    )
    reason: str | None = Field(None, max_length=2000, description="Why; recorded with the event.")
    actor: str | None = Field(None, max_length=100, description="Who asks; recorded as api:ACTOR.")


class RolloutAbortRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=2000, description="Why; recorded with the event.")
    actor: str | None = Field(None, max_length=100, description="Who asks; recorded as api:ACTOR.")


class RolloutOut(BaseModel):
    id: int
    model: str
    mode: str
    status: str
    champion_version: int
    challenger_version: int
    steps: list[float]
    step: int
    share: float = Field(description="Share of requests the challenger answers now (0 for shadow).")
    job_id: int | None
    reason: str | None
    created_by: str
    started_at: str
    step_started_at: str
    finished_at: str | None
    evaluation: dict[str, Any] | None = Field(description="The last pass's verdict, test and guardrails.")


class RolloutResponse(BaseModel):
    rollout: RolloutOut | None = Field(description="The rollout; null when mode immediate promoted at once.")
    champion: int = Field(description="The champion version now.")
