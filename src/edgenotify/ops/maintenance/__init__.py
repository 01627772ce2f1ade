"""Maintenance crons: archive-then-delete of old logs, backup retention, the maintenance run."""
