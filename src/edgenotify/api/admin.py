"""admin routes (to be built)."""

from edgenotify.http.router import Route

ROUTES: list[Route] = []
