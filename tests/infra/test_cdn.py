"""CloudFront in front of the load balancer as synthesised: what it caches, on what key, for how
long, and that nothing a token opens is cached or shared."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from aws_cdk import aws_cloudfront as cloudfront

from service.api.routes import ROUTES
from service.aws.infra.cdn import FORWARDED_UNKEYED, PUBLIC_READS
from service.aws.infra.stage import Stage
from tests.infra.synth import ORIGIN, STAGES, Synthesised, Template, one, props

CACHING_DISABLED = cloudfront.CachePolicy.CACHING_DISABLED.cache_policy_id
ALL_VIEWER_EXCEPT_HOST = (
    cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.origin_request_policy_id
)
# What the service sends on a public read (service.api.responses), in seconds.
STALE_IF_ERROR_S = 300


def distribution(template: Template) -> dict[str, Any]:
    config: dict[str, Any] = props(template, "AWS::CloudFront::Distribution")["DistributionConfig"]
    return config


def cached_under(path: str) -> bool:
    """Whether CloudFront sends a request for `path` to a caching behaviour (a route's
    `{param}` stands for any one segment)."""
    concrete = path.replace("{", "x").replace("}", "x")
    return any(fnmatchcase(concrete, pattern) for pattern in PUBLIC_READS)


def test_every_cached_route_is_under_a_caching_behaviour_and_no_signed_in_route_is() -> None:
    for route in ROUTES:
        if route.cached:
            assert cached_under(route.path), route.path
        if route.auth != "public" or route.method != "GET":
            assert not cached_under(route.path), f"{route.method} {route.path}"


@STAGES
def test_public_reads_are_keyed_on_path_query_encoding_and_origin_never_on_a_token(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    config = distribution(template)
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviours) == set(PUBLIC_READS)
    policy_id, policy = one(template, "AWS::CloudFront::CachePolicy", "PublicReads")
    key = policy["Properties"]["CachePolicyConfig"]
    for behaviour in behaviours.values():
        assert behaviour["CachePolicyId"] == {"Ref": policy_id}
        assert behaviour["AllowedMethods"] == ["GET", "HEAD", "OPTIONS"]
        assert behaviour["CachedMethods"] == ["GET", "HEAD"]
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    parameters = key["ParametersInCacheKeyAndForwardedToOrigin"]
    assert parameters["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    assert parameters["EnableAcceptEncodingGzip"] is True
    assert parameters["EnableAcceptEncodingBrotli"] is True
    assert parameters["CookiesConfig"] == {"CookieBehavior": "none"}
    assert parameters["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Origin"]}
    # The service's Cache-Control decides: nothing without one, up to an hour with one.
    assert (key["DefaultTTL"], key["MinTTL"]) == (0, 0)
    assert key["MaxTTL"] >= STALE_IF_ERROR_S
    # Forwarded outside the key: the request id and trace context, and no Authorization.
    forwarded = props(template, "AWS::CloudFront::OriginRequestPolicy", "PublicReadsForwarded")
    headers = forwarded["OriginRequestPolicyConfig"]["HeadersConfig"]
    assert headers == {"HeaderBehavior": "whitelist", "Headers": list(FORWARDED_UNKEYED)}
    assert "authorization" not in {h.lower() for h in FORWARDED_UNKEYED}


@STAGES
def test_everything_else_passes_through_uncached_with_its_token(
    synthesised: Synthesised, stage: Stage
) -> None:
    default = distribution(synthesised.of(stage))["DefaultCacheBehavior"]
    assert default["CachePolicyId"] == CACHING_DISABLED
    assert default["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
    assert set(default["AllowedMethods"]) >= {"GET", "PUT", "POST", "PATCH", "DELETE"}
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"


@STAGES
def test_an_origins_5xx_is_not_replayed_from_the_edge(
    synthesised: Synthesised, stage: Stage
) -> None:
    errors = distribution(synthesised.of(stage))["CustomErrorResponses"]
    assert {e["ErrorCode"]: e["ErrorCachingMinTTL"] for e in errors} == {
        500: 0,
        502: 0,
        503: 0,
        504: 0,
    }
    # The origin's own answer passes through: no error page replaces it.
    assert all("ResponsePagePath" not in e for e in errors)


@STAGES
def test_the_edge_reaches_the_load_balancer_over_https_wherever_it_has_a_certificate(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    (origin,) = distribution(template)["Origins"]
    custom = origin["CustomOriginConfig"]
    if stage.production:
        assert origin["DomainName"] == ORIGIN
        assert custom["OriginProtocolPolicy"] == "https-only"
        assert custom["OriginSSLProtocols"] == ["TLSv1.2"]
    else:
        balancer, _ = one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        assert origin["DomainName"] == {"Fn::GetAtt": [balancer, "DNSName"]}
        assert custom["OriginProtocolPolicy"] == "http-only"
