"""edgenotify: a notification service for Cloudflare Python Workers on D1, KV and R2."""

__version__ = "0.1.0"
