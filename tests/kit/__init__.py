"""Shared test kit: fixtures, workload builders and real services for the tests and benchmarks."""
