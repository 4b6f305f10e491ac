"""The HTTP API (v1): thin routes over the application service and the views."""

from vardekedja.api.app import create_app

__all__ = ["create_app"]
