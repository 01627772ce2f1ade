"""HTTP handlers, one module per resource. Each exports ``ROUTES``."""
