"""The events feed: every LeadEvent of the tenant, in an order a client can catch up on.

A client stores the id of the last event it saw and asks for `?after=<id>`. Event ids come
from a sequence, so a transaction that started earlier can commit an event with a smaller id
after a later one was already served. The feed therefore serves only events written by
transactions older than every transaction still running (PostgreSQL: `txid` below the
snapshot's xmin) and orders them by (txid, id): once a position has been served, no event can
ever appear before it. On SQLite writers run one at a time, so id order is commit order.
"""

from django.db import connection
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.views import TenantAPIView
from leads.api import READ_ERRORS
from leads.models import LeadEvent, LeadEventKind

FEED_MAX = 1000


class FeedEventSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Store the last one you processed; ask with "
                                            "?after=<id> to continue.")
    type = serializers.SerializerMethodField()
    kind = serializers.ChoiceField(choices=LeadEventKind.choices)
    lead = serializers.UUIDField(source="lead.public_id")
    lead_external_id = serializers.CharField(source="lead.external_id", allow_null=True)
    actor = serializers.CharField(source="actor_label")
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    data = serializers.DictField()
    created_at = serializers.DateTimeField()

    def get_type(self, event) -> str:
        return f"lead.{event.kind}"


class FeedQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, required=False, default=0,
                                     help_text="The id of the last event you saw; 0 or "
                                               "omitted starts at the beginning.")
    kind = serializers.MultipleChoiceField(choices=LeadEventKind.choices, required=False)
    lead = serializers.UUIDField(required=False, help_text="Only this lead's events.")
    limit = serializers.IntegerField(min_value=1, max_value=FEED_MAX, default=100,
                                     required=False)


def _horizon() -> int | None:
    """Transactions with an id below this have all ended; None where ids are not used."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return cursor.fetchone()[0]


@extend_schema(
    summary="The events feed", tags=["events"],
    parameters=[FeedQuerySerializer],
    responses={200: inline_serializer("EventFeedPage", {
        "results": FeedEventSerializer(many=True),
        "next": serializers.CharField(help_text="The URL to ask next (poll it when "
                                                "`results` is empty)."),
        "last_id": serializers.IntegerField(help_text="Store this: the id to continue after."),
    }), **READ_ERRORS},
    description="Every change of every lead, oldest first. Store `last_id` and ask with "
                "`?after=<last_id>`: you never miss an event, even one whose transaction "
                "commits after a later one, and never get one twice.",
)
class EventFeedView(TenantAPIView):
    model = LeadEvent
    pagination_class = None
    serializer_class = FeedEventSerializer

    def tenant_queryset(self):
        return LeadEvent.objects.select_related("lead")

    def get(self, request, *args, **kwargs):
        query = FeedQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after, limit = query.validated_data["after"], query.validated_data["limit"]
        events = self.get_queryset()
        horizon = _horizon()
        if horizon is not None:
            events = events.filter(txid__lt=horizon)
        if after:
            position = self.get_queryset().filter(pk=after).values("txid", "id").first()
            if position is None:
                raise ValidationError({"after": [_("No event with this id.")]})
            events = events.filter(
                Q(txid__gt=position["txid"]) | Q(txid=position["txid"], id__gt=position["id"])
            )
        if query.validated_data.get("kind"):
            events = events.filter(kind__in=query.validated_data["kind"])
        if query.validated_data.get("lead"):
            events = events.filter(lead__public_id=query.validated_data["lead"])
        page = list(events.order_by("txid", "id")[:limit])
        last_id = page[-1].pk if page else after
        params = request.query_params.copy()
        params["after"] = str(last_id)
        return Response({
            "results": FeedEventSerializer(page, many=True).data,
            "next": request.build_absolute_uri(f"{request.path}?{params.urlencode()}"),
            "last_id": last_id,
        })
