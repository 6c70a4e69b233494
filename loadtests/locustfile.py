"""Hustle Hub load scenarios, judged by the SLO gate when the run ends.

    locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8080 \
        --users 50 --spawn-rate 50 --run-time 60s --target-rps 300 [--fixture FILE]

Who comes (shares of requests, with pacing from --target-rps):
- anonymous readers (most): the category list, category pages following nextCursor, listings
  by slug (80% of them on a hot fifth of the catalogue), conditional GETs with If-None-Match;
- signed-in users (about 10%): their profile, their favourites (list, save, unsave);
- one admin (about 0.5%): create a listing, update it with If-Match, delete it, in turn.

Before the first request the fixture is loaded (or built: dev-mode sign-in from
var/dev-state.json plus a crawl of the catalogue; the crawl alone when only `Reader` runs) and
/metrics is scraped; when the run ends
/metrics is scraped again and `loadtests.gate` judges both witnesses. The exit code is the
gate's verdict. Headless runs must be bounded (--run-time) and target loopback.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from locust import FastHttpUser, events, task
from locust.env import Environment

from loadtests import capacity, gate
from loadtests import fixture as fixtures
from loadtests.report import cache_summary

log = logging.getLogger("hustlehub.loadtest")

ADMIN_SHARE = 0.005
SIGNED_IN_SHARE = 0.10
HOT_SHARE = 0.8  # of listing reads go to the hot fifth of the catalogue
WARM_LIMIT = 5_000  # listings read before a run that builds its own fixture


class _Run:
    """State shared by every simulated user of this process (one locust process)."""

    def __init__(self) -> None:
        self.fixture: dict[str, Any] = {}
        self.before: str | None = None
        self.started = 0.0
        self.user_tokens: itertools.cycle[str] | None = None

    def listing(self) -> dict[str, str]:
        listings: list[dict[str, str]] = self.fixture["listings"]
        hot = max(1, len(listings) // 5)
        if random.random() < HOT_SHARE:
            return listings[random.randrange(hot)]
        return random.choice(listings)

    def category(self) -> dict[str, str]:
        return random.choice(self.fixture["categories"])

    def next_user_token(self) -> str:
        if self.user_tokens is None:
            self.user_tokens = itertools.cycle(self.fixture["users"])
        return next(self.user_tokens)


RUN = _Run()


def _options(parser: Any) -> None:
    parser.add_argument("--fixture", default="", help="fixture JSON (default: build one)")
    parser.add_argument("--target-rps", type=float, default=200.0, help="total requests/s")
    parser.add_argument("--gate-report", default="", help="write the gate's figures here")
    parser.add_argument("--extra-users", type=int, default=20, help="dev users to add")


def _options_of(environment: Environment) -> Any:
    return environment.parsed_options


class _Paced(FastHttpUser):
    """Paced so that all users of a class together send `share` of --target-rps (one request
    per task, so task runs are requests)."""

    abstract = True
    share = 0.0

    def wait_time(self) -> float:
        runner = self.environment.runner
        counts: dict[str, int] = getattr(runner, "target_user_classes_count", None) or {}
        mine = max(counts.get(type(self).__name__, 1), 1)
        rate = float(_options_of(self.environment).target_rps) * self.share / mine
        interval = 1.0 / max(rate, 0.01)
        now = time.perf_counter()
        # constant_throughput, inlined: wait what is left of this task's interval.
        last = getattr(self, "_paced_at", now - interval)
        self._paced_at = max(last + interval, now)
        return self._paced_at - now


def _start(environment: Environment, **_: Any) -> None:
    options = _options_of(environment)
    host = fixtures.require_loopback(environment.host or "")
    if options.headless and not options.run_time:
        raise SystemExit("headless runs must be bounded: pass --run-time")
    if options.fixture:
        RUN.fixture = fixtures.read(Path(options.fixture))
    else:
        if any(getattr(cls, "signs_in", False) for cls in environment.user_classes):
            users, admins = fixtures.dev_tokens(extra_users=options.extra_users)
            RUN.fixture = fixtures.build(host, users=users, admins=admins)
        else:
            # Anonymous readers alone (`locust ... Reader`) need no sign-in, so a stack
            # without dev mode's Cognito (docker compose) can be loaded too.
            RUN.fixture = {"users": [], "admins": [], **fixtures.crawl(host)}
        # Warm the listings too, as loadtests.run does (bounded: a sequential read each).
        for listing in RUN.fixture["listings"][:WARM_LIMIT]:
            fixtures.http("GET", f"{host}/v1/listings/{listing['slug']}")
    if not RUN.fixture["listings"]:
        raise SystemExit("the service has no listings to read: seed it first")
    RUN.before = gate.scrape(host)
    RUN.started = time.monotonic()


def _judge(environment: Environment, **_: Any) -> None:
    if RUN.before is None:
        return  # the run never started
    after = gate.scrape(fixtures.require_loopback(environment.host or ""))
    client = client_stats(environment)
    server = gate.ServerStats.from_scrapes(RUN.before, after)
    verdict = gate.judge(client, server)
    elapsed = time.monotonic() - RUN.started
    print(verdict.report(), flush=True)
    options = _options_of(environment)
    if options.gate_report:
        Path(options.gate_report).write_text(
            json.dumps(
                {
                    "passed": verdict.passed,
                    "seconds": elapsed,
                    "client": {k: asdict(v) for k, v in client.kinds.items()},
                    "by_name": {k: asdict(v) for k, v in client.by_name.items()},
                    "server": asdict(server),
                    "own": asdict(gate.OwnStats.from_scrapes(RUN.before, after)),
                    "cache": cache_summary(RUN.before, after),
                    "capacity": capacity.Capacity.from_scrapes(
                        RUN.before, after, server.requests
                    ).as_dict(),
                    "checks": [
                        {**asdict(check), "passed": check.passed} for check in verdict.checks
                    ],
                },
                indent=2,
                default=str,
            )
        )
    environment.process_exit_code = 0 if verdict.passed else 1


# locust's EventHook.add_listener is unannotated; registering through Any keeps --strict honest
# about everything else here.
_hooks: Any = events
_hooks.init_command_line_parser.add_listener(_options)
_hooks.test_start.add_listener(_start)
_hooks.quitting.add_listener(_judge)


def client_stats(environment: Environment) -> gate.ClientStats:
    by_kind: dict[str, list[Any]] = {"read": [], "write": []}
    by_name: dict[str, gate.KindStats] = {}
    for (name, method), entry in environment.stats.entries.items():
        kind = gate.kind_of(method)
        if kind is None:
            continue
        by_kind[kind].append(entry)
        by_name[f"{method} {name}"] = gate.kind_stats(
            entry.response_times, entry.num_requests, entry.num_failures
        )
    kinds = {
        kind: gate.kind_stats(
            gate.merge_times(e.response_times for e in entries),
            sum(e.num_requests for e in entries),
            sum(e.num_failures for e in entries),
        )
        for kind, entries in by_kind.items()
        if entries
    }
    return gate.ClientStats(kinds=kinds, by_name=by_name)


def _expect(response: Any, *statuses: int) -> bool:
    if response.status_code in statuses:
        response.success()
        return True
    response.failure(f"status {response.status_code}, expected {statuses}")
    return False


class Reader(_Paced):
    """An anonymous visitor browsing the directory."""

    weight = 90
    share = 1.0 - ADMIN_SHARE - SIGNED_IN_SHARE

    def on_start(self) -> None:
        self.cursor: tuple[str, str] | None = None  # (category slug, next cursor)
        self.etags: dict[str, str] = {}

    def _get(self, path: str, name: str, *, keep_etag: bool = True) -> Any:
        with self.client.get(path, name=name, catch_response=True) as response:
            if _expect(response, 200) and keep_etag:
                etag = response.headers.get("ETag")
                if etag and len(self.etags) < 256:
                    self.etags[path] = etag
            return response

    @task(10)
    def categories(self) -> None:
        self._get("/v1/categories", "/v1/categories")

    @task(20)
    def first_page(self) -> None:
        slug = RUN.category()["slug"]
        self._page(slug, None)

    @task(10)
    def next_page(self) -> None:
        if self.cursor is None:
            self.first_page()
        else:
            self._page(*self.cursor)

    def _page(self, slug: str, cursor: str | None) -> None:
        path = f"/v1/categories/{slug}/listings"
        if cursor:
            path += f"?cursor={cursor}"
        name = "/v1/categories/{ref}/listings" + ("?cursor" if cursor else "")
        response = self._get(path, name, keep_etag=False)
        if response.status_code == 200:
            following = json.loads(response.content or b"{}").get("nextCursor")
            self.cursor = (slug, following) if following else None

    @task(45)
    def listing(self) -> None:
        slug = RUN.listing()["slug"]
        self._get(f"/v1/listings/{slug}", "/v1/listings/{ref}")

    @task(15)
    def conditional(self) -> None:
        if not self.etags:
            self.listing()
            return
        path, etag = random.choice(list(self.etags.items()))
        name = "/v1/listings/{ref}" if path.startswith("/v1/listings/") else path
        with self.client.get(
            path, name=f"{name} (If-None-Match)", headers={"If-None-Match": etag},
            catch_response=True,
        ) as response:  # fmt: skip
            # 200 is right too when an admin changed the entity since: the new ETag is kept.
            if _expect(response, 304, 200) and response.status_code == 200:
                self.etags[path] = response.headers.get("ETag", "")


class SignedIn(_Paced):
    """A signed-in user looking at their profile and favourites."""

    weight = 10
    share = SIGNED_IN_SHARE
    signs_in = True

    def on_start(self) -> None:
        self.auth = {"Authorization": f"Bearer {RUN.next_user_token()}"}
        self.saved: list[str] = []

    @task(3)
    def me(self) -> None:
        with self.client.get("/v1/me", headers=self.auth, catch_response=True) as r:
            _expect(r, 200)

    @task(3)
    def favourites(self) -> None:
        with self.client.get("/v1/me/favourites", headers=self.auth, catch_response=True) as r:
            _expect(r, 200)

    @task(2)
    def save(self) -> None:
        listing_id = RUN.listing()["id"]
        with self.client.put(
            f"/v1/me/favourites/{listing_id}", name="/v1/me/favourites/{listingId}",
            headers=self.auth, catch_response=True,
        ) as r:  # fmt: skip
            if _expect(r, 200, 201):
                self.saved.append(listing_id)

    @task(2)
    def unsave(self) -> None:
        if not self.saved:
            self.save()
            return
        listing_id = self.saved.pop(random.randrange(len(self.saved)))
        with self.client.delete(
            f"/v1/me/favourites/{listing_id}", name="/v1/me/favourites/{listingId}",
            headers=self.auth, catch_response=True,
        ) as r:  # fmt: skip
            _expect(r, 204)


class Admin(_Paced):
    """One curator: create a listing, update it with If-Match, delete it; over and over."""

    fixed_count = 1
    share = ADMIN_SHARE
    signs_in = True

    def on_start(self) -> None:
        token = random.choice(RUN.fixture["admins"])
        self.auth = {"Authorization": f"Bearer {token}"}
        self.current: tuple[str, str, bool] | None = None  # (id, etag, updated)

    @task
    def step(self) -> None:
        if self.current is None:
            self._create()
        elif not self.current[2]:
            self._update(*self.current[:2])
        else:
            self._delete(self.current[0])

    def _create(self) -> None:
        slug = f"loadtest-{random.getrandbits(48):012x}"
        body = {
            "slug": slug,
            "title": "Load-test listing",
            "categoryId": RUN.category()["id"],
            "incomePotential": {"min": 10, "max": 20},
        }
        with self.client.post(
            "/v1/admin/listings", json=body, headers=self.auth, catch_response=True
        ) as r:
            if _expect(r, 201):
                self.current = (r.json()["id"], r.headers.get("ETag", ""), False)

    def _update(self, listing_id: str, etag: str) -> None:
        with self.client.patch(
            f"/v1/admin/listings/{listing_id}", name="/v1/admin/listings/{id}",
            json={"title": "Load-test listing, updated"},
            headers={**self.auth, "If-Match": etag}, catch_response=True,
        ) as r:  # fmt: skip
            if _expect(r, 200):
                self.current = (listing_id, r.headers.get("ETag", ""), True)

    def _delete(self, listing_id: str) -> None:
        with self.client.delete(
            f"/v1/admin/listings/{listing_id}", name="/v1/admin/listings/{id}",
            headers=self.auth, catch_response=True,
        ) as r:  # fmt: skip
            _expect(r, 204)
            self.current = None

    def on_stop(self) -> None:
        # Leave no load-test listing behind (bounded: at most one is pending).
        if self.current is not None:
            self._delete(self.current[0])
