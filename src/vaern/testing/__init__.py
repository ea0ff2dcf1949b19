"""Helpers for Værn's own tests and benchmarks: local servers that stand in for the world."""
