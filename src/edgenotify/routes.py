"""Every HTTP route of the worker, gathered from the API modules (one module per resource)."""

from edgenotify.api import admin, channels, health, notifications, openapi, recovery, templates
from edgenotify.http.router import Router

ROUTER = Router(
    [
        *health.ROUTES,
        *channels.ROUTES,
        *templates.ROUTES,
        *notifications.ROUTES,
        *recovery.ROUTES,
        *admin.ROUTES,
        *openapi.openapi_routes(lambda: ROUTER.routes),
    ]
)
