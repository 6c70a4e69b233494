"""Prometheus instrumentation for the Hustle Hub directory service.

`metrics.registry.Metrics` owns every metric object, created on a registry the caller
injects. The subsystem classes implement the observer Protocols of `cache` and the data
access layer structurally: this package imports nothing from `service` or `cache`.
"""
