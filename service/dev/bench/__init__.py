"""In-process micro-benchmarks: they drive our own code directly, where `loadtests/` speaks HTTP.

`python -m service.dev.bench.hotpath` (`make hotpath`), `...bench.migration`,
`...bench.reconcile`. Dev-only, like the rest of `service.dev`.
"""
