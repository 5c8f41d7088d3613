"""Small statistical tests shared by the insights, the report and the alert rules (one source per rule).

Example:
    >>> z, p = two_proportion_z_test(20, 40, 5, 40)
    >>> round(z, 2), p < 0.001
    (3.62, True)
"""

from __future__ import annotations

import math
from typing import Literal

from scipy import stats

Alternative = Literal["greater", "less", "two-sided"]


def two_proportion_z_test(
    x1: int, n1: int, x2: int, n2: int, alternative: Alternative = "greater"
) -> tuple[float, float]:
    """Two-proportion z-test of ``x1/n1`` vs. ``x2/n2`` with the pooled standard error.

    Args:
        x1, n1: successes and trials of the first (e.g. current) sample.
        x2, n2: successes and trials of the second (e.g. previous) sample.
        alternative: ``"greater"`` (one-sided, ``x1/n1 > x2/n2``; the default), ``"less"`` or ``"two-sided"``.

    Returns:
        ``(z, p_value)``; ``(0.0, 1.0)`` when a sample is empty or the pooled share is 0 or 1 (nothing to test).

    Example:
        >>> round(two_proportion_z_test(30, 100, 15, 100, "two-sided")[1], 4)
        0.0111
    """
    if n1 <= 0 or n2 <= 0:
        return 0.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    if pooled <= 0.0 or pooled >= 1.0:
        return 0.0, 1.0
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / se
    if alternative == "greater":
        p_value = stats.norm.sf(z)
    elif alternative == "less":
        p_value = stats.norm.cdf(z)
    elif alternative == "two-sided":
        p_value = 2 * stats.norm.sf(abs(z))
    else:
        raise ValueError(f"alternative must be 'greater', 'less' or 'two-sided', not {alternative!r}")
    return float(z), float(min(1.0, p_value))
