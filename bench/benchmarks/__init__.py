"""Each module registers benchmarks with `bench.registry.benchmark`."""
