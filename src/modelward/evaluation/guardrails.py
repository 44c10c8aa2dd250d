"""Rollout guardrails: rules a canary must not break whatever its labeled outcomes say.

Labels arrive late, but server errors and latency are known at once. Kayenta-style rank tests miss what
matters here: sparse new errors (``[0, 1, 2, 1, 0, 0]`` against zeros) and a latency tail that grows
while the median stays (kayenta#426, #780). So:

* :func:`error_budget` is a rule, not a test: count the challenger's server errors in the intervals
  where the champion had none; more than ``budget`` (default 2) fails. Errors the champion shares in an
  interval (a dependency down for both) do not count against the challenger.
* :func:`latency_guardrail` compares a high quantile (p99 by default): the limit is the champion's
  quantile x ``max_ratio`` + ``slack_ms``. It fails as soon as the challenger's share of requests above
  the limit is too large to be chance when its true quantile is within the limit (an exact binomial
  test at ``alpha``, so seven slow requests out of ten fail at once, while a single slow one does not),
  and passes only with at least ``min_samples`` challenger requests whose quantile is within the limit.

* :func:`input_error_guardrail` compares the share of requests refused as bad input: the challenger may
  exceed the champion's rate by ``margin``; it fails when its count of input errors is too large to be
  chance at that rate (an exact binomial test at ``alpha``). A challenger whose signature refuses what
  the champion took shows here.

None ever passes on no data: too few requests is ``insufficient_data``, and the rollout's configured
action applies.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

from modelward.errors import ConfigError, DataError
from modelward.evaluation._inputs import as_float
from modelward.evaluation._json import jsonable

Status = Literal["pass", "fail", "insufficient_data"]


@dataclass(frozen=True)
class GuardrailResult:
    """A guardrail's verdict with the figures behind it."""

    name: str
    status: Status
    reason: str
    champion: float | None
    challenger: float | None
    limit: float | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(asdict(self))
        return out


def error_budget(
    champion_errors: Any, challenger_errors: Any, *, budget: int = 2, challenger_requests: Any = None
) -> GuardrailResult:
    """Fail when the challenger has more than ``budget`` server errors in intervals where the champion had
    none.

    Args:
        champion_errors, challenger_errors: server-error counts per interval, aligned (same intervals).
        budget: new errors tolerated (a stray timeout should not roll back a rollout).
        challenger_requests: requests the challenger served per interval, when known: with none at all
            the result is ``insufficient_data`` (no traffic is not a pass).

    >>> error_budget([0, 0, 0, 0, 0, 0], [0, 1, 2, 1, 0, 0]).status       # kayenta#426's fixture
    'fail'
    >>> error_budget([0, 3, 0], [0, 2, 1]).status                         # shared outage + one stray
    'pass'
    """
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise ConfigError(f"budget must be a whole number of errors >= 0, got {budget!r}.")
    champ = _counts(champion_errors, "champion_errors")
    chall = _counts(challenger_errors, "challenger_errors")
    if champ.shape != chall.shape:
        raise DataError(
            f"champion_errors and challenger_errors must cover the same intervals: got "
            f"{champ.shape[0]} and {chall.shape[0]}."
        )
    requests = None if challenger_requests is None else _counts(challenger_requests, "challenger_requests")
    if requests is not None and requests.shape != chall.shape:
        raise DataError(
            f"challenger_requests covers {requests.shape[0]} intervals, the errors {chall.shape[0]}."
        )
    new = int(chall[champ == 0].sum())
    details = {
        "intervals": int(chall.shape[0]),
        "new_errors": new,
        "budget": budget,
        "champion_errors": int(champ.sum()),
        "challenger_errors": int(chall.sum()),
    }
    if chall.shape[0] == 0 or (requests is not None and int(requests.sum()) == 0):
        return GuardrailResult(
            "error_budget",
            "insufficient_data",
            "the challenger served no request yet: no traffic is not a pass",
            float(champ.sum()),
            float(chall.sum()),
            float(budget),
            details,
        )
    if new > budget:
        return GuardrailResult(
            "error_budget",
            "fail",
            f"{new} challenger server errors in intervals where the champion had none > budget {budget}",
            float(champ.sum()),
            float(chall.sum()),
            float(budget),
            details,
        )
    return GuardrailResult(
        "error_budget",
        "pass",
        f"{new} challenger server errors in intervals where the champion had none <= budget {budget}",
        float(champ.sum()),
        float(chall.sum()),
        float(budget),
        details,
    )


def latency_guardrail(
    champion_ms: Any,
    challenger_ms: Any,
    *,
    quantile: float = 0.99,
    max_ratio: float = 1.2,
    slack_ms: float = 5.0,
    min_samples: int = 100,
    alpha: float = 0.001,
) -> GuardrailResult:
    """Compare a latency quantile (p99 by default) of the challenger with the champion's.

    It fails only when the challenger's requests above the limit are too many to be chance (an exact
    binomial test against the ``1 - quantile`` share the champion's quantile allows): a quantile estimated
    from few requests is nearly their maximum, so one scheduler hiccup would otherwise roll back a good
    challenger. A point estimate above the limit that the test does not confirm is not a pass either: the
    result is ``insufficient_data`` until more requests decide. Pass one latency per request (the rows of
    one request share it).

    >>> latency_guardrail([1.0] * 10, [100.0] * 7 + [1.0] * 3).status       # spinnaker#6278's fixture
    'fail'
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> same_median = latency_guardrail(rng.normal(50, 5, 2000), rng.normal(50, 25, 2000))
    >>> same_median.status, round(same_median.champion), round(same_median.challenger)   # kayenta#780
    ('fail', 61, 110)
    """
    if not 0.5 <= quantile < 1.0:
        raise ConfigError(f"quantile must be in [0.5, 1), got {quantile!r}; p99 is 0.99.")
    if not math.isfinite(max_ratio) or max_ratio < 1.0 or not math.isfinite(slack_ms) or slack_ms < 0:
        raise ConfigError(f"max_ratio must be >= 1 and slack_ms >= 0, got {max_ratio!r} and {slack_ms!r}.")
    if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 1:
        raise ConfigError(f"min_samples must be a whole number >= 1, got {min_samples!r}.")
    if not 0 < alpha < 0.5:
        raise ConfigError(f"alpha must be in (0, 0.5), got {alpha!r}.")
    champ = as_float(champion_ms, "champion_ms")
    chall = as_float(challenger_ms, "challenger_ms")
    name = f"latency_p{quantile * 100:g}"
    if champ.size == 0 or chall.size == 0:
        return GuardrailResult(
            name,
            "insufficient_data",
            "no latency measured on "
            f"{'the champion' if champ.size == 0 else 'the challenger'} yet: not a pass",
            None,
            None,
            None,
            {"champion_n": int(champ.size), "challenger_n": int(chall.size)},
        )
    q_champ = float(np.quantile(champ, quantile))
    q_chall = float(np.quantile(chall, quantile))
    limit = q_champ * max_ratio + slack_ms
    above = int(np.count_nonzero(chall > limit))
    n = int(chall.size)
    p = float(stats.binom.sf(above - 1, n, 1.0 - quantile)) if above else 1.0
    details = {
        "quantile": quantile,
        "max_ratio": max_ratio,
        "slack_ms": slack_ms,
        "champion_n": int(champ.size),
        "challenger_n": n,
        "above_limit": above,
        "p_value_exceedances": p,
        "alpha": alpha,
        "min_samples": min_samples,
    }
    label = f"p{quantile * 100:g}"
    if p < alpha:
        return GuardrailResult(
            name,
            "fail",
            f"challenger {label} {q_chall:.4g} ms vs limit {limit:.4g} ms "
            f"(champion {q_champ:.4g} ms x {max_ratio:g} + {slack_ms:g}); {above} of {n} requests "
            f"above the limit (p = {p:.2g} < {alpha:g})",
            q_champ,
            q_chall,
            limit,
            details,
        )
    if n < min_samples:
        return GuardrailResult(
            name,
            "insufficient_data",
            f"{n} challenger requests < {min_samples} needed to pass the {label} guardrail",
            q_champ,
            q_chall,
            limit,
            details,
        )
    if q_chall > limit:  # above on the point estimate, not beyond chance: neither a pass nor a rollback
        return GuardrailResult(
            name,
            "insufficient_data",
            f"challenger {label} {q_chall:.4g} ms > limit {limit:.4g} ms "
            f"(champion {q_champ:.4g} ms x {max_ratio:g} + {slack_ms:g}) but {above} of {n} requests above "
            f"the limit could be chance (p = {p:.2g} >= {alpha:g}): watching more requests",
            q_champ,
            q_chall,
            limit,
            details,
        )
    return GuardrailResult(
        name,
        "pass",
        f"challenger {label} {q_chall:.4g} ms <= limit {limit:.4g} ms "
        f"(champion {q_champ:.4g} ms x {max_ratio:g} + {slack_ms:g})",
        q_champ,
        q_chall,
        limit,
        details,
    )


def input_error_guardrail(
    champion_errors: int,
    champion_requests: int,
    challenger_errors: int,
    challenger_requests: int,
    *,
    margin: float = 0.01,
    alpha: float = 0.001,
    min_requests: int = 50,
) -> GuardrailResult:
    """Fail when the challenger's input-error rate is above the champion's + ``margin`` beyond chance.

    >>> input_error_guardrail(1, 1000, 30, 100).status       # 1 in 1,000 vs 30 in 100
    'fail'
    >>> input_error_guardrail(10, 1000, 2, 100).status       # 1 % vs 2 %: within chance and margin
    'pass'
    >>> input_error_guardrail(0, 1000, 0, 10).status         # too few challenger requests
    'insufficient_data'
    """
    for name, value in (
        ("champion_errors", champion_errors),
        ("champion_requests", champion_requests),
        ("challenger_errors", challenger_errors),
        ("challenger_requests", challenger_requests),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise DataError(f"{name} must be a whole count >= 0, got {value!r}.")
    if champion_errors > champion_requests or challenger_errors > challenger_requests:
        raise DataError("input errors cannot outnumber the requests they are part of.")
    if not 0 <= margin < 1 or not 0 < alpha < 0.5:
        raise ConfigError(f"margin must be in [0, 1) and alpha in (0, 0.5), got {margin!r} and {alpha!r}.")
    base = (champion_errors + 1) / (champion_requests + 2)  # no champion request: a small prior rate
    limit = min(base + margin, 1.0)
    n, k = int(challenger_requests), int(challenger_errors)
    rate = k / n if n else None
    p = float(stats.binom.sf(k - 1, n, limit)) if k and limit < 1 else 1.0
    details = {
        "champion_errors": int(champion_errors),
        "champion_requests": int(champion_requests),
        "challenger_errors": k,
        "challenger_requests": n,
        "margin": margin,
        "alpha": alpha,
        "p_value": p,
        "min_requests": min_requests,
    }
    figures = (base, rate, limit)
    if p < alpha:
        reason = (
            f"challenger input-error rate {k}/{n} above the limit {limit:.3%} (champion {base:.3%} + "
            f"{margin:g}) beyond chance (p = {p:.2g} < {alpha:g})"
        )
        return GuardrailResult("input_errors", "fail", reason, *figures, details)
    if n < min_requests:
        reason = f"{n} challenger requests < {min_requests} needed to pass the input-error guardrail"
        return GuardrailResult("input_errors", "insufficient_data", reason, *figures, details)
    reason = (
        f"challenger input-error rate {k}/{n} within the limit {limit:.3%} (champion {base:.3%} + {margin:g})"
    )
    return GuardrailResult("input_errors", "pass", reason, *figures, details)


def _counts(values: Any, name: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    arr = as_float(values, name)
    if np.any(arr < 0) or np.any(arr != np.floor(arr)):
        raise DataError(f"{name} must hold whole counts >= 0 per interval.")
    return arr.astype(np.int64)
