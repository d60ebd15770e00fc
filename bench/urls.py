"""The project's URLs plus the benchmark's floor endpoint (never in production URLs)."""

from django.urls import path
from rest_framework import status
from rest_framework.response import Response

from api.views import TenantAPIView
from config.urls import urlpatterns as project_urlpatterns
from tenancy.models import AuditEntry


class FloorView(TenantAPIView):
    """The same stack as the lead API (key, scope, throttle, strict JSON parser, tenant),
    then one INSERT and nothing else: what the server costs before any lead logic."""

    model = AuditEntry
    pagination_class = None
    schema = None

    def post(self, request, *args, **kwargs):
        body = request.data
        AuditEntry.objects.create(
            tenant=self.tenant, actor=None, actor_label="bench", action="bench.floor",
            object_type="lead", object_id=str(len(body)), object_repr="floor",
        )
        return Response({"ok": True}, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("api/v1/_bench/floor/", FloorView.as_view(), name="bench-floor"),
    *project_urlpatterns,
]
