"""Diagnostics for operators: health, capacity, database size, query plans."""
