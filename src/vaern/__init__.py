"""Værn: watches public sites for employees being named, secures the evidence, alerts their leader."""

__version__ = "0.1.0"
