import sys

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.defaults import page_not_found as django_page_not_found
from django.views.defaults import server_error as django_server_error

from api.errors import problem_http_response
from escalation.services import heartbeat_age_seconds
from tenancy.middleware import DATABASE_ERRORS, database_unavailable_response


@never_cache
def healthz(request):
    """Liveness for load balancers: the database answers; the worker's last heartbeat age."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        age = heartbeat_age_seconds()
    except DATABASE_ERRORS:
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse(
        {
            "status": "ok",
            "database": "ok",
            "worker_heartbeat_age_s": round(age, 1) if age is not None else None,
        }
    )


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    # An API client asking for a path that matches no route gets problem+json like every
    # other API error, not the portal's HTML page.
    if _is_api(request):
        return problem_http_response(status_code=404, code="not_found",
                                     detail="No such API resource.")
    return django_page_not_found(request, exception)


def server_error(request):
    # Errors outside views (session or user loading) reach here: a database outage is a 503.
    if isinstance(sys.exc_info()[1], DATABASE_ERRORS):
        return database_unavailable_response(request)
    if _is_api(request):
        return problem_http_response(
            status_code=500, code="server_error",
            detail="Something went wrong on our side; it has been logged.")
    return django_server_error(request)
