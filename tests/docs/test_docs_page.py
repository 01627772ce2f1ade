"""``/docs`` rendered by a real headless Chromium: the page is complete, its script runs, and it loads
nothing from anywhere else (the worker's Content-Security-Policy would block it and the page would
show it)."""

import re
from pathlib import Path

from devkit import browser
from edgenotify.routes import ROUTER


def test_docs_render_in_headless_chromium(worker, tmp_path: Path):
    response = worker.client.get("/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert "<link" not in page and " src=" not in page and "@import" not in page and "url(" not in page
    assert all(href.startswith(("#", "/")) for href in re.findall(r'href="([^"]*)"', page))
    dom = browser.run(f"{worker.base_url}/docs", "--dump-dom").stdout
    operations = len(ROUTER.routes)
    # the inline script ran: it counted the operations it can filter
    assert f"{operations} of {operations} operations" in dom, dom[:2000]
    for route in ROUTER.routes:
        assert f">{route.pattern}<" in dom, route.pattern
    for code in ("idempotency_conflict", "not_cancellable", "invalid_cursor"):
        assert code in dom
    shot = browser.screenshot(f"{worker.base_url}/docs", tmp_path / "docs.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
