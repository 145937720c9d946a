"""Benchmarks (printed and recorded, never pass/fail)."""
