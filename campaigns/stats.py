"""Welch's t-interval for the difference of two means, without SciPy.

- `t_quantile(p, df)`: Student's t quantile for any real df > 0 (Welch's df is fractional),
  found by bisection on the CDF, which is exact through the regularized incomplete beta:
  for t ≥ 0, CDF(t) = 1 − ½ · I_x(df/2, ½) with x = df / (df + t²). I_x is evaluated by its
  continued fraction (modified Lentz; Numerical Recipes §6.4), using the symmetry
  I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly. Accurate to ~1e-12;
  `tests/campaigns/test_stats.py` checks it against published table values.
- `welch_interval(treated, holdout)`: the difference of means (treated − holdout) with its
  two-sided interval at `confidence`: diff ± t(1 − α/2, ν) · se, where
  se² = s₁²/n₁ + s₂²/n₂ and ν = se⁴ / ((s₁²/n₁)²/(n₁−1) + (s₂²/n₂)²/(n₂−1)) (Welch–Satterthwaite).
  Means, variances and se are Decimal (the inputs are money); only t is computed in floating
  point, then rounded to 9 places. Fewer than 2 values on a side: no interval (None).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

_EPS = 1e-15
_TINY = 1e-300


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), None):
            if aa is None:
                aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), 0 ≤ x ≤ 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with `df` degrees of freedom."""
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T ≤ t) = p (0 < p < 1), by bisection: the CDF is monotone."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError("p must be in (0, 1) and df > 0")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-13 * max(1.0, high):
            break
    return (low + high) / 2.0


@dataclass(frozen=True)
class Sample:
    """n values summarised: count, mean, sample variance (n − 1 in the denominator)."""

    n: int
    mean: Decimal
    variance: Decimal

    @classmethod
    def of(cls, values: Sequence[Decimal]) -> Sample:
        squares = sum((v * v for v in values), Decimal(0))
        return cls.from_sums(len(values), sum(values, Decimal(0)), squares)

    @classmethod
    def from_sums(cls, n: int, total: Decimal, squares: Decimal) -> Sample:
        """From Σx and Σx² (how the results selector reads them, zeros included by count)."""
        with localcontext() as ctx:
            ctx.prec = 40
            mean = total / n if n else Decimal(0)
            variance = (squares - n * mean * mean) / (n - 1) if n > 1 else Decimal(0)
        return cls(n, +mean, max(+variance, Decimal(0)))


@dataclass(frozen=True)
class Interval:
    difference: Decimal
    low: Decimal
    high: Decimal
    se: Decimal
    df: Decimal | None  # None when both variances are 0 (the interval is the point)
    t: Decimal | None


def welch_interval(
    treated: Sample, holdout: Sample, *, confidence: float = 0.95
) -> Interval | None:
    """Welch's t-interval for treated.mean − holdout.mean; None with fewer than 2 on a side."""
    if treated.n < 2 or holdout.n < 2:
        return None
    with localcontext() as ctx:
        ctx.prec = 40
        a = treated.variance / treated.n
        b = holdout.variance / holdout.n
        difference = treated.mean - holdout.mean
        se = (a + b).sqrt()
        if a + b == 0:
            return Interval(+difference, +difference, +difference, Decimal(0), None, None)
        df = (a + b) ** 2 / (a * a / (treated.n - 1) + b * b / (holdout.n - 1))
        t = Decimal(repr(round(t_quantile(0.5 + confidence / 2.0, float(df)), 9)))
        margin = t * se
        return Interval(+difference, difference - margin, difference + margin, +se, +df, t)
