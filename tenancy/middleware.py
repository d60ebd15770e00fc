import logging

from django.db import InterfaceError, OperationalError
from django.template.response import TemplateResponse
from django.utils import translation

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)


def database_unavailable_response(request):
    if request.path.startswith("/api/"):
        # API clients get problem+json like every other API error, and know to retry.
        from api.errors import problem_http_response

        response = problem_http_response(
            status_code=503, code="database_unavailable",
            detail="The database is unreachable; nothing was written. Retry later.")
    else:
        response = TemplateResponse(request, "503.html", status=503).render()
    response["Retry-After"] = "30"
    return response


class DatabaseUnavailableMiddleware:
    """A database outage answers 503 with Retry-After, not a stack trace.

    Covers exceptions raised in views; config.urls.handler500 covers the rest.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_ERRORS):
            logger.error("Database unavailable: %s", exception)
            return database_unavailable_response(request)
        return None


class UserLanguageMiddleware:
    """A signed-in user's preferred language wins over the browser's (LocaleMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        try:
            language = user.language if user is not None and user.is_authenticated else ""
        except DATABASE_ERRORS:
            language = ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
