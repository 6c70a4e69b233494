"""What differs between the deployments of one account: each stage is a stack of its own
(`HustleHub-<stage>`), sized here and named after the stage, so `dev` and `prod` live side by
side.

Sizes that a deployment chooses at synthesis live here; what changes while a stage runs (the
migration phase, the budget, who is alerted) is a CloudFormation parameter (`parameters.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk.aws_logs import RetentionDays

_NAME = re.compile(r"^[a-z][a-z0-9-]{1,15}$")


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    # Production keeps its data: deletion protection and RETAIN on the table and the user
    # pool, Multi-AZ Redis, a NAT gateway per zone, Cognito's Plus plan (threat protection).
    production: bool
    nat_gateways: int
    # The web service (behind the ALB): Fargate size, `serve --workers`, autoscaling bounds.
    task_cpu: int
    task_memory_mib: int
    workers: int
    min_tasks: int
    max_tasks: int
    # ElastiCache, cluster mode enabled: shards (node groups) and replicas of each.
    redis_node_type: str
    redis_shards: int
    redis_replicas: int
    # Concurrent post-confirmation invocations at most; in the legacy phases each one holds
    # a small Postgres pool, so this also bounds the Lambda's connections to Supabase.
    trigger_concurrency: int
    # Cognito's threat protection (compromised credentials, adaptive authentication) needs
    # the Plus plan, the stage's largest cost per user (docs/deploy.md); without it, Essentials.
    threat_protection: bool
    log_retention: RetentionDays
    # The default of the MonthlyBudgetUsd parameter: above the estimate of docs/deploy.md.
    monthly_budget_usd: int

    @property
    def stack_name(self) -> str:
        return f"HustleHub-{self.name}"

    @property
    def table_name(self) -> str:
        return f"HustleHubDirectory-{self.name}"

    @property
    def prefix(self) -> str:
        """What names carry, so that two stages' resources never share a name."""
        return f"hustlehub-{self.name}"


DEV = Stage(
    name="dev",
    production=False,
    nat_gateways=1,
    task_cpu=512,
    task_memory_mib=1024,
    workers=1,
    min_tasks=1,
    max_tasks=2,
    redis_node_type="cache.t4g.micro",
    redis_shards=1,
    redis_replicas=0,
    trigger_concurrency=2,
    threat_protection=False,
    log_retention=RetentionDays.TWO_WEEKS,
    monthly_budget_usd=150,
)

PROD = Stage(
    name="prod",
    production=True,
    nat_gateways=2,
    task_cpu=1024,
    task_memory_mib=2048,
    workers=1,
    min_tasks=2,
    max_tasks=8,
    redis_node_type="cache.t4g.small",
    redis_shards=2,
    redis_replicas=1,
    trigger_concurrency=10,
    threat_protection=True,
    log_retention=RetentionDays.THREE_MONTHS,
    monthly_budget_usd=1200,
)

STAGES: dict[str, Stage] = {stage.name: stage for stage in (DEV, PROD)}


def stage_named(name: str) -> Stage:
    if not _NAME.match(name) or name not in STAGES:
        raise ValueError(f"unknown stage {name!r}: one of {', '.join(sorted(STAGES))}")
    return STAGES[name]
