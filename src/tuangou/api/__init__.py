"""The HTTP API under /api/v1/. One module per domain; each is thin and calls services."""

from tuangou.api.base import api

__all__ = ["api"]
