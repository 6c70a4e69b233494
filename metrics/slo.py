"""The design guide's service-level numbers, stated once.

Everything that compares against a target reads it from here: the histogram bucket edges
(`metrics.http`), the alert and recording rules (`metrics.rules`, which generates the YAML
files Prometheus loads) and the load-test gate. Change a number here, then run
`python -m metrics.rules` to rewrite the rule files; a test fails while they disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Objectives:
    """What the service promises (the design guide's targets)."""

    read_p99_seconds: float = 0.050
    write_p99_seconds: float = 0.100
    error_rate: float = 0.001
    availability: float = 0.999

    @property
    def error_budget(self) -> float:
        # round(): 1 - 0.999 is 0.0010000000000000009 in binary floating point, and the rule
        # files should read 0.001.
        return round(1.0 - self.availability, 12)


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    """When a human is told (the design guide's alert levels)."""

    throttle_ratio: float = 0.01
    error_ratio: float = 0.005
    p99_seconds: float = 0.100
    # Beyond the design guide: how far behind the stream consumer may fall before a direct
    # edit of the table stays invisible for longer than anyone would expect (a minute).
    stream_lag_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class BurnRateAlert:
    """One multi-window burn-rate alert (Google SRE workbook, chapter "Alerting on SLOs").

    It fires when the error budget burns `burn_rate` times faster than sustainable over both
    windows: the long one proves the burn is significant, the short one that it is still
    happening, so the alert stops soon after the burn does.
    """

    name: str
    burn_rate: float
    long_window: str  # PromQL durations
    short_window: str
    severity: str


OBJECTIVES = Objectives()
ALERTS = AlertThresholds()

# 14.4x for 1h spends 2% of a 30-day budget; 6x for 6h spends 5%.
FAST_BURN = BurnRateAlert(
    name="fast", burn_rate=14.4, long_window="1h", short_window="5m", severity="page"
)
SLOW_BURN = BurnRateAlert(
    name="slow", burn_rate=6.0, long_window="6h", short_window="30m", severity="ticket"
)
BURN_RATE_ALERTS: tuple[BurnRateAlert, ...] = (FAST_BURN, SLOW_BURN)

# Every window some burn-rate alert reads, shortest first: the error-ratio recording rules.
ERROR_RATIO_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "6h")
