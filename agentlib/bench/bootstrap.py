"""Bootstrap intervals over tasks: percentile intervals of a total, plain or paired.

Tasks are resampled with replacement (`resamples` times, seeded), the statistic is recomputed
on each resample, and the interval is the central `level` share of those values. A paired
interval resamples the same tasks for both configurations and bootstraps the per-task
difference, so what two configurations have in common cancels out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

RESAMPLES = 2000
LEVEL = 0.9
SEED = 0


@dataclass(frozen=True)
class Interval:
    """A statistic and its bootstrap interval."""

    value: float
    low: float
    high: float

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high


def _indices(n: int, resamples: int, seed: int):
    import numpy as np

    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_total(values: Sequence[float], *, scale: float | None = None,
                    resamples: int = RESAMPLES, level: float = LEVEL,
                    seed: int = SEED) -> Interval:
    """Interval of `scale` × the mean of `values` (default scale: their count, i.e. the total).

    The same seed gives the same resampled tasks for every list of the same length, so
    intervals of several metrics (or configurations) over one stream use the same resamples.
    """
    import numpy as np

    if not values:
        return Interval(0.0, 0.0, 0.0)
    data = np.asarray(values, dtype=float)
    factor = len(data) if scale is None else scale
    means = data[_indices(len(data), resamples, seed)].mean(axis=1) * factor
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(data.mean() * factor), float(low), float(high))


def bootstrap_difference(a: Sequence[float], b: Sequence[float], **options) -> Interval:
    """Paired interval of total(a) − total(b) over the same tasks (per-task differences)."""
    if len(a) != len(b):
        raise ValueError(f"paired bootstrap needs one value per task on both sides, got "
                         f"{len(a)} and {len(b)}")
    return bootstrap_total([x - y for x, y in zip(a, b, strict=True)], **options)
