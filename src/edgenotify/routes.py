"""Every HTTP route of the worker, gathered from the API modules (one module per resource).

The reference routes (``/openapi.json``, ``/docs``) describe the whole list, themselves included;
they receive it here rather than importing this module.
"""

from edgenotify.api import admin, channels, health, notifications, operator, recovery, reference, templates
from edgenotify.http.router import Router

_API = [
    *health.ROUTES,
    *channels.ROUTES,
    *templates.ROUTES,
    *notifications.ROUTES,
    *recovery.ROUTES,
    *operator.ROUTES,
    *admin.ROUTES,
]
ROUTER = Router([*_API, *reference.routes_for(_API)])
