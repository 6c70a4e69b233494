"""The CDK app: `cdk synth` / `cdk deploy` run `python -m service.aws.infra.app` (see
deploy/cdk/cdk.json), which builds the stack of one stage and checks it against cdk-nag's
AwsSolutions rules, whose findings fail the synthesis.

Context (`-c key=value`, or cdk.json): `stage` (`dev`, the default, or `prod`), `region`
(default: the CLI's, from the AWS profile), `certificateArn` (the ACM certificate of the HTTPS
listener; required for prod), `originDomain` (the name CloudFront reaches the load balancer by,
which that certificate covers; given with it), `lambdaPackage` (default
`build/post-confirmation.zip`, which `make lambda-package` builds), and `replicaRegions`
(comma-separated, default none: the regions the table is replicated to, each with a stack of
its own; then `certificateArn` lists one certificate per region and `originDomain` carries
`{region}`, `regions.py`).
"""

from __future__ import annotations

import os
from pathlib import Path

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from service.aws.infra.nag import suppress
from service.aws.infra.regions import certificate_for, origin_for, placement
from service.aws.infra.stack import HustleHubStack, Sources
from service.aws.infra.stage import Stage, stage_named

# The repository's root in a checkout (the app is run from one, editable-installed).
REPO = Path(__file__).resolve().parents[3]


def add_stage(
    app: App,
    stage: Stage,
    *,
    sources: Sources,
    region: str,
    certificate_arn: str | None,
    origin_domain: str | None = None,
    replica_regions: str | None = None,
) -> list[HustleHubStack]:
    """The stage's stacks: its primary region's first, then one per replica region."""
    if stage.production and certificate_arn is None:
        raise ValueError(f"stage {stage.name} serves HTTPS only: give -c certificateArn=...")
    if (certificate_arn is None) != (origin_domain is None):
        # CloudFront reaches an HTTPS load balancer by a name its certificate covers.
        raise ValueError("-c certificateArn=... and -c originDomain=... go together")
    if not sources.lambda_package.is_file():
        raise FileNotFoundError(f"{sources.lambda_package}: run `make lambda-package` first")
    where = placement(region, replica_regions)
    stacks: list[HustleHubStack] = []
    for here in where.regions:
        stack = HustleHubStack(
            app,
            stage,
            sources=sources,
            region=here,
            certificate_arn=certificate_for(here, certificate_arn, where),
            origin_domain=origin_for(here, origin_domain, where),
            where=where,
            primary=stacks[0] if stacks else None,
        )
        suppress(stack, stage, replica_in=here if stacks else None)
        stacks.append(stack)
    return stacks


def checked(app: App) -> App:
    # A finding not acknowledged (with its reason, `nag.py`) fails the synthesis; the
    # acknowledgements are copied into each resource's Metadata, where the template shows them.
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )
    return app


def main() -> None:
    app = checked(App())
    context = app.node.try_get_context
    package = Path(context("lambdaPackage") or REPO / "build" / "post-confirmation.zip")
    # The CLI sets CDK_DEFAULT_REGION from the profile it deploys with.
    region = context("region") or os.environ.get("CDK_DEFAULT_REGION")
    if not region:
        raise SystemExit("no region: give -c region=... or configure an AWS profile")
    add_stage(
        app,
        stage_named(str(context("stage") or "dev")),
        sources=Sources(repo=REPO, lambda_package=package.resolve()),
        region=str(region),
        certificate_arn=context("certificateArn") or None,
        origin_domain=context("originDomain") or None,
        replica_regions=context("replicaRegions") or None,
    )
    app.synth()


if __name__ == "__main__":
    main()
