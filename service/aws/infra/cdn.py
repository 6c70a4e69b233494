"""CloudFront in front of the load balancer: the public reads cached at the edge for exactly as
long as the service's own `Cache-Control` allows, everything else passed through uncached.

* Public reads (`PUBLIC_READS`, GET and HEAD): a cache policy keyed on the path, every query
  string (limit, cursor, the filters), the normalised `Accept-Encoding` (gzip, br: the service
  makes both when it fills an entry) and `Origin` (the service answers CORS per origin). Its
  TTLs defer to the service: 0 when an answer carries no `Cache-Control`, and the service's
  `public, max-age=<HUSTLEHUB_CACHE_HTTP_MAX_AGE_S>, stale-if-error=300` otherwise, which
  CloudFront honours both ways. `Authorization` is not in the key, and CloudFront forwards to
  the origin only what the key and the origin request policy name, so a token sent with a
  public read never reaches the service: what is cached there cannot depend on who asked.
* Everything else (`/v1/me*`, `/v1/admin*`, health, the spec): caching disabled, every viewer
  header but `Host` forwarded (with caching disabled that includes `Authorization`). Nothing
  a token opens is stored at the edge or answered to anyone else.
* 5xx answers are kept for no time: CloudFront's default would replay an origin's blip for
  10 s, while `stale-if-error` already serves the last good copy through one.

What the edge adds to staleness: a public read may be up to max-age (5 s by default) older
than the service's answer, which the write barrier keeps current (docs/architecture.md); past
max-age CloudFront revalidates with `If-None-Match`, which the service answers 304.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from service.aws.infra.logbuckets import log_bucket
from service.aws.infra.stage import Stage

# The path patterns of the service's public, cached reads (service.api.routes: cached=True);
# tests/infra/test_cdn.py holds the route table to them.
PUBLIC_READS = ("/v1/categories*", "/v1/listings*")
# The longest the edge keeps an answer that asks for longer; the service asks for 5 s, and
# stale-if-error's 300 s is counted apart from it.
MAX_TTL = Duration.hours(1)
# Headers the origin sees on a public read without their being part of the key: a preflight's
# two (OPTIONS is passed through, never cached; without them the service could not tell a
# preflight from a plain OPTIONS), and the request id and trace context, so that a read the
# edge forwards can still be followed.
FORWARDED_UNKEYED = (
    "Access-Control-Request-Method",
    "Access-Control-Request-Headers",
    "X-Request-Id",
    "traceparent",
    "tracestate",
)
_ORIGIN_ERRORS = (500, 502, 503, 504)


def _origin(
    balancer: elbv2.ApplicationLoadBalancer, origin_domain: str | None
) -> cloudfront.IOrigin:
    if origin_domain is None:
        # Dev without a certificate: the load balancer listens on plain HTTP only.
        return origins.LoadBalancerV2Origin(
            balancer,
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
        )
    # CloudFront checks the origin's certificate against the name it connects to: the site's
    # certificate names the origin's DNS name (pointed at the load balancer), not the ALB's own.
    return origins.HttpOrigin(
        origin_domain,
        protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
        origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
    )


def _public_reads(scope: Construct, stage: Stage) -> cloudfront.CachePolicy:
    return cloudfront.CachePolicy(
        scope,
        "PublicReads",
        cache_policy_name=f"{stage.prefix}-public-reads",
        comment="Hustle Hub public reads: the service's Cache-Control decides",
        default_ttl=Duration.seconds(0),
        min_ttl=Duration.seconds(0),
        max_ttl=MAX_TTL,
        query_string_behavior=cloudfront.CacheQueryStringBehavior.all(),
        header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Origin"),
        cookie_behavior=cloudfront.CacheCookieBehavior.none(),
        enable_accept_encoding_gzip=True,
        enable_accept_encoding_brotli=True,
    )


def cdn(
    scope: Construct,
    stage: Stage,
    *,
    balancer: elbv2.ApplicationLoadBalancer,
    origin_domain: str | None,
) -> cloudfront.Distribution:
    origin = _origin(balancer, origin_domain)
    public = cloudfront.BehaviorOptions(
        origin=origin,
        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
        cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
        cache_policy=_public_reads(scope, stage),
        origin_request_policy=cloudfront.OriginRequestPolicy(
            scope,
            "PublicReadsForwarded",
            origin_request_policy_name=f"{stage.prefix}-public-reads-forwarded",
            comment="Preflight headers, request id and trace context, outside the cache key",
            header_behavior=cloudfront.OriginRequestHeaderBehavior.allow_list(*FORWARDED_UNKEYED),
            query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.none(),
            cookie_behavior=cloudfront.OriginRequestCookieBehavior.none(),
        ),
        # The service compresses what it caches; CloudFront compresses only what came plain.
        compress=True,
    )
    return cloudfront.Distribution(
        scope,
        "Cdn",
        comment=f"Hustle Hub {stage.name}: the API behind the edge (docs/deploy.md)",
        default_behavior=cloudfront.BehaviorOptions(
            origin=origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        ),
        additional_behaviors={path: public for path in PUBLIC_READS},
        error_responses=[
            cloudfront.ErrorResponse(http_status=status, ttl=Duration.seconds(0))
            for status in _ORIGIN_ERRORS
        ],
        enable_logging=True,
        # CloudFront's standard logs are delivered with an ACL: the bucket must accept them.
        log_bucket=log_bucket(scope, "CdnLogs", stage, ownership=s3.ObjectOwnership.OBJECT_WRITER),
        log_file_prefix="cdn/",
        http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        price_class=(
            cloudfront.PriceClass.PRICE_CLASS_ALL
            if stage.production
            else cloudfront.PriceClass.PRICE_CLASS_100
        ),
    )
