"""Prometheus recording and alerting rules, built from `metrics.slo`.

`python -m metrics.rules` writes `recording.yml` and `alerts.yml` beside this module; the
files are kept in the repository (Prometheus loads them, promtool tests them) and a test
fails when they differ from what this module builds. Edit the numbers in `metrics.slo` and
the expressions here, never the YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from metrics.slo import ALERTS, BURN_RATE_ALERTS, ERROR_RATIO_WINDOWS, OBJECTIVES

RULES_DIR = Path(__file__).parent
# Where each alert's runbook is: a heading of docs/operations.md named for the alert.
RUNBOOKS = "docs/operations.md"
# The scrape job the service's targets are in (deploy/prometheus/prometheus.yml).
JOB = "hustlehub"
READ_METHODS = "GET|HEAD"
WRITE_METHODS = "POST|PUT|PATCH|DELETE"

_REQUESTS = "hustlehub_http_requests_total"
_DURATION_BUCKET = "hustlehub_http_request_duration_seconds_bucket"
# The SLOs are the API's: Prometheus's own scrapes (tens of ms with several workers' files to
# merge) and the probes' answers (a draining instance's 503s) are the operator's traffic.
OPS_ROUTES = ("/metrics", "/healthz", "/readyz")
API = f'route!~"{"|".join(OPS_ROUTES)}"'


@dataclass(frozen=True, slots=True)
class Record:
    record: str
    expr: str


@dataclass(frozen=True, slots=True)
class Alert:
    alert: str
    expr: str
    severity: str
    summary: str
    description: str
    for_: str | None = None

    @property
    def runbook(self) -> str:
        return f"{RUNBOOKS}#{self.alert.lower()}"


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    rules: tuple[Record | Alert, ...] = field(default_factory=tuple)


def num(value: float) -> str:
    """A float as PromQL should read it: 6 rather than 6.0, 0.001 rather than 1e-03."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def error_ratio_record(window: str) -> str:
    return f"hustlehub:http_request_errors:ratio_rate{window}"


def p99(selector: str = "", window: str = "5m") -> str:
    """The API's P99 over `window`; `selector`: more matchers, comma-led."""
    return (
        f"histogram_quantile(0.99, sum by (le) (rate({_DURATION_BUCKET}{{{API}{selector}}}"
        f"[{window}])))"
    )


# Names of the recorded series the alerts read.
REQUEST_RATE = "hustlehub:http_requests:rate5m"
THROTTLE_RATIO = "hustlehub:dynamodb_throttled:ratio_rate5m"
P99_ALL = "hustlehub:http_request_duration_seconds:p99_rate5m"
P99_READ = "hustlehub:http_read_request_duration_seconds:p99_rate5m"
P99_WRITE = "hustlehub:http_write_request_duration_seconds:p99_rate5m"


def recording_groups() -> tuple[Group, ...]:
    # "or vector(0)": with no 5xx (or no throttle) yet the numerator has no series at all, and
    # the ratio would vanish instead of reading 0. No traffic still gives 0/0 = NaN, which
    # compares false: no alert without requests.
    error_ratios = tuple(
        Record(
            error_ratio_record(w),
            f'(sum(rate({_REQUESTS}{{{API},status=~"5.."}}[{w}])) or vector(0))'
            f" / sum(rate({_REQUESTS}{{{API}}}[{w}]))",
        )
        for w in ERROR_RATIO_WINDOWS
    )
    http = Group(
        "hustlehub-http",
        (
            Record(REQUEST_RATE, f"sum(rate({_REQUESTS}{{{API}}}[5m]))"),
            *error_ratios,
            Record(P99_ALL, p99()),
            Record(P99_READ, p99(f',method=~"{READ_METHODS}"')),
            Record(P99_WRITE, p99(f',method=~"{WRITE_METHODS}"')),
        ),
    )
    # Throttles are counted per attempt, calls per logical call: the attempts are the calls
    # plus their retries, which keeps the ratio within [0, 1] however hard the retries work.
    dynamodb = Group(
        "hustlehub-dynamodb",
        (
            Record(
                THROTTLE_RATIO,
                "(sum(rate(hustlehub_dynamodb_throttled_requests_total[5m])) or vector(0))"
                " / (sum(rate(hustlehub_dynamodb_requests_total[5m]))"
                " + (sum(rate(hustlehub_dynamodb_retries_total[5m])) or vector(0)))",
            ),
        ),
    )
    return (http, dynamodb)


def alert_groups() -> tuple[Group, ...]:
    budget = OBJECTIVES.error_budget
    guide = (
        Alert(
            "HustleHubDynamoDBThrottling",
            f"{THROTTLE_RATIO} > {num(ALERTS.throttle_ratio)}",
            severity="ticket",
            summary="DynamoDB is throttling requests",
            description=f"More than {ALERTS.throttle_ratio:.1%} of DynamoDB attempts were "
            "throttled over 5 minutes: capacity or a hot partition.",
            for_="5m",
        ),
        Alert(
            "HustleHubHighErrorRate",
            f"{error_ratio_record('5m')} > {num(ALERTS.error_ratio)}",
            severity="page",
            summary="Too many 5xx responses",
            description=f"More than {ALERTS.error_ratio:.1%} of HTTP requests failed with a "
            "5xx over 5 minutes.",
            for_="5m",
        ),
        Alert(
            "HustleHubHighLatencyP99",
            f"{P99_ALL} > {num(ALERTS.p99_seconds)}",
            severity="page",
            summary="HTTP P99 latency too high",
            description=f"The 99th percentile of HTTP request duration was above "
            f"{ALERTS.p99_seconds * 1000:g} ms over 5 minutes.",
            for_="5m",
        ),
    )
    burns = tuple(
        Alert(
            f"HustleHubErrorBudgetBurn{b.name.capitalize()}",
            f"{error_ratio_record(b.long_window)} > ({num(b.burn_rate)} * {num(budget)})"
            f" and {error_ratio_record(b.short_window)} > ({num(b.burn_rate)} * {num(budget)})",
            severity=b.severity,
            summary=f"Error budget burning {num(b.burn_rate)}x too fast",
            description=f"The {OBJECTIVES.availability:.1%} availability SLO's error budget "
            f"is burning {num(b.burn_rate)}x faster than sustainable over {b.long_window} "
            f"and {b.short_window}.",
        )
        for b in BURN_RATE_ALERTS
    )
    return (Group("hustlehub-slo", (*guide, *burns)), Group("hustlehub-operations", operations()))


def operations() -> tuple[Alert, ...]:
    """What an operator must hear about that no SLO measures yet, or measures too late."""
    return (
        Alert(
            "HustleHubDown",
            f'up{{job="{JOB}"}} == 0 or absent(up{{job="{JOB}"}})',
            severity="page",
            summary="A Hustle Hub target is down or not scraped at all",
            description="Prometheus could not scrape a service target for 2 minutes, or has"
            " no target of the service at all.",
            for_="2m",
        ),
        Alert(
            "HustleHubStreamLag",
            f"max(hustlehub_stream_lag_seconds) > {num(ALERTS.stream_lag_seconds)}",
            severity="ticket",
            summary="The stream consumer is falling behind",
            description=f"The newest stream record applied was more than "
            f"{ALERTS.stream_lag_seconds:g} s old for 10 minutes: direct edits of the table"
            " reach the cache late.",
            for_="10m",
        ),
        Alert(
            "HustleHubShadowMismatches",
            "sum(increase(hustlehub_migration_shadow_mismatches_total[15m])) > 0",
            severity="ticket",
            summary="Dual-read answers differ between DynamoDB and Postgres",
            description="Shadow comparisons of the migration found DynamoDB and the legacy"
            " Postgres answering differently in the last 15 minutes.",
        ),
        Alert(
            "HustleHubOutboxDeadLetters",
            'sum(increase(hustlehub_migration_outbox_entries_total{outcome="dead"}[15m])) > 0',
            severity="page",
            summary="Legacy writes gave up reaching DynamoDB",
            description="Outbox entries were moved to dead letters in the last 15 minutes:"
            " DynamoDB misses changes Postgres has.",
        ),
        Alert(
            "HustleHubRedisBreakerOpen",
            'max(max_over_time(hustlehub_cache_breaker_state{state="open"}[1m])) > 0',
            severity="ticket",
            summary="Redis is failing: the cache's circuit breaker is open",
            # max_over_time: an open breaker lets one probe through every 2 s (half_open),
            # and a scrape that caught that moment must not restart the 5 minutes.
            description="Some instance's Redis breaker has been open for 5 minutes: reads go"
            " to DynamoDB, and writes queue their invalidations.",
            for_="5m",
        ),
    )


def _quote(text: str) -> str:
    # YAML single quotes: PromQL's double quotes need no escaping, a quote is doubled.
    if "\n" in text:
        raise ValueError(f"rule text must be one line: {text!r}")
    return "'" + text.replace("'", "''") + "'"


def render(groups: tuple[Group, ...]) -> str:
    lines = [
        "# Generated by `python -m metrics.rules` from metrics/slo.py and metrics/rules/.",
        "# Do not edit: change those and regenerate.",
        "groups:",
    ]
    for group in groups:
        lines += [f"  - name: {_quote(group.name)}", "    rules:"]
        for rule in group.rules:
            if isinstance(rule, Record):
                lines += [
                    f"      - record: {_quote(rule.record)}",
                    f"        expr: {_quote(rule.expr)}",
                ]
                continue
            lines += [f"      - alert: {_quote(rule.alert)}", f"        expr: {_quote(rule.expr)}"]
            if rule.for_ is not None:
                lines.append(f"        for: {rule.for_}")
            lines += [
                "        labels:",
                f"          severity: {_quote(rule.severity)}",
                "        annotations:",
                f"          summary: {_quote(rule.summary)}",
                f"          description: {_quote(rule.description)}",
                f"          runbook_url: {_quote(rule.runbook)}",
            ]
    return "\n".join(lines) + "\n"


def rule_files() -> dict[str, str]:
    """File name -> the text it must hold."""
    return {
        "recording.yml": render(recording_groups()),
        "alerts.yml": render(alert_groups()),
    }
