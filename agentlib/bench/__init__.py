"""Benchmarks that print figures (sandbox overhead for now; task streams later)."""
