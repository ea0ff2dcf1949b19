"""Real local components for tests and benchmarks (a fixture site and behaviour server)."""
