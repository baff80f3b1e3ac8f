"""Welch's t-interval (`campaigns.stats`) against values computed by hand and published tables.

Worked example (equal sizes and variances, so ν is a whole number and the table gives t):
treated 10, 20, 30, 40 (mean 25, s² = 500/3); holdout 0, 10, 20, 30 (mean 15, s² = 500/3).
se = √(500/12 + 500/12) = √83.333… = 9.128709…; ν = 83.333…² / (2 × 41.666…² / 3) = 6;
t(0.975, 6) = 2.446912 (any t table); margin = 2.446912 × 9.128709 = 22.337147;
interval = 10 ± 22.337147 = [−12.337147, 32.337147].
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from campaigns.stats import Sample, incomplete_beta, t_quantile, welch_interval

D = Decimal


@pytest.mark.parametrize(
    ("df", "expected"),
    [
        # Published two-sided 95% critical values (any t table, to 9 places).
        (1, 12.706204736),
        (2, 4.302652730),
        (5, 2.570581836),
        (6, 2.446911851),
        (10, 2.228138852),
        (30, 2.042272456),
        (100, 1.983971519),
    ],
)
def test_the_t_quantile_matches_the_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-9)


def test_the_t_quantile_for_a_fractional_df_is_where_the_density_integrates_to_the_level():
    """Checked by integrating Student's density numerically (Simpson, 20,000 steps): a method
    independent of the incomplete beta the quantile uses."""

    def density(x, v):
        log_c = math.lgamma((v + 1) / 2) - math.lgamma(v / 2) - 0.5 * math.log(v * math.pi)
        return math.exp(log_c) * (1 + x * x / v) ** (-(v + 1) / 2)

    for v in (2.5, 4.844381516, 7.3):
        t = t_quantile(0.975, v)
        steps, h = 20_000, t / 20_000
        inner = sum((4 if i % 2 else 2) * density(i * h, v) for i in range(1, steps))
        area = (density(0, v) + density(t, v) + inner) * h / 3
        assert 0.5 + area == pytest.approx(0.975, abs=1e-10)
    assert t_quantile(0.025, 6) == pytest.approx(-2.446911851, abs=1e-9)


def test_the_incomplete_beta_has_its_closed_forms():
    # I_x(1, 1) = x; I_x(2, 1) = x²; I_x(a, b) = 1 − I_{1−x}(b, a)
    assert incomplete_beta(1, 1, 0.3) == pytest.approx(0.3, abs=1e-14)
    assert incomplete_beta(2, 1, 0.3) == pytest.approx(0.09, abs=1e-14)
    assert incomplete_beta(3.5, 0.5, 0.8) == pytest.approx(
        1 - incomplete_beta(0.5, 3.5, 0.2), abs=1e-14
    )


def test_the_worked_example():
    interval = welch_interval(
        Sample.of([D(10), D(20), D(30), D(40)]), Sample.of([D(0), D(10), D(20), D(30)])
    )

    assert interval.difference == D(10)
    assert interval.df.quantize(D("0.000001")) == D("6.000000")
    assert interval.t == D("2.446911851")
    assert interval.se.quantize(D("0.000001")) == D("9.128709")
    assert (interval.low.quantize(D("0.000001")), interval.high.quantize(D("0.000001"))) == (
        D("-12.337147"),
        D("32.337147"),
    )


def test_unequal_groups_use_the_welch_satterthwaite_df():
    """Treated 0, 0, 50, 70, 80 (mean 40, s² = 1450); holdout 0, 10, 20 (mean 10, s² = 100).
    se² = 1450/5 + 100/3 = 323.333…; ν = 323.333…² / (290²/4 + 33.333…²/2) = 4.844382."""
    interval = welch_interval(
        Sample.of([D(0), D(0), D(50), D(70), D(80)]), Sample.of([D(0), D(10), D(20)])
    )

    assert interval.difference == D(30)
    assert interval.df.quantize(D("0.000001")) == D("4.844382")
    assert interval.se.quantize(D("0.000001")) == D("17.981472")
    assert float(interval.t) == pytest.approx(t_quantile(0.975, 4.844381516), abs=1e-9)
    assert interval.low.quantize(D("0.01")) == D("-16.67")
    assert interval.high.quantize(D("0.01")) == D("76.67")


def test_no_interval_below_two_members_a_side_and_a_point_without_variance():
    assert welch_interval(Sample.of([D(1)]), Sample.of([D(1), D(2)])) is None
    point = welch_interval(Sample.of([D(5), D(5)]), Sample.of([D(2), D(2)]))
    assert (point.difference, point.low, point.high, point.df) == (D(3), D(3), D(3), None)
