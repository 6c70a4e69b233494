"""Tests of the load-test gate: its arithmetic, and its verdict on real runs."""
