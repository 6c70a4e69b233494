"""What a setting, or another checkout, costs an in-process hit: services side by side, one run.

    python -m service.dev.bench.variants [--listings 10000] [--repeats 6] [--duration 4]
        [--paced 15000] NAME=[KEY=VALUE,...][@CHECKOUT] ...

Each variant is a `hustlehub serve` of the benchmark's kind (`make benchmark`'s settings, one
process) with its own environment overrides, started from CHECKOUT (a git worktree, say of
the commit before a change) when one is given, else from this one. Each reads every listing
of the data set once before measuring, as `make benchmark`'s in-process service does, unless
its overrides say `warm=0`. Then, per repetition, the bare ceiling and every variant, back to
back and in reverse order every other time, closed loop on `make benchmark`'s listing: the
ratio of each variant's req/s to the ceiling's of the same repetition, as `make benchmark`
quotes it. With `--paced R`, each variant also serves R req/s, and the serving process's CPU
time (user and system, from /proc) is divided by the requests it answered: what a request
costs with headroom left, without the load generator's share of the two cores in it.

    python -m service.dev.bench.variants default= lease100ms=HUSTLEHUB_CACHE_LEASE_S=0.1
    git worktree add /tmp/before HEAD~1
    python -m service.dev.bench.variants before=@/tmp/before after=
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from loadtests import stack
from loadtests.benchmark import LISTING, SERVICE_ENV, bare, expect_source
from loadtests.loadgen import generator_name, measure
from loadtests.warm import synthetic_listing_paths, warm

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    env: dict[str, str]
    warm: bool = True
    checkout: Path | None = None

    @classmethod
    def parse(cls, text: str) -> Variant:
        """`NAME=[KEY=VALUE,...][@CHECKOUT]`."""
        name, sep, rest = text.partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=[KEY=VALUE,...][@DIR]")
        rest, at, checkout = rest.partition("@")
        env: dict[str, str] = {}
        for pair in filter(None, rest.split(",")):
            key, eq, value = pair.partition("=")
            if not eq:
                raise argparse.ArgumentTypeError(f"{pair!r}: expected KEY=VALUE")
            env[key] = value
        warmed = env.pop("warm", "1") != "0"
        return cls(name, env, warmed, Path(checkout).resolve() if at else None)


@dataclass(slots=True)
class Figures:
    ratios: list[float] = field(default_factory=list)
    cpu_us: list[tuple[float, float]] = field(default_factory=list)  # (user, system)


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) * _TICK_S, int(fields[12]) * _TICK_S


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="service.dev.bench.variants", description=__doc__)
    p.add_argument("variants", nargs="+", type=Variant.parse)
    p.add_argument("--listings", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=6)
    p.add_argument("--duration", type=float, default=4.0, help="seconds per measurement")
    p.add_argument("--paced", type=float, default=0.0, help="also serve this many req/s")
    args = p.parse_args(argv)
    variants: list[Variant] = args.variants
    figures = {v.name: Figures() for v in variants}
    with contextlib.ExitStack() as es:
        stk = es.enter_context(stack.dev_stack(users=100, listings=args.listings))
        services = {}
        size = 0
        for v in variants:
            svc = es.enter_context(
                stack.service(stk, overrides={**SERVICE_ENV, **v.env}, cwd=v.checkout)
            )
            size = expect_source(svc.base_url, LISTING, "memory")
            if v.warm:
                warm(svc.base_url, synthetic_listing_paths(args.listings))
                expect_source(svc.base_url, LISTING, "memory")
            print(f"{v.name}: resident {svc.rss_bytes() / 2**20:.0f} MiB", flush=True)
            services[v.name] = svc
        ceiling = es.enter_context(bare(size))
        for rep in range(args.repeats):
            order = variants if rep % 2 == 0 else variants[::-1]
            base = measure(ceiling + LISTING, args.duration)
            cells = [f"ceiling {base.rps:.0f}"]
            for v in order:
                sample = measure(services[v.name].base_url + LISTING, args.duration)
                figures[v.name].ratios.append(sample.rps / base.rps)
                cells.append(f"{v.name} {sample.rps:.0f} ({sample.rps / base.rps:.3f})")
                if args.paced:
                    figures[v.name].cpu_us.append(
                        _paced_cpu(services[v.name], args.duration, args.paced)
                    )
            print(f"rep {rep + 1}/{args.repeats}: " + ", ".join(cells), flush=True)
    print(
        f"variants {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {os.cpu_count()} CPUs, "
        f"{generator_name()}, {LISTING}, medians of {args.repeats} x {args.duration:g} s"
    )
    for v in variants:
        f = figures[v.name]
        line = f"  {v.name:24} x ceiling {statistics.median(f.ratios):.3f} [" + ", ".join(
            f"{r:.3f}" for r in f.ratios
        )
        line += "]"
        if f.cpu_us:
            user = statistics.median(u for u, _ in f.cpu_us)
            system = statistics.median(s for _, s in f.cpu_us)
            line += f"; at {args.paced:.0f} req/s, CPU {user + system:.1f} µs a request "
            line += f"({user:.1f} user, {system:.1f} system)"
        print(line)
    return 0


def _paced_cpu(svc: stack.Service, duration_s: float, rate: float) -> tuple[float, float]:
    pid = svc.pids()[-1]
    user0, system0 = cpu_seconds(pid)
    sample = measure(svc.base_url + LISTING, duration_s, rate=rate)
    user1, system1 = cpu_seconds(pid)
    answered = sample.rps * duration_s
    return (user1 - user0) / answered * 1e6, (system1 - system0) / answered * 1e6


if __name__ == "__main__":
    sys.exit(main())
