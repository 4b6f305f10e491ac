"""``GET /``: a small page saying what this server is, until the web UI takes the address over."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from vardekedja import __version__

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Värdekedja</title>
<style>
  body {{ font: 1rem/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }}
  code {{ background: #f2f2f2; padding: 0 .2em; }}
</style>
</head>
<body>
<h1>Värdekedja</h1>
<p>A marketplace for the furniture of public meeting places in housing areas: designers publish designs,
local workshops make them, area companies install them, housing companies buy them, and auditors check
where every krona went. Every step is recorded as an event.</p>
<p>This server answers the HTTP API (version {version}) under <code>/v1</code>; send
<code>Authorization: Bearer &lt;API key&gt;</code>.</p>
<ul>
  <li><a href="/docs">Interactive API documentation</a> (Swagger UI)</li>
  <li><a href="/redoc">API reference</a> (ReDoc)</li>
  <li><a href="/openapi.json">The OpenAPI document</a></li>
  <li><a href="/healthz">Health</a> and <a href="/readyz">readiness</a></li>
</ul>
</body>
</html>
"""


@router.get("/", response_class=HTMLResponse)
def front_page() -> HTMLResponse:
    """What this is, with links to the docs and health."""
    return HTMLResponse(PAGE.format(version=escape(__version__)))
