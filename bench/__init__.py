"""Benchmarks of the hot paths (make bench). Never part of the test run."""
