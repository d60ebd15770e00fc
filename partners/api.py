"""Partners over the REST API: the vendor's CRM keeps its partner list in sync."""

import django_filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.serializers import StrictSerializer
from api.views import TenantAPIView
from leads.api import ERRORS, READ_ERRORS
from partners import services
from partners.models import Partner, Tag, Tier
from tenancy.models import validate_time_zone

TAG_LABEL = r"^[a-z0-9][a-z0-9._-]*:[a-z0-9][a-z0-9._-]*$"

PARTNER_EXAMPLE = {
    "name": "Alpine IT GmbH",
    "external_id": "ACC-0042",
    "tier": "Gold",
    "tags": ["region:de-by", "vertical:manufacturing-erp", "language:de"],
    "capacity": 25,
    "routing_weight": 150,
    "contact_email": "leads@alpine-it.example",
    "time_zone": "Europe/Berlin",
}


class TimeZoneField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=64, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value:
            try:
                validate_time_zone(value)
            except Exception as error:  # Django's ValidationError → DRF's
                raise ValidationError(list(getattr(error, "messages", [str(error)]))) from None
        return value


class PartnerWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True,
                                        help_text="The partner's id in your CRM.")
    tier = serializers.CharField(max_length=50, required=False, allow_null=True,
                                 help_text="Name of one of the vendor's tiers, e.g. Gold.")
    tags = serializers.ListField(
        child=serializers.RegexField(TAG_LABEL, max_length=151), required=False,
        max_length=100,
        help_text="key:value labels; on update the list replaces the partner's tags.",
    )
    capacity = serializers.IntegerField(min_value=0, max_value=100000, required=False,
                                        allow_null=True,
                                        help_text="Most open leads at once; null: no limit.")
    routing_weight = serializers.IntegerField(min_value=1, max_value=10000, required=False)
    is_active = serializers.BooleanField(required=False)
    paused = serializers.BooleanField(required=False)
    paused_reason = serializers.CharField(max_length=200, required=False, allow_blank=True)
    contact_email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    time_zone = TimeZoneField(required=False, allow_blank=True)

    def validate_tier(self, value):
        if value is None:
            return None
        tier = Tier.objects.for_tenant(self.context["tenant"]).filter(name__iexact=value).first()
        if tier is None:
            raise ValidationError("No tier with this name.")
        return tier

    def validate_tags(self, value):
        try:
            return sorted({":".join(Tag.parse(label)) for label in value})
        except Exception as error:
            raise ValidationError(list(getattr(error, "messages", [str(error)]))) from None


class PartnerSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    external_id = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    tier = serializers.CharField(source="tier.name", allow_null=True)
    tags = serializers.SerializerMethodField()
    capacity = serializers.IntegerField(allow_null=True)
    routing_weight = serializers.IntegerField()
    is_active = serializers.BooleanField()
    paused = serializers.BooleanField()
    paused_reason = serializers.CharField()
    contact_email = serializers.CharField()
    time_zone = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_tags(self, partner) -> list[str]:
        return sorted(str(tag) for tag in partner.tags.all())


class PartnerFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter()
    is_active = django_filters.BooleanFilter()
    tag = django_filters.CharFilter(method="filter_tag", help_text="key:value")

    class Meta:
        model = Partner
        fields = []

    def filter_tag(self, queryset, name, value):
        key, _sep, tag_value = value.lower().partition(":")
        return queryset.filter(tags__key=key, tags__value=tag_value)


class _PartnerBase(TenantAPIView):
    model = Partner

    def tenant_queryset(self):
        return Partner.objects.select_related("tier").prefetch_related("tags")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["tenant"] = self.tenant
        return context

    def _fields(self, validated: dict) -> tuple[dict, list[str] | None]:
        fields = dict(validated)
        return fields, fields.pop("tags", None)


@extend_schema_view(
    get=extend_schema(summary="List partners", operation_id="partners_list",
                      responses={200: PartnerSerializer(many=True), **READ_ERRORS},
                      tags=["partners"]),
    post=extend_schema(summary="Create a partner", operation_id="partners_create",
                       request=PartnerWriteSerializer,
                       responses={201: PartnerSerializer, **ERRORS}, tags=["partners"],
                       examples=[OpenApiExample("A reseller", value=PARTNER_EXAMPLE,
                                                request_only=True)]),
)
class PartnerListCreateView(_PartnerBase):
    serializer_class = PartnerSerializer
    filterset_class = PartnerFilter

    def get(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()).distinct())
        return self.get_paginated_response(PartnerSerializer(page, many=True).data)

    def post(self, request, *args, **kwargs):
        serializer = PartnerWriteSerializer(data=request.data,
                                            context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        fields, tags = self._fields(serializer.validated_data)
        partner = services.partner_create(tenant=self.tenant, fields=fields, tags=tags,
                                          actor=self.actor)
        return Response(PartnerSerializer(self.get_queryset().get(pk=partner.pk)).data,
                        status=status.HTTP_201_CREATED,
                        headers={"Location": f"/api/v1/partners/{partner.public_id}/"})


class _PartnerObjectBase(_PartnerBase):
    serializer_class = PartnerSerializer

    def get(self, request, *args, **kwargs):
        return Response(PartnerSerializer(self.get_object()).data)

    def patch(self, request, *args, **kwargs):
        partner = self.get_object()
        serializer = PartnerWriteSerializer(data=request.data, partial=True,
                                            context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        fields, tags = self._fields(serializer.validated_data)
        services.partner_update(partner=partner, changes=fields, tags=tags, actor=self.actor)
        return Response(PartnerSerializer(self.get_queryset().get(pk=partner.pk)).data)

    def delete(self, request, *args, **kwargs):
        services.partner_deactivate(partner=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _detail_schema(prefix: str) -> dict:
    return dict(
        get=extend_schema(summary="Read a partner", operation_id=f"{prefix}_retrieve",
                          responses={200: PartnerSerializer, **READ_ERRORS}, tags=["partners"]),
        patch=extend_schema(
            summary="Update a partner (fields, tier, tags)", request=PartnerWriteSerializer,
            operation_id=f"{prefix}_update",
            responses={200: PartnerSerializer, **ERRORS}, tags=["partners"],
            examples=[OpenApiExample("Pause for a trade fair", request_only=True,
                                     value={"paused": True, "paused_reason": "Hannover Messe"})],
        ),
        delete=extend_schema(
            summary="Deactivate a partner", operation_id=f"{prefix}_deactivate",
            responses={204: None, **ERRORS}, tags=["partners"],
            description="The partner gets no new leads; its history and leads stay. "
                        "PATCH `is_active: true` brings it back.",
        ),
    )


@extend_schema_view(**_detail_schema("partners"))
class PartnerDetailView(_PartnerObjectBase):
    lookup_field = "public_id"
    lookup_url_kwarg = "id"


@extend_schema_view(**_detail_schema("partners_by_external_id"))
class PartnerByExternalIdView(_PartnerObjectBase):
    lookup_field = "external_id"
