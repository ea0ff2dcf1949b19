"""Local test fixtures (sites, servers) used by the tests, the benchmarks and the demo."""
