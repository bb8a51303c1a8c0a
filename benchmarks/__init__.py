"""Benchmarks and the load test: run by `make bench` and `make load`, not by pytest."""
