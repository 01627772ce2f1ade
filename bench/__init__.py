"""Benchmarks: what users pay for, side by side with what they would use instead.

Run with ``scripts/bench <name>|all``; see ``bench/RESULTS.md`` for the latest figures.
"""
