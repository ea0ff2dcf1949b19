"""Helpers for Værn's own tests, benchmarks and demo: local servers that stand in for the world."""
