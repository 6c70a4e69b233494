"""Where a stage runs: its primary region, and the regions its table is replicated to
(context `replicaRegions`, comma-separated). Each replica region gets a stack of its own
(`HustleHub-<stage>-<region>`) that serves and invalidates its own caches; the table (a global
table when there are replicas) and the user pool exist once, in the primary's stack.

Certificates and origin names are regional too: the load balancer's certificate must be in its
region, and each region's CloudFront reaches that region's load balancer by a name of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The shape of every commercial and GovCloud region name: eu-west-1, ap-southeast-2,
# us-gov-west-1. A typo (eu-west1, EU-WEST-1) is refused at synthesis, not at deploy.
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$")
REGION_PLACEHOLDER = "{region}"


@dataclass(frozen=True, slots=True)
class Placement:
    primary: str
    replicas: tuple[str, ...] = ()

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.primary, *self.replicas)

    def others(self, region: str) -> tuple[str, ...]:
        """The regions `region`'s writes replicate to."""
        return tuple(r for r in self.regions if r != region)


def region_name(name: str) -> str:
    if not _REGION.match(name):
        raise ValueError(f"{name!r} is not an AWS region name (such as eu-west-1)")
    return name


def partition(region: str) -> str:
    """The partition CDK writes into a region's ARNs (its partition literals)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def placement(primary: str, replica_regions: str | None) -> Placement:
    """The primary region and the replicas of `-c replicaRegions=a,b` (empty or absent: none)."""
    region_name(primary)
    replicas = tuple(r.strip() for r in (replica_regions or "").split(",") if r.strip())
    for replica in replicas:
        region_name(replica)
    if primary in replicas:
        raise ValueError(f"replicaRegions names the primary region {primary}: list the others")
    if len(set(replicas)) != len(replicas):
        raise ValueError(f"replicaRegions names a region twice: {','.join(replicas)}")
    return Placement(primary=primary, replicas=replicas)


def certificate_for(region: str, certificate_arns: str | None, where: Placement) -> str | None:
    """The certificate of `region`'s load balancer: with replicas, `certificateArn` lists one
    per region (comma-separated), each picked by the region its ARN names."""
    if certificate_arns is None:
        return None
    arns = [arn.strip() for arn in certificate_arns.split(",") if arn.strip()]
    if not where.replicas and len(arns) == 1:
        return arns[0]
    found = [arn for arn in arns if arn.split(":")[3:4] == [region]]
    if len(found) != 1:
        raise ValueError(
            f"certificateArn: give one ACM certificate in {region} (one per region of"
            f" {','.join(where.regions)}, comma-separated)"
        )
    return found[0]


def origin_for(region: str, origin_domain: str | None, where: Placement) -> str | None:
    """The name `region`'s CloudFront reaches its load balancer by: with replicas, one name per
    region, `originDomain` carrying `{region}` (origin.{region}.hustlehub.example)."""
    if origin_domain is None:
        return None
    if where.replicas and REGION_PLACEHOLDER not in origin_domain:
        raise ValueError(
            "with replicaRegions, originDomain names each region's load balancer: put"
            f" {REGION_PLACEHOLDER} in it (origin.{REGION_PLACEHOLDER}.hustlehub.example)"
        )
    return origin_domain.replace(REGION_PLACEHOLDER, region)
