"""Real local stand-ins for outside services, shared by the tests, the benchmarks and the demo."""
