"""Synthesis for the tests, and reading its templates.

`synthesise` builds both stages in one app, offline: aws-cdk-lib runs its bundled jsii runtime
on the machine's Node, with the context deploy/cdk/cdk.json gives the CLI, so the tests read
what `cdk synth` writes. The Lambda package is a stand-in zip (its contents are not part of
the template; `make lambda-package` builds the real one)."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from service.aws.infra.app import REPO, add_stage, checked
from service.aws.infra.stack import Sources
from service.aws.infra.stage import DEV, PROD, Stage

REGION = "eu-west-1"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
ORIGIN = "origin.hustlehub.example"
CDK_JSON = REPO / "deploy" / "cdk" / "cdk.json"

Template = dict[str, Any]


@dataclass(frozen=True)
class Synthesised:
    templates: Mapping[str, Template]  # by stage name
    outdir: Path

    def of(self, stage: Stage) -> Template:
        return self.templates[stage.name]


def cli_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def stand_in_package(directory: Path) -> Path:
    package = directory / "post-confirmation.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("service/aws/registration.py", "# stand-in\n")
    return package


STAGES = pytest.mark.parametrize("stage", [DEV, PROD], ids=[DEV.name, PROD.name])


def synthesise(work: Path) -> Synthesised:
    app = checked(App(outdir=str(work / "cdk.out"), context=cli_context()))
    sources = Sources(repo=REPO, lambda_package=stand_in_package(work))
    for stage in (DEV, PROD):
        add_stage(
            app,
            stage,
            sources=sources,
            region=REGION,
            certificate_arn=CERTIFICATE if stage.production else None,
            origin_domain=ORIGIN if stage.production else None,
        )
    assembly = app.synth()
    templates = {
        stage.name: assembly.get_stack_by_name(stage.stack_name).template for stage in (DEV, PROD)
    }
    return Synthesised(templates=templates, outdir=work / "cdk.out")


# A stage over three regions (dev) and two (prod), each prod region with its own certificate.
REPLICAS = {DEV.name: ("us-east-1", "ap-southeast-2"), PROD.name: ("us-east-1",)}
REGIONAL_ORIGIN = "origin.{region}.hustlehub.example"


def certificate_in(region: str) -> str:
    return CERTIFICATE.replace(f":{REGION}:", f":{region}:")


@dataclass(frozen=True)
class Replicated:
    """Both stages synthesised with replica regions: every stack's template, by stack name."""

    templates: Mapping[str, Template]
    regions: Mapping[str, str]  # each stack's region, by stack name
    outdir: Path

    def primary(self, stage: Stage) -> Template:
        return self.templates[stage.stack_name]

    def replica(self, stage: Stage, region: str) -> Template:
        return self.templates[f"{stage.stack_name}-{region}"]


def synthesise_replicated(work: Path) -> Replicated:
    app = checked(App(outdir=str(work / "cdk.out"), context=cli_context()))
    sources = Sources(repo=REPO, lambda_package=stand_in_package(work))
    stacks = []
    for stage in (DEV, PROD):
        regions = (REGION, *REPLICAS[stage.name])
        stacks += add_stage(
            app,
            stage,
            sources=sources,
            region=REGION,
            certificate_arn=(
                ",".join(certificate_in(r) for r in regions) if stage.production else None
            ),
            origin_domain=REGIONAL_ORIGIN if stage.production else None,
            replica_regions=",".join(REPLICAS[stage.name]),
        )
    assembly = app.synth()
    return Replicated(
        templates={s.stack_name: assembly.get_stack_by_name(s.stack_name).template for s in stacks},
        regions={s.stack_name: s.region for s in stacks},
        outdir=work / "cdk.out",
    )


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def one(template: Template, kind: str, contains: str = "") -> tuple[str, dict[str, Any]]:
    """The one resource of `kind` whose logical id contains `contains`."""
    found = [(k, v) for k, v in resources(template, kind).items() if contains in k]
    assert len(found) == 1, f"{kind} {contains!r}: {[k for k, _ in found]}"
    return found[0]


def props(template: Template, kind: str, contains: str = "") -> dict[str, Any]:
    properties: dict[str, Any] = one(template, kind, contains)[1]["Properties"]
    return properties


def makefile_variable(name: str) -> str:
    """A `NAME ?= value` default of the repository's Makefile."""
    found = re.search(rf"^{name} \?= (\S+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert found, f"{name} is not set in the Makefile"
    return found.group(1)
