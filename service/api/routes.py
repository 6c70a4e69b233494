"""The URL table on one screen. The router and /openapi.json are both built from it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from metrics.http import UNMATCHED, HttpMetrics
from service.api import admin, me, ops, public
from service.api.accesslog import AccessLog
from service.api.auth import Auth
from service.api.bodies import expect_continue
from service.api.cors import CorsPolicy, browser_route, path_cors
from service.api.endpoint import Handler, endpoint, unmatched
from service.api.requestid import RequestIds
from service.models.audit import AuditEvent
from service.models.category import Category, CategoryCreate, CategoryPatch
from service.models.favourite import Favourite
from service.models.listing import Listing, ListingCreate, ListingPatch
from service.models.user import ProfileUpdate, UserProfile
from service.runtime.health import Drain
from service.runtime.tracing import Tracing

# What a 2xx body is: a model, a list of models ({"items"}), a page ({"items", "nextCursor"}),
# or a raw document described elsewhere.
Shape = Literal["one", "list", "page", "none", "text", "json"]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    # Enforced by the route's endpoint wrapper, before the handler runs: "user" needs a valid
    # access token, "admin" one whose subject holds an admin grant.
    auth: Auth = "public"
    success: tuple[int, ...] = (200,)
    model: type[BaseModel] | None = None
    shape: Shape = "one"
    body: type[BaseModel] | None = None
    paged: bool = False
    cached: bool = False  # through the read-through cache, whose use case bounds its misses
    conditional: bool = False  # If-Match required
    filtered: bool = False  # takes the listing filters (service.catalog.listing_filter)

    def __post_init__(self) -> None:
        # A cached answer is one copy for every caller (and for CDNs: Cache-Control public).
        if self.cached and self.auth != "public":
            raise ValueError(f"{self.method} {self.path}: a cached route must be public")


# aiohttp tries the resources that share a path prefix (here `/v1/categories`) in the order
# they were added, one awaited resolve each: the hottest, the category page, goes first.
ROUTES: tuple[Route, ...] = (
    Route("GET", "/v1/categories/{ref}/listings", public.list_category_listings,
          "A page of a category's listings, newest first, optionally filtered",
          model=Listing, shape="page", paged=True, cached=True, filtered=True),
    Route("GET", "/v1/categories", public.list_categories, "All categories, sorted",
          model=Category, shape="list", cached=True),
    Route("GET", "/v1/categories/{ref}", public.get_category, "A category by id or slug",
          model=Category, cached=True),
    Route("GET", "/v1/listings/{ref}", public.get_listing, "A listing by id or slug",
          model=Listing, cached=True),
    Route("GET", "/v1/me", me.get_me, "The caller's profile", auth="user", model=UserProfile),
    Route("PUT", "/v1/me", me.put_me, "Create the caller's profile if absent; set displayName",
          auth="user", success=(200, 201), model=UserProfile, body=ProfileUpdate),
    Route("GET", "/v1/me/favourites", me.list_favourites, "The caller's saved listings",
          auth="user", model=Favourite, shape="page", paged=True),
    Route("GET", "/v1/me/favourites/{listing_id}", me.get_favourite, "Is this listing saved",
          auth="user", model=Favourite),
    Route("PUT", "/v1/me/favourites/{listing_id}", me.put_favourite, "Save a listing",
          auth="user", success=(200, 201), model=Favourite),
    Route("DELETE", "/v1/me/favourites/{listing_id}", me.delete_favourite, "Unsave a listing",
          auth="user", success=(204,), shape="none"),
    Route("POST", "/v1/admin/categories", admin.create_category, "Create a category",
          auth="admin", success=(201,), model=Category, body=CategoryCreate),
    Route("PATCH", "/v1/admin/categories/{id}", admin.update_category, "Update a category",
          auth="admin", model=Category, body=CategoryPatch, conditional=True),
    Route("DELETE", "/v1/admin/categories/{id}", admin.delete_category,
          "Delete an empty category", auth="admin", success=(204,), shape="none"),
    Route("POST", "/v1/admin/listings", admin.create_listing, "Create a listing",
          auth="admin", success=(201,), model=Listing, body=ListingCreate),
    Route("PATCH", "/v1/admin/listings/{id}", admin.update_listing,
          "Update a listing (may move it to another category)", auth="admin", model=Listing,
          body=ListingPatch, conditional=True),
    Route("DELETE", "/v1/admin/listings/{id}", admin.delete_listing,
          "Delete a listing and its favourites", auth="admin", success=(204,), shape="none"),
    Route("PUT", "/v1/admin/admins/{sub}", admin.grant_admin, "Grant admin", auth="admin",
          success=(204,), shape="none"),
    Route("DELETE", "/v1/admin/admins/{sub}", admin.revoke_admin, "Revoke admin",
          auth="admin", success=(204,), shape="none"),
    Route("GET", "/v1/admin/audit", admin.list_audit, "Audit events, newest first",
          auth="admin", model=AuditEvent, shape="page", paged=True),
    Route("GET", "/metrics", ops.metrics, "Prometheus metrics", shape="text"),
    Route("GET", "/healthz", ops.healthz, "Liveness: the process is alive", shape="json"),
    Route("GET", "/readyz", ops.readyz, "Readiness: not draining, and able to serve",
          shape="json"),
    Route("GET", "/openapi.json", ops.openapi, "This document", shape="json"),
)  # fmt: skip


def add_routes(
    app: web.Application,
    routes: Iterable[Route],
    *,
    metrics: HttpMetrics,
    deadline_s: float,
    cors: CorsPolicy | None = None,
    access: AccessLog | None = None,
    tracing: Tracing | None = None,
    drain: Drain | None = None,
) -> None:
    """Every route, each inside its `endpoint` wrapper, then the catch-all that turns unknown
    paths and methods into problem+json (404, 405). With `cors`, every browser route's answers
    carry its CORS headers, and each of their paths answers preflights (service.api.cors)."""
    routes = tuple(routes)
    ids = RequestIds()  # one per process: create_app runs in each worker
    by_path: dict[str, list[Route]] = {}
    for route in routes:
        if cors is not None and browser_route(route.path):
            by_path.setdefault(route.path, []).append(route)
    for route in routes:
        metrics.declare(route.path, route.method, route.success[0])
        handler = endpoint(
            route.handler,
            route=route.path,
            metrics=metrics,
            auth=route.auth,
            # A cached read's use case bounds its misses only (service.catalog.deadline).
            deadline_s=None if route.cached else deadline_s,
            decorate=None
            if cors is None or route.path not in by_path
            else cors.decorator(public=route.auth == "public"),
            ids=ids,
            access=access,
            tracing=tracing,
            drain=drain,
        )
        if route.method == "GET":
            # GET routes answer HEAD too (aiohttp's allow_head); OpenAPI lists GET only.
            app.router.add_get(route.path, handler)
        else:
            app.router.add_route(route.method, route.path, handler, expect_handler=expect_continue)
        same_path = by_path.get(route.path)
        if cors is not None and same_path is not None and same_path[-1] is route:
            # After the path's last route: the preflight joins the same resource.
            preflight = cors.preflight(path_cors(route.path, same_path))
            app.router.add_route(
                "OPTIONS",
                route.path,
                endpoint(
                    preflight,
                    route=route.path,
                    metrics=metrics,
                    deadline_s=None,
                    ids=ids,
                    access=access,
                    tracing=tracing,
                    drain=drain,
                ),
            )
    fallback = endpoint(
        unmatched(app.router.resources),
        route=UNMATCHED,
        metrics=metrics,
        deadline_s=None,
        ids=ids,
        access=access,
        tracing=tracing,
        drain=drain,
    )
    app.router.add_route("*", "/{path:.*}", fallback)
