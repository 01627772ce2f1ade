"""Outbound delivery: one module per channel, a dispatcher that never lets an exception escape,
the retry schedule, the attempt history and the recovery of failed messages."""
