"""Webhook endpoints and their deliveries over the REST API: the vendor's CRM registers where
it receives events, rotates the signing secret, sends a test event, reads the delivery log
and asks for a redelivery. Views validate, call one service in notifications/webhooks.py,
and render the result. The secret appears only in the answers to create and rotate."""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.response import Response

from api.errors import ProblemError
from api.schema import ListAwareAutoSchema
from api.serializers import StrictSerializer
from api.views import TenantAPIView
from leads.api import ERRORS, READ_ERRORS
from notifications import webhooks
from notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

TAGS = ["webhooks"]

ENDPOINT_ID = "5b0e3c2a-8f4d-4c1e-9a7b-2d6f1e0c9b8a"
DELIVERY_ID = "c4d2e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f"
SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ENDPOINT_REQUEST_EXAMPLE = {
    "url": "https://crm.example.com/hooks/leadshare",
    "description": "Salesforce sync (production)",
    "event_types": ["lead.created", "lead.won", "lead.lost"],
}
ENDPOINT_EXAMPLE = {
    "id": ENDPOINT_ID, **ENDPOINT_REQUEST_EXAMPLE, "is_active": True, "failing_since": None,
    "disabled_at": None, "disabled_reason": "", "previous_secret_expires_at": None,
    "created_at": "2026-11-24T09:30:00Z", "updated_at": "2026-11-24T09:30:00Z",
}
DELIVERY_EXAMPLE = {
    "id": DELIVERY_ID, "endpoint": ENDPOINT_ID, "webhook_id": "evt_4711",
    "event_type": "lead.won", "event": 4711, "status": "delivered", "attempts": 2,
    "last_status_code": 204, "next_attempt_at": None,
    "created_at": "2026-11-24T10:00:00Z", "delivered_at": "2026-11-24T10:00:06Z",
    "payload": {"type": "lead.won", "timestamp": "2026-11-24T10:00:00Z",
                "data": {"event": {"id": 4711, "kind": "won"}, "lead": {"id": "…"}}},
    "attempt_log": [
        {"number": 1, "attempted_at": "2026-11-24T10:00:01Z", "status_code": 503,
         "latency_ms": 41, "response_excerpt": "Service Unavailable", "error": "",
         "next_attempt_at": "2026-11-24T10:00:06Z"},
        {"number": 2, "attempted_at": "2026-11-24T10:00:06Z", "status_code": 204,
         "latency_ms": 38, "response_excerpt": "", "error": "", "next_attempt_at": None},
    ],
}
TEST_DELIVERY_EXAMPLE = {
    **DELIVERY_EXAMPLE, "webhook_id": "test_1f0c2d3e4b5a69788796a5b4c3d2e1f0",
    "event_type": "webhook.test", "event": None, "status": "pending", "attempts": 0,
    "last_status_code": None, "next_attempt_at": "2026-11-24T10:05:00Z",
    "created_at": "2026-11-24T10:05:00Z", "delivered_at": None,
    "payload": {"type": "webhook.test", "timestamp": "2026-11-24T10:05:00Z",
                "data": {"endpoint": ENDPOINT_ID}},
    "attempt_log": [],
}
URL_PROBLEM_EXAMPLE = {
    "type": "about:blank", "title": "Bad Request", "status": 400, "code": "invalid",
    "detail": "The request has 1 invalid field(s).",
    "errors": [{"pointer": "/url", "code": "target_refused",
                "detail": "Webhook targets on private, loopback or reserved addresses are "
                          "refused."}],
}
INACTIVE_PROBLEM_EXAMPLE = {
    "type": "about:blank", "title": "Conflict", "status": 409, "code": "endpoint_inactive",
    "detail": "The webhook endpoint is inactive; re-activate it first.",
}
EVENT_TYPES_HELP = ("The event types to receive; empty or omitted: all of them. "
                    "`webhook.test` is sent on request whatever this says.")


# --- serializers ------------------------------------------------------------------------------

class WebhookEndpointCreateSerializer(StrictSerializer):
    url = serializers.URLField(
        max_length=webhooks.URL_MAX_LENGTH,
        help_text="http or https; addresses in private, loopback or reserved networks are "
                  "refused.",
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                        default="")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=webhooks.EVENT_TYPES), required=False,
        default=list, max_length=100, help_text=EVENT_TYPES_HELP,
    )


class WebhookEndpointPatchSerializer(WebhookEndpointCreateSerializer):
    is_active = serializers.BooleanField(
        required=False,
        help_text="false deactivates the endpoint; true brings it back and clears its "
                  "failure state (failing_since, disabled_at).",
    )


class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    url = serializers.CharField()
    description = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField(),
                                        help_text="Empty: every event type.")
    is_active = serializers.BooleanField()
    failing_since = serializers.DateTimeField(
        allow_null=True, help_text="Since when every attempt has failed; null while healthy.")
    disabled_at = serializers.DateTimeField(
        allow_null=True, help_text="When the endpoint was deactivated, by hand or after "
                                   "failing for 24 hours.")
    disabled_reason = serializers.CharField()
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="After a rotation, deliveries are signed with the previous "
                                   "secret too until this time.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        help_text="The signing secret (`whsec_…`), shown only in this answer: store it now.")


class WebhookAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    attempted_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(
        allow_null=True, help_text="The receiver's HTTP status; null when no answer came.")
    latency_ms = serializers.IntegerField()
    response_excerpt = serializers.CharField(
        help_text="The first 500 characters of the answer's body.")
    error = serializers.CharField(
        help_text="Why no answer came (timeout, connection refused, target refused).")
    next_attempt_at = serializers.DateTimeField(
        allow_null=True, help_text="The retry this attempt scheduled; null: none "
                                   "(delivered, or given up).")


class WebhookDeliverySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    endpoint = serializers.UUIDField(source="endpoint.public_id")
    webhook_id = serializers.CharField(
        source="msg_id", help_text="The `webhook-id` header, the same on every attempt and "
                                   "redelivery: drop repeats by it.")
    event_type = serializers.CharField()
    event = serializers.IntegerField(
        source="event_id", allow_null=True,
        help_text="The lead event's id, as in GET /api/v1/events/; null for test events.")
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    payload = serializers.DictField(help_text="The JSON body sent.")
    attempt_log = WebhookAttemptSerializer(many=True, help_text="Every try, oldest first.")


class WebhookEndpointFilter(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = WebhookEndpoint
        fields = []


class WebhookDeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event_type = django_filters.CharFilter()

    class Meta:
        model = WebhookDelivery
        fields = []


def _refused_to_api(error) -> Exception:
    """A service's refusal, answered like a validation error of the field it is about."""
    if isinstance(error, webhooks.TargetRefused):
        return ValidationError({"url": [ErrorDetail(error.message, code=error.code)]})
    if isinstance(error, webhooks.UnknownEventType):
        return ValidationError({"event_types": [ErrorDetail(error.message, code=error.code)]})
    return ProblemError(status_code=status.HTTP_409_CONFLICT, detail=error.message,
                        code=error.code)


REFUSALS = (webhooks.TargetRefused, webhooks.UnknownEventType, webhooks.EndpointInactive)


# --- views ------------------------------------------------------------------------------------

class _EndpointBase(TenantAPIView):
    model = WebhookEndpoint
    lookup_field = "public_id"
    lookup_url_kwarg = "id"

    def tenant_queryset(self):
        return WebhookEndpoint.objects.all()


@extend_schema_view(
    get=extend_schema(
        summary="List webhook endpoints", operation_id="webhook_endpoints_list",
        responses={200: WebhookEndpointSerializer(many=True), **READ_ERRORS}, tags=TAGS,
        description="Newest first, cursor-paginated. Secrets are never listed.",
    ),
    post=extend_schema(
        summary="Register a webhook endpoint", operation_id="webhook_endpoints_create",
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointWithSecretSerializer, **ERRORS}, tags=TAGS,
        description="The answer holds the signing `secret`, shown only now. Deliveries "
                    "follow the Standard Webhooks specification: verify `webhook-signature` "
                    "over `webhook-id.webhook-timestamp.body` with this secret.",
        examples=[
            OpenApiExample("The CRM's receiver", value=ENDPOINT_REQUEST_EXAMPLE,
                           request_only=True),
            OpenApiExample("Created", response_only=True, status_codes=["201"],
                           value={**ENDPOINT_EXAMPLE, "secret": SECRET_EXAMPLE}),
            OpenApiExample("A private address", response_only=True, status_codes=["400"],
                           value=URL_PROBLEM_EXAMPLE),
        ],
    ),
)
class WebhookEndpointListCreateView(_EndpointBase):
    schema = ListAwareAutoSchema()
    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilter

    def get(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    def post(self, request, *args, **kwargs):
        serializer = WebhookEndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            endpoint, _secret = webhooks.webhook_endpoint_create(
                tenant=self.tenant, actor=self.actor, **serializer.validated_data)
        except REFUSALS as error:
            raise _refused_to_api(error) from None
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data,
                        status=status.HTTP_201_CREATED,
                        headers={"Location": f"/api/v1/webhook-endpoints/{endpoint.public_id}/"})


@extend_schema_view(
    get=extend_schema(summary="Read a webhook endpoint", operation_id="webhook_endpoints_retrieve",
                      responses={200: WebhookEndpointSerializer, **READ_ERRORS}, tags=TAGS,
                      examples=[OpenApiExample("Healthy", value=ENDPOINT_EXAMPLE,
                                               response_only=True)]),
    patch=extend_schema(
        summary="Change or re-activate a webhook endpoint",
        operation_id="webhook_endpoints_update", request=WebhookEndpointPatchSerializer,
        responses={200: WebhookEndpointSerializer, **ERRORS}, tags=TAGS,
        description="Send only the fields to change. `is_active: true` brings back an "
                    "endpoint that was deactivated or disabled for failing, with a clean "
                    "failure state.",
        examples=[
            OpenApiExample("Re-activate after fixing the receiver", request_only=True,
                           value={"is_active": True}),
            OpenApiExample("Only won and lost leads", request_only=True,
                           value={"event_types": ["lead.won", "lead.lost"]}),
        ],
    ),
    delete=extend_schema(
        summary="Deactivate a webhook endpoint", operation_id="webhook_endpoints_deactivate",
        responses={204: None, **ERRORS}, tags=TAGS,
        description="No new deliveries; pending ones are not sent. The delivery log stays. "
                    "PATCH `is_active: true` brings the endpoint back.",
    ),
)
class WebhookEndpointDetailView(_EndpointBase):
    serializer_class = WebhookEndpointSerializer

    def get(self, request, *args, **kwargs):
        return Response(WebhookEndpointSerializer(self.get_object()).data)

    def patch(self, request, *args, **kwargs):
        endpoint = self.get_object()
        serializer = WebhookEndpointPatchSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            endpoint = webhooks.webhook_endpoint_update(
                endpoint=endpoint, changes=dict(serializer.validated_data), actor=self.actor)
        except REFUSALS as error:
            raise _refused_to_api(error) from None
        return Response(WebhookEndpointSerializer(endpoint).data)

    def delete(self, request, *args, **kwargs):
        webhooks.webhook_endpoint_deactivate(endpoint=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(post=extend_schema(
    summary="Rotate the signing secret", operation_id="webhook_endpoints_rotate_secret",
    request=None, responses={200: WebhookEndpointWithSecretSerializer, **ERRORS}, tags=TAGS,
    description="Returns the new `secret`, shown only now. Until `previous_secret_expires_at` "
                "(24 hours by default) every delivery carries two signatures, one per "
                "secret, so the receiver can switch over whenever it is ready.",
    examples=[OpenApiExample("Rotated", response_only=True, status_codes=["200"], value={
        **ENDPOINT_EXAMPLE, "secret": SECRET_EXAMPLE, "updated_at": "2026-11-25T08:00:00Z",
        "previous_secret_expires_at": "2026-11-26T08:00:00Z"})],
))
class WebhookEndpointRotateSecretView(_EndpointBase):
    serializer_class = WebhookEndpointWithSecretSerializer

    def post(self, request, *args, **kwargs):
        endpoint = self.get_object()
        webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=self.actor)
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)


@extend_schema_view(post=extend_schema(
    summary="Send a test event", operation_id="webhook_endpoints_test", request=None,
    responses={202: WebhookDeliverySerializer, **ERRORS}, tags=TAGS,
    description="Queues a `webhook.test` delivery to the endpoint, sent within seconds and "
                "retried like any other; follow it in the delivery log. 409 if the endpoint "
                "is inactive.",
    examples=[
        OpenApiExample("Queued", response_only=True, status_codes=["202"],
                       value=TEST_DELIVERY_EXAMPLE),
        OpenApiExample("Inactive endpoint", response_only=True, status_codes=["409"],
                       value=INACTIVE_PROBLEM_EXAMPLE),
    ],
))
class WebhookEndpointTestView(_EndpointBase):
    serializer_class = WebhookDeliverySerializer

    def post(self, request, *args, **kwargs):
        try:
            delivery = webhooks.test_delivery_create(endpoint=self.get_object(),
                                                     actor=self.actor)
        except REFUSALS as error:
            raise _refused_to_api(error) from None
        return Response(WebhookDeliverySerializer(delivery).data,
                        status=status.HTTP_202_ACCEPTED)


class _DeliveryBase(TenantAPIView):
    model = WebhookDelivery

    def tenant_queryset(self):
        return WebhookDelivery.objects.select_related("endpoint").prefetch_related(
            "attempt_log")


@extend_schema_view(get=extend_schema(
    summary="An endpoint's deliveries with their attempt log",
    operation_id="webhook_endpoints_deliveries_list",
    responses={200: WebhookDeliverySerializer(many=True), **READ_ERRORS}, tags=TAGS,
    description="Newest first, cursor-paginated; filter by `status` (`pending`, `delivered`, "
                "`failed`) or `event_type`. Each delivery lists every attempt: status code, "
                "latency, the start of the answer, the error, and the retry it scheduled.",
    # One item: drf-spectacular wraps it in a page.
    examples=[OpenApiExample("Delivered on the second try", response_only=True,
                             status_codes=["200"], value=DELIVERY_EXAMPLE)],
))
class WebhookEndpointDeliveryListView(_DeliveryBase):
    schema = ListAwareAutoSchema()
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter

    def get(self, request, *args, **kwargs):
        endpoint = get_object_or_404(WebhookEndpoint.objects.for_tenant(self.tenant),
                                     public_id=kwargs["id"])
        deliveries = self.filter_queryset(self.get_queryset().filter(endpoint=endpoint))
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


@extend_schema_view(post=extend_schema(
    summary="Redeliver", operation_id="webhook_deliveries_redeliver", request=None,
    responses={202: WebhookDeliverySerializer, **ERRORS}, tags=TAGS,
    description="Sends the delivery again now, whatever its status, with the same "
                "`webhook-id`, so a receiver that already processed it can drop it. After "
                "the retry window a failed try leaves it failed again. 409 if the endpoint "
                "is inactive.",
    examples=[OpenApiExample("Inactive endpoint", response_only=True, status_codes=["409"],
                             value=INACTIVE_PROBLEM_EXAMPLE)],
))
class WebhookDeliveryRedeliverView(_DeliveryBase):
    serializer_class = WebhookDeliverySerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"

    def post(self, request, *args, **kwargs):
        try:
            delivery = webhooks.delivery_redeliver(delivery=self.get_object(), actor=self.actor)
        except REFUSALS as error:
            raise _refused_to_api(error) from None
        delivery = self.get_queryset().get(pk=delivery.pk)
        return Response(WebhookDeliverySerializer(delivery).data,
                        status=status.HTTP_202_ACCEPTED)
