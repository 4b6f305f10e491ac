"""The secret that signs the forms' CSRF tokens, and the token check for uploads that asgi-csrf cannot read."""

from __future__ import annotations

import hmac
import os
import secrets
import tempfile

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request

from vardekedja.settings import Settings

SECRET_FILE = "web-secret"


def web_secret(settings: Settings) -> str:
    """The secret that signs CSRF tokens: from the data folder, made there on first start."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        # Written whole, then linked into place only if absent: several workers starting together agree on one.
        with tempfile.NamedTemporaryFile("w", dir=settings.data_dir, delete=False, encoding="ascii") as made:
            made.write(secrets.token_urlsafe(32))
        os.chmod(made.name, 0o600)
        try:
            os.link(made.name, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(made.name)
    return path.read_text(encoding="ascii").strip()


def form_token_matches(request: Request, presented: str | None) -> bool:
    """The double-submit check asgi-csrf makes: the form's token is the cookie's, and the cookie is ours."""
    cookie = request.cookies.get("csrftoken", "")
    if not presented or not cookie or not hmac.compare_digest(presented.encode(), cookie.encode()):
        return False
    try:
        URLSafeSerializer(web_secret(request.app.state.settings)).loads(cookie, "csrftoken")
    except BadSignature:
        return False
    return True
