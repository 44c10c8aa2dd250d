"""An always-valid sequential test for rollouts: the mixture SPRT on a difference of means.

A canary is checked after every batch of labeled outcomes. A fixed-sample z-test checked that often
declares a difference between two identical models far more often than its alpha (about 25-30 % over a
hundred looks at alpha = 5 %). The mixture sequential probability ratio test (mSPRT; Johari, Pekelis &
Walsh, "Always Valid Inference", 2017/2022) stays valid however often it is checked: with the challenger
- champion difference of means ``theta_hat`` and its variance ``v`` (``v = V / n`` with ``n`` rows per
arm and ``V`` the variance of one difference), the likelihood ratio of a normal mixture ``N(0, tau^2)``
over the effect against "no effect" is

    Lambda = sqrt(v / (v + tau^2)) * exp(tau^2 * theta_hat^2 / (2 v (v + tau^2)))

which, written with ``v = V / n``, is the formula of ANCHORS.md. Under "no difference" ``Lambda`` is a
nonnegative martingale, so by Ville's inequality it ever reaches ``1 / alpha`` with probability at most
``alpha``: the always-valid p-value ``min over looks of 1 / Lambda`` can be checked after every batch.
Written with ``v`` it also covers unequal arms (a 10 % canary). Inverting it gives the always-valid
confidence interval (a confidence sequence, the normal-mixture boundary of Howard, Ramdas, McAuliffe &
Sekhon 2021)::

    theta_hat ± sqrt(v (v + tau^2) / tau^2 * (2 log(1 / alpha) + log((v + tau^2) / v)))

**The mixing parameter.** ``tau`` is the spread of effects the test is tuned for. As GrowthBook does, it
is chosen so that the interval is narrowest at the sample size where a decision is expected
(``expected_n`` labeled rows over both arms, default 5,000, GrowthBook's default): the half-width is
smallest when ``r = tau^2 / v`` solves ``r = 2 log(1 / alpha) + log(1 + r)`` (about 8.1 at alpha = 5 %),
so ``tau^2 = r * v(expected_n)``, with ``v(expected_n) = v * n / expected_n`` from the variance seen at
the first look with data on both arms. ``tau`` is then fixed for the rest of the test (``tau_``); pass
``tau`` to fix it yourself.

**Outcomes.** ``outcome="binary"`` (0/1: an error, a conversion) uses the per-arm variance
``p(1 - p) / n`` with ``p = (successes + 1) / (n + 2)`` (the Agresti-Caffo adjustment), floored at the
pooled ``p(1 - p)`` of both arms: a 10 % canary that has seen no error yet in 300 requests, against a
champion at 1 %, is not evidence of a difference (0 of 300 happens 5 % of the time at 1 %), and without
the floor its near-zero variance made the test declare one in about 7 % of A/A canaries (measured
with ``benchmarks/gate_validity.py``). ``outcome="continuous"`` uses the sample variances. The normal
approximation is asymptotic, so decisions wait until each arm holds ``min_samples`` rows.

**Decisions** (with ``improvement`` = ``theta`` when higher is better, ``-theta`` otherwise):
``harm`` when the interval shows the challenger worse (by more than ``margin`` in ``non_inferior``
mode), ``benefit`` when it shows it better, ``non_inferior`` (mode ``non_inferior`` only) when it shows
it at most ``margin`` worse, else ``continue``. The two-sided interval at ``1 - alpha`` bounds the chance
of a false ``benefit`` plus a false ``harm`` by ``alpha``. The first decision reached is kept (the test
is meant to be stopped there); the p-value only decreases and the interval only narrows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from modelward.errors import ConfigError, DataError
from modelward.evaluation._inputs import as_float
from modelward.evaluation._json import jsonable
from modelward.evaluation.result import check_alpha

Decision = Literal["continue", "benefit", "harm", "non_inferior"]
OUTCOMES = ("binary", "continuous")
MODES = ("superior", "non_inferior")


def optimal_mixing_ratio(alpha: float) -> float:
    """``r = tau^2 / v`` minimising the confidence sequence's width at the tuning sample size: the root
    of ``r = 2 log(1 / alpha) + log(1 + r)``.

    >>> round(optimal_mixing_ratio(0.05), 3)
    8.212
    """
    base = 2.0 * math.log(1.0 / alpha)
    r = base
    for _ in range(100):
        nxt = base + math.log1p(r)
        if abs(nxt - r) < 1e-12:
            break
        r = nxt
    return r


@dataclass(frozen=True)
class SequentialState:
    """What the test says now; every number JSON-ready through :meth:`to_dict`."""

    n_champion: int
    n_challenger: int
    looks: int
    champion_mean: float
    challenger_mean: float
    estimate: float
    lower: float
    upper: float
    p_value: float
    decision: Decision
    decided_at_look: int | None
    tau: float | None
    alpha: float
    mode: str
    margin: float
    higher_is_better: bool
    outcome: str

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(asdict(self))
        return out


@dataclass
class _Arm:
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations (Welford / Chan et al. merge)

    def add(self, x: np.ndarray[Any, np.dtype[np.float64]]) -> None:
        nb = int(x.shape[0])
        if nb == 0:
            return
        mb = float(x.mean())
        m2b = float(((x - mb) ** 2).sum())
        n = self.n + nb
        delta = mb - self.mean
        self.mean += delta * nb / n
        self.m2 += m2b + delta * delta * self.n * nb / n
        self.n = n

    def variance(self, binary: bool) -> float:
        if binary:
            p = (self.mean * self.n + 1.0) / (self.n + 2.0)
            return p * (1.0 - p)
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan


class MixtureSPRT:
    """Always-valid test of challenger - champion on a stream of outcomes (see the module docstring).

    Args:
        alpha: the test's level: false ``benefit`` plus false ``harm`` at most ``alpha`` however often
            it is checked.
        outcome: ``"binary"`` (0/1 outcomes) or ``"continuous"``.
        higher_is_better: ``False`` for errors, latency, loss (then a larger challenger mean is harm).
        mode: ``"superior"`` or ``"non_inferior"`` (with ``margin`` > 0 in the outcome's units).
        margin: how much worse the challenger may be in ``non_inferior`` mode.
        expected_n: labeled rows over both arms at which a decision is expected; tunes ``tau``.
        tau: the mixing standard deviation on the difference scale, to fix it instead.
        min_samples: rows each arm needs before any decision.

    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> test = MixtureSPRT(outcome="binary", higher_is_better=False)        # outcome 1 = an error
    >>> for _ in range(40):                                                 # 40 looks, 9:1 canary
    ...     _ = test.update(rng.random(450) < 0.01, rng.random(50) < 0.03)
    ...     if test.decision != "continue":
    ...         break
    >>> test.decision, test.n_challenger, round(test.estimate, 4), test.p_value < 0.05
    ('harm', 1150, 0.0154, True)
    """

    def __init__(
        self,
        *,
        alpha: float = 0.05,
        outcome: str = "continuous",
        higher_is_better: bool = True,
        mode: str = "superior",
        margin: float = 0.0,
        expected_n: int = 5000,
        tau: float | None = None,
        min_samples: int = 30,
    ) -> None:
        self.alpha = alpha
        self.outcome = outcome
        self.higher_is_better = higher_is_better
        self.mode = mode
        self.margin = margin
        self.expected_n = expected_n
        self.tau = tau
        self.min_samples = min_samples
        self._check_params()
        self._champion = _Arm()
        self._challenger = _Arm()
        self._looks = 0
        self._p = 1.0
        self._lower = -math.inf
        self._upper = math.inf
        self._decision: Decision = "continue"
        self._decided_at: int | None = None
        self.tau_: float | None = None if tau is None else float(tau)

    def _check_params(self) -> None:
        check_alpha(self.alpha)
        if self.outcome not in OUTCOMES:
            raise ConfigError(f"outcome must be one of {', '.join(OUTCOMES)}, got {self.outcome!r}.")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}.")
        m = self.margin
        if isinstance(m, bool) or not isinstance(m, int | float) or not math.isfinite(m) or m < 0:
            raise ConfigError(f"margin must be a finite number >= 0, got {m!r}.")
        if self.mode == "non_inferior" and m == 0:
            raise ConfigError("mode non_inferior needs margin > 0 (how much worse the challenger may be).")
        for name, value, low in (("expected_n", self.expected_n, 2), ("min_samples", self.min_samples, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}.")
        t = self.tau
        if t is not None and (
            isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t <= 0
        ):
            raise ConfigError(
                f"tau must be a positive number (or None to tune it from expected_n), got {t!r}."
            )

    # -- updating --------------------------------------------------------------------------------------
    def update(self, champion_outcomes: Any = (), challenger_outcomes: Any = ()) -> MixtureSPRT:
        """Add a batch of outcomes from each arm (either may be empty) and re-evaluate; returns ``self``."""
        a = self._outcomes(champion_outcomes, "champion_outcomes")
        b = self._outcomes(challenger_outcomes, "challenger_outcomes")
        self._champion.add(a)
        self._challenger.add(b)
        self._looks += 1
        self._evaluate()
        return self

    def _outcomes(self, values: Any, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        arr = np.asarray(values)
        if arr.dtype == np.bool_:
            arr = arr.astype(np.float64)
        x = as_float(arr.reshape(-1) if arr.ndim == 0 else arr, name)
        if self.outcome == "binary" and x.size and not np.all((x == 0.0) | (x == 1.0)):
            raise DataError(
                f"{name}: binary outcomes must be 0 or 1 (or booleans); use outcome='continuous' "
                "for other values."
            )
        return x

    def _variance(self) -> float:
        a, b = self._champion, self._challenger
        if self.outcome != "binary":
            return a.variance(False) / a.n + b.variance(False) / b.n
        # Each arm's Agresti-Caffo variance, but never below the pooled one: a small canary arm that has
        # seen no error yet must not look certain (its own estimate would be near zero).
        pooled = (a.mean * a.n + b.mean * b.n + 1.0) / (a.n + b.n + 2.0)
        floor = pooled * (1.0 - pooled)
        return max(a.variance(True), floor) / a.n + max(b.variance(True), floor) / b.n

    def _evaluate(self) -> None:
        a, b = self._champion, self._challenger
        if min(a.n, b.n) < max(2, self.min_samples):
            return
        v = self._variance()
        if not math.isfinite(v) or v <= 0.0:
            return  # constant outcomes on both arms: nothing to judge yet
        if self.tau_ is None:
            self.tau_ = math.sqrt(optimal_mixing_ratio(self.alpha) * v * (a.n + b.n) / self.expected_n)
        tau2 = self.tau_ * self.tau_
        theta = b.mean - a.mean
        log_lr = 0.5 * math.log(v / (v + tau2)) + tau2 * theta * theta / (2.0 * v * (v + tau2))
        self._p = min(self._p, math.exp(-log_lr) if log_lr > 0 else 1.0)
        half = math.sqrt(
            v * (v + tau2) / tau2 * (2.0 * math.log(1.0 / self.alpha) + math.log((v + tau2) / v))
        )
        lower, upper = max(self._lower, theta - half), min(self._upper, theta + half)
        if lower <= upper:
            self._lower, self._upper = lower, upper
        else:  # the running intersection emptied (a badly wrong variance): keep the current interval
            self._lower, self._upper = theta - half, theta + half
        if self._decision == "continue":
            self._decision = self._judge()
            if self._decision != "continue":
                self._decided_at = self._looks

    def _judge(self) -> Decision:
        lo, hi = (self._lower, self._upper) if self.higher_is_better else (-self._upper, -self._lower)
        harm_line = -float(self.margin) if self.mode == "non_inferior" else 0.0
        if hi < harm_line:
            return "harm"
        if lo > 0.0:
            return "benefit"
        if self.mode == "non_inferior" and lo > -float(self.margin):
            return "non_inferior"
        return "continue"

    # -- read-only state ----------------------------------------------------------------------------
    @property
    def n_champion(self) -> int:
        return self._champion.n

    @property
    def n_challenger(self) -> int:
        return self._challenger.n

    @property
    def n(self) -> int:
        """Outcomes seen over both arms."""
        return self._champion.n + self._challenger.n

    @property
    def looks(self) -> int:
        return self._looks

    @property
    def estimate(self) -> float:
        """Challenger mean - champion mean (``nan`` until both arms have data)."""
        if self._champion.n == 0 or self._challenger.n == 0:
            return math.nan
        return self._challenger.mean - self._champion.mean

    @property
    def ci(self) -> tuple[float, float]:
        """The always-valid ``1 - alpha`` interval of :attr:`estimate` (infinite until data allows one)."""
        return self._lower, self._upper

    @property
    def p_value(self) -> float:
        """The always-valid p-value of "no difference": the minimum of ``1 / Lambda`` over the looks."""
        return self._p

    @property
    def decision(self) -> Decision:
        return self._decision

    def state(self) -> SequentialState:
        """A frozen snapshot of the test's state, for events and reports."""
        return SequentialState(
            n_champion=self.n_champion,
            n_challenger=self.n_challenger,
            looks=self._looks,
            champion_mean=self._champion.mean if self._champion.n else math.nan,
            challenger_mean=self._challenger.mean if self._challenger.n else math.nan,
            estimate=self.estimate,
            lower=self._lower,
            upper=self._upper,
            p_value=self._p,
            decision=self._decision,
            decided_at_look=self._decided_at,
            tau=self.tau_,
            alpha=self.alpha,
            mode=self.mode,
            margin=float(self.margin),
            higher_is_better=self.higher_is_better,
            outcome=self.outcome,
        )

    # -- persistence (a restarted rollout resumes its test) ---------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Parameters and sufficient statistics, JSON-ready; :meth:`from_dict` restores the test exactly.

        >>> t = MixtureSPRT(outcome="binary").update([0, 1] * 30, [1, 1] * 30)
        >>> MixtureSPRT.from_dict(t.to_dict()).state() == t.state()
        True
        """
        params = {
            k: getattr(self, k)
            for k in (
                "alpha",
                "outcome",
                "higher_is_better",
                "mode",
                "margin",
                "expected_n",
                "tau",
                "min_samples",
            )
        }
        arms = {
            name: {"n": arm.n, "mean": arm.mean, "m2": arm.m2}
            for name, arm in (("champion", self._champion), ("challenger", self._challenger))
        }
        out: dict[str, Any] = {
            "params": params,
            "arms": arms,
            "looks": self._looks,
            "p_value": self._p,
            "lower": _finite_or_none(self._lower),
            "upper": _finite_or_none(self._upper),
            "decision": self._decision,
            "decided_at_look": self._decided_at,
            "tau_": self.tau_,
        }
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MixtureSPRT:
        try:
            test = cls(**data["params"])
            for name, arm in (("champion", test._champion), ("challenger", test._challenger)):
                arm.n, arm.mean, arm.m2 = (
                    int(data["arms"][name]["n"]),
                    float(data["arms"][name]["mean"]),
                    float(data["arms"][name]["m2"]),
                )
            test._looks = int(data["looks"])
            test._p = float(data["p_value"])
            test._lower = -math.inf if data["lower"] is None else float(data["lower"])
            test._upper = math.inf if data["upper"] is None else float(data["upper"])
            test._decision = data["decision"]
            test._decided_at = data["decided_at_look"]
            test.tau_ = None if data["tau_"] is None else float(data["tau_"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"Not a saved MixtureSPRT state: {exc!r}.") from exc
        return test


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None
