"""Per-key request rates, kept in the cache. A cache outage lets requests through (logged):
throttling protects the service and must never be the reason it is down."""

import logging

from rest_framework.throttling import SimpleRateThrottle

from api.auth import ApiClient

logger = logging.getLogger(__name__)


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        if not isinstance(request.user, ApiClient):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.key.prefix}

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - any cache failure: fail open
            logger.warning("throttle cache unavailable; request let through", exc_info=True)
            return True
