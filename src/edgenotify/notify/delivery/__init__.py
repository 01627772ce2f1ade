"""Outbound delivery: one module per channel, a dispatcher that never lets an exception escape,
and the backoff policy that decides when a failed delivery is tried again."""
