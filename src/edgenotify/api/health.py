"""Public liveness: answers without touching D1 and reveals nothing sensitive."""

from edgenotify import __version__
from edgenotify.clock import now_iso
from edgenotify.context import Context
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Route


async def liveness(context: Context) -> HttpResponse:
    return json_response({"status": "ok", "version": __version__, "time": now_iso()})


ROUTES = [
    Route(
        "GET",
        "/health",
        liveness,
        role="public",
        summary="Liveness",
        description="Answers without touching D1; the operators' database health is GET /admin/health.",
    )
]
