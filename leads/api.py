"""Leads over the REST API: create one or many, read, list with filters, update, stage, won,
lost, activities, duplicates. Views validate, call one service, and render the result."""

import datetime
import threading

import django_filters
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.errors import PROBLEM_CONTENT_TYPE, field_errors
from api.serializers import ProblemSerializer, StrictSerializer
from api.views import TenantAPIView
from leads import services
from leads.models import (
    ActivityKind,
    ConsentBasis,
    CustomField,
    Lead,
    LeadStatus,
    PipelineStage,
    SourceKind,
)
from routing.models import OfferStatus
from routing.selectors import current_offers, lead_current_offers
from routing.services import lead_intake, leads_route_soon

COUNTRY = r"^[A-Z]{2}$"
REGION = r"^[A-Z]{2}-[A-Z0-9]{1,3}$"
LANGUAGE = r"^[a-z]{2,3}(-[A-Z]{2})?$"
CURRENCY = r"^[A-Z]{3}$"

PROBLEM = OpenApiResponse(ProblemSerializer, description="Problem details (RFC 9457).")
# Every error is answered as application/problem+json, and the schema says so.
ERRORS = {(code, PROBLEM_CONTENT_TYPE): PROBLEM
          for code in (400, 401, 403, 404, 409, 413, 415, 422, 429)}
READ_ERRORS = {(code, PROBLEM_CONTENT_TYPE): PROBLEM for code in (400, 401, 404, 429)}

LEAD_EXAMPLE = {
    "external_id": "00Q5e00000AbCdE",
    "source_kind": "platform",
    "campaign_id": "2026-q4-webinar",
    "utm_source": "linkedin",
    "utm_medium": "paid",
    "utm_campaign": "erp-manufacturing",
    "contact_name": "Julia Berger",
    "contact_email": "j.berger@berger-maschinenbau.de",
    "contact_phone": "+49 89 1234567",
    "company_name": "Berger Maschinenbau GmbH",
    "company_website": "https://www.berger-maschinenbau.de",
    "country": "DE",
    "region": "DE-BY",
    "postcode": "80331",
    "language": "de",
    "industry": "manufacturing",
    "deal_size": "48000.00",
    "currency": "EUR",
    "message": "We need an ERP for 120 users, production planning included.",
    "consent_basis": "consent",
    "consent_text": "I agree that a certified partner may contact me about my request.",
    "consent_captured_at": "2026-11-24T09:12:00Z",
    "consent_source": "https://www.example.com/contact",
}

LEAD_RESPONSE_EXAMPLE = {
    "id": "3f1c9a52-6a0e-4c2b-9a53-2d1f5c0b7e11", **LEAD_EXAMPLE, "status": "received",
    "utm_term": "", "utm_content": "", "company_domain": "berger-maschinenbau.de",
    "custom_fields": {},
    "account": {"id": "8d0f2c1e-5b7a-4e3d-9c2b-1a0f9e8d7c6b", "name": "Berger Maschinenbau GmbH",
                "domain": "berger-maschinenbau.de", "crm_account_id": None, "owner": None,
                "protected_until": None},
    "partner": None, "stage": None, "is_duplicate": False, "duplicate_of": None,
    "won_value": None, "closed_on": None, "lost_reason": "",
    "created_at": "2026-11-24T09:12:03.512Z", "updated_at": "2026-11-24T09:12:03.512Z",
}
PROBLEM_EXAMPLE = {
    "type": "about:blank", "title": "Bad Request", "status": 400, "code": "invalid",
    "detail": "The request has 2 invalid field(s).",
    "errors": [
        {"pointer": "/contact_email", "code": "invalid", "detail": "Enter a valid email address."},
        {"pointer": "/custom_fields/employees", "code": "invalid", "detail": "Expected a number."},
    ],
}
CONFLICT_EXAMPLE = {
    "type": "about:blank", "title": "Conflict", "status": 409, "code": "external_id_taken",
    "detail": "A lead with external id “00Q5e00000AbCdE” exists already.",
}


def _text(max_length: int, **kwargs):
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True,
                                 trim_whitespace=True, **kwargs)


class LeadWriteSerializer(StrictSerializer):
    """The fields a CRM sends. Everything is optional except a way to reach the contact."""

    external_id = serializers.CharField(
        max_length=100, required=False, allow_null=True,
        help_text="The lead's id in your CRM; unique per vendor. A create with a taken one is "
                  "409 — update that lead with PATCH instead.",
    )
    source_kind = serializers.ChoiceField(choices=SourceKind.choices, required=False)
    campaign_id = _text(100)
    utm_source = _text(100)
    utm_medium = _text(100)
    utm_campaign = _text(100)
    utm_term = _text(100)
    utm_content = _text(100)
    contact_name = _text(200)
    contact_email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    contact_phone = _text(50)
    company_name = _text(200)
    company_website = _text(300)
    company_domain = _text(253, help_text="Derived from the website or a business email "
                                          "address when omitted.")
    crm_account_id = _text(100, help_text="The customer's account id in your CRM: leads of "
                                          "one account are linked.")
    country = serializers.RegexField(COUNTRY, required=False, allow_blank=True, max_length=2,
                                     help_text="ISO 3166-1 alpha-2, e.g. DE.")
    region = serializers.RegexField(REGION, required=False, allow_blank=True, max_length=6,
                                    help_text="ISO 3166-2, e.g. DE-BY.")
    postcode = _text(20)
    language = serializers.RegexField(LANGUAGE, required=False, allow_blank=True, max_length=6,
                                      help_text="e.g. de or de-AT.")
    industry = _text(100)
    deal_size = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0,
                                         required=False, allow_null=True)
    currency = serializers.RegexField(CURRENCY, required=False, allow_blank=True, max_length=3,
                                      help_text="ISO 4217; the vendor's currency if omitted.")
    message = _text(5000)
    custom_fields = serializers.DictField(
        required=False, help_text="Values of the vendor's custom fields, by key "
                                  "(GET /api/v1/custom-fields/). Unknown keys are refused.",
    )
    consent_basis = serializers.ChoiceField(choices=ConsentBasis.choices, required=False,
                                            allow_blank=True)
    consent_text = _text(5000, help_text="The wording the prospect agreed to.")
    consent_captured_at = serializers.DateTimeField(required=False, allow_null=True)
    consent_source = _text(300, help_text="Where consent was captured (form URL, event).")

    def validate(self, attrs):
        errors = {}
        definitions = self.context["custom_fields"]
        partial = self.partial
        if "custom_fields" in attrs or not partial:
            cleaned, field_errors = services.custom_fields_clean(
                definitions=definitions, values=attrs.get("custom_fields"), partial=partial
            )
            if field_errors:
                errors["custom_fields"] = field_errors
            attrs["custom_fields"] = cleaned
        if not partial and not (attrs.get("contact_email") or attrs.get("contact_phone")):
            errors["contact_email"] = [_("A lead needs a contact email address or phone.")]
        if attrs.get("consent_basis") == ConsentBasis.CONSENT:
            for field in ("consent_text", "consent_captured_at"):
                if not attrs.get(field):
                    errors[field] = [_("Required when the legal basis is consent.")]
        if errors:
            raise ValidationError(errors)
        return attrs


class LeadPatchSerializer(LeadWriteSerializer):
    stage = serializers.SlugField(
        max_length=50, required=False,
        help_text="Move an accepted lead to this pipeline stage (GET /api/v1/pipeline-stages/).",
    )


class PartnerRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    external_id = serializers.CharField(allow_null=True)
    name = serializers.CharField()


class AccountRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    domain = serializers.CharField(allow_null=True)
    crm_account_id = serializers.CharField(allow_null=True)
    owner = PartnerRefSerializer(allow_null=True)
    protected_until = serializers.DateTimeField(allow_null=True)


class OfferSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    partner = PartnerRefSerializer()
    status = serializers.ChoiceField(choices=OfferStatus.choices)
    is_pool = serializers.BooleanField(help_text="Offered to several partners at once; the "
                                                 "first acceptance wins.")
    offered_at = serializers.DateTimeField()
    sla_step = serializers.IntegerField(
        help_text="How many steps of the offer's SLA policy have been applied.")
    due_at = serializers.DateTimeField(
        allow_null=True, help_text="When the next SLA step (remind, notify, reassign) is due.")
    responded_at = serializers.DateTimeField(allow_null=True)


class LeadSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    external_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=LeadStatus.choices)
    source_kind = serializers.ChoiceField(choices=SourceKind.choices)
    campaign_id = serializers.CharField()
    utm_source = serializers.CharField()
    utm_medium = serializers.CharField()
    utm_campaign = serializers.CharField()
    utm_term = serializers.CharField()
    utm_content = serializers.CharField()
    contact_name = serializers.CharField()
    contact_email = serializers.CharField()
    contact_phone = serializers.CharField()
    company_name = serializers.CharField()
    company_website = serializers.CharField()
    company_domain = serializers.CharField()
    country = serializers.CharField()
    region = serializers.CharField()
    postcode = serializers.CharField()
    language = serializers.CharField()
    industry = serializers.CharField()
    deal_size = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    message = serializers.CharField()
    custom_fields = serializers.DictField()
    consent_basis = serializers.CharField()
    consent_text = serializers.CharField()
    consent_captured_at = serializers.DateTimeField(allow_null=True)
    consent_source = serializers.CharField()
    account = AccountRefSerializer(allow_null=True)
    partner = PartnerRefSerializer(allow_null=True)
    stage = serializers.CharField(source="stage.key", allow_null=True,
                                  help_text="Key of the pipeline stage, if any.")
    is_duplicate = serializers.BooleanField()
    duplicate_of = serializers.UUIDField(source="duplicate_of.public_id", allow_null=True)
    offers = serializers.SerializerMethodField(
        help_text="The open offer (several in an open pool) or the accepted one.")
    accepted_at = serializers.DateTimeField(allow_null=True)
    won_value = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    closed_on = serializers.DateField(allow_null=True)
    lost_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


    @extend_schema_field(OfferSerializer(many=True))
    def get_offers(self, lead):
        offers = getattr(lead, "current_offers", None)
        if offers is None:  # not prefetched (a webhook payload, a single read)
            offers = lead_current_offers(lead=lead)
        return OfferSerializer(offers, many=True).data


class ActivitySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    body = serializers.CharField()
    author = serializers.CharField(source="author_label")
    occurred_at = serializers.DateTimeField()


class LeadEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    actor = serializers.CharField(source="actor_label")
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    data = serializers.DictField()
    created_at = serializers.DateTimeField()


class LeadDetailSerializer(LeadSerializer):
    activities = ActivitySerializer(many=True)
    events = LeadEventSerializer(many=True)


class ActivityCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(
        choices=[c for c in ActivityKind.choices if c[0] != ActivityKind.STAGE_CHANGE]
    )
    body = serializers.CharField(max_length=10000, allow_blank=True, required=False, default="")
    # Omitted means now: the service takes None for that.
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class WonSerializer(StrictSerializer):
    order_value = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    closed_on = serializers.DateField()


class LostSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300)
    closed_on = serializers.DateField()


class BulkCreateSerializer(StrictSerializer):
    """The bulk request as the schema states it; the view checks the envelope itself and
    validates each item on its own, so that bad items never block good ones."""

    leads = LeadWriteSerializer(
        many=True, min_length=1, max_length=settings.API_BULK_MAX,
        help_text=f"Up to {settings.API_BULK_MAX} leads, each as in POST /api/v1/leads/.",
    )


def bulk_items(data) -> list:
    """The list of items of a bulk request, or a ValidationError with a pointer.

    Checked by hand: a ListField of DictFields walks every value of every item once more
    before the per-item validation does the real work.
    """
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [_("Expected an object with `leads`.")]})
    unknown = [key for key in data if key != "leads"]
    if unknown:
        raise ValidationError({key: [_("Unknown field.")] for key in unknown},
                              code="unknown_field")
    items = data.get("leads")
    if not isinstance(items, list):
        raise ValidationError({"leads": [_("Expected a list of leads.")]})
    if not 1 <= len(items) <= settings.API_BULK_MAX:
        raise ValidationError({"leads": [
            _("Send 1 to %(max)d leads per request.") % {"max": settings.API_BULK_MAX}]})
    return items


class BulkItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request.")
    status = serializers.IntegerField(help_text="201 created, 400 invalid, 409 conflict.")
    id = serializers.UUIDField(required=False)
    external_id = serializers.CharField(required=False, allow_null=True)
    errors = inline_serializer("BulkItemError", {
        "pointer": serializers.CharField(), "code": serializers.CharField(),
        "detail": serializers.CharField(),
    }, many=True, required=False)


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkItemResultSerializer(many=True)


class CustomFieldSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomField
        fields = ["key", "label", "kind", "choices", "required"]


class PipelineStageSerializer(serializers.ModelSerializer):
    class Meta:
        model = PipelineStage
        fields = ["key", "name", "position"]


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 with any offset Python accepts (up to ±23:59); PostgreSQL takes only ±15:59,
    so the value is turned into UTC before it reaches the query (found by schemathesis)."""

    def filter(self, qs, value):
        if value is not None:
            value = value.astimezone(datetime.UTC)
        return super().filter(qs, value)


class LeadFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=LeadStatus.choices)
    partner = django_filters.UUIDFilter(field_name="partner__public_id",
                                        help_text="Partner id.")
    partner_external_id = django_filters.CharFilter(field_name="partner__external_id")
    source = django_filters.ChoiceFilter(field_name="source_kind", choices=SourceKind.choices)
    country = django_filters.CharFilter(field_name="country")
    external_id = django_filters.CharFilter(field_name="external_id")
    updated_since = UTCDateTimeFilter(
        field_name="updated_at", lookup_expr="gte",
        help_text="Only leads changed at or after this time (ISO 8601).",
    )

    class Meta:
        model = Lead
        fields = []


# --- views ------------------------------------------------------------------------------------

_per_thread = threading.local()


def _reused(serializer_class, context=None):
    """One instance per thread and class, its fields built once.

    DRF deep-copies every declared field for each new serializer instance; for a 40-field
    lead that was a tenth of a create's time. Validation and representation read no other
    per-request state than `context`, which is set here for each use.
    """
    cache = getattr(_per_thread, "serializers", None)
    if cache is None:
        cache = _per_thread.serializers = {}
    serializer = cache.get(serializer_class)
    if serializer is None:
        serializer = cache[serializer_class] = serializer_class()
    serializer._context = context or {}
    return serializer

class _LeadBase(TenantAPIView):
    model = Lead

    def tenant_queryset(self):
        return Lead.objects.select_related(
            "account", "account__owner", "partner", "stage", "duplicate_of"
        ).prefetch_related(current_offers())

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False) and self.request.method != "GET":
            context["custom_fields"] = services.custom_fields_for(tenant=self.tenant)
        return context


@extend_schema_view(
    get=extend_schema(summary="List leads", operation_id="leads_list",
                      responses={200: LeadSerializer(many=True), **READ_ERRORS},
                      tags=["leads"]),
    post=extend_schema(
        summary="Create a lead", operation_id="leads_create", request=LeadWriteSerializer,
        responses={201: LeadSerializer, **ERRORS}, tags=["leads"],
        examples=[
            OpenApiExample("A web inquiry", value=LEAD_EXAMPLE, request_only=True),
            OpenApiExample("Created", response_only=True, status_codes=["201"],
                           value=LEAD_RESPONSE_EXAMPLE),
            OpenApiExample("Invalid fields", response_only=True, status_codes=["400"],
                           media_type=PROBLEM_CONTENT_TYPE, value=PROBLEM_EXAMPLE),
            OpenApiExample("External id taken", response_only=True, status_codes=["409"],
                           media_type=PROBLEM_CONTENT_TYPE, value=CONFLICT_EXAMPLE),
        ],
        description="Creates one lead in `received` (or `held` when your vendor requires "
                    "consent and none is given). Send an `Idempotency-Key` header to retry "
                    "safely.",
    ),
)
class LeadListCreateView(_LeadBase):
    filterset_class = LeadFilter
    serializer_class = LeadSerializer

    def get(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(LeadSerializer(page, many=True).data)

    def post(self, request, *args, **kwargs):
        fields = _reused(LeadWriteSerializer, self.get_serializer_context()).run_validation(
            request.data
        )
        # The lead comes back with its offers (lead.current_offers) when it was routed.
        lead = lead_intake(tenant=self.tenant, fields=fields, actor=self.actor)
        return Response(_reused(LeadSerializer).to_representation(lead),
                        status=status.HTTP_201_CREATED,
                        headers={"Location": f"/api/v1/leads/{lead.public_id}/"})


@extend_schema(
    summary="Create leads in bulk", request=BulkCreateSerializer,
    responses={207: BulkResultSerializer, **ERRORS}, tags=["leads"],
    description="Up to 1,000 leads in one request. Each item is validated and created on its "
                "own merits: the response lists, per item index, its status (201, 400 or 409) "
                "and its id or errors. Bad items never block good ones.",
    examples=[
        OpenApiExample("Two leads", request_only=True, value={"leads": [
            LEAD_EXAMPLE, {"contact_email": "it@alpenhof.at", "country": "AT"}]}),
        OpenApiExample("One created, one invalid", response_only=True, status_codes=["207"],
                       value={"created": 1, "failed": 1, "results": [
                           {"index": 0, "status": 201,
                            "id": "3f1c9a52-6a0e-4c2b-9a53-2d1f5c0b7e11",
                            "external_id": "00Q5e00000AbCdE"},
                           {"index": 1, "status": 400, "errors": [
                               {"pointer": "/contact_email", "code": "invalid",
                                "detail": "Enter a valid email address."}]}]}),
    ],
)
class LeadBulkCreateView(_LeadBase):
    serializer_class = BulkCreateSerializer

    def post(self, request, *args, **kwargs):
        items = bulk_items(request.data)
        child = _reused(LeadWriteSerializer, self.get_serializer_context())
        valid, results = [], [None] * len(items)
        for index, item in enumerate(items):
            try:
                valid.append((index, child.run_validation(item)))
            except ValidationError as error:
                results[index] = {"index": index, "status": 400,
                                  "errors": field_errors(error.detail)}
        outcomes = services.lead_create_bulk(
            tenant=self.tenant, items=[fields for _i, fields in valid], actor=self.actor
        )
        leads_route_soon(lead_ids=[o.lead.pk for o in outcomes
                                   if o.lead is not None and o.lead.status == LeadStatus.RECEIVED])
        for (index, _fields), outcome in zip(valid, outcomes, strict=True):
            if outcome.error is not None:
                results[index] = {"index": index, "status": 409, "errors": [
                    {"pointer": "/external_id", "code": outcome.error.code,
                     "detail": outcome.error.message}]}
            else:
                results[index] = {"index": index, "status": 201,
                                  "id": str(outcome.lead.public_id),
                                  "external_id": outcome.lead.external_id}
        created = sum(1 for r in results if r["status"] == 201)
        return Response({"created": created, "failed": len(results) - created,
                         "results": results}, status=status.HTTP_207_MULTI_STATUS)


class _LeadObjectBase(_LeadBase):
    serializer_class = LeadDetailSerializer

    def _render(self, lead, status_code=status.HTTP_200_OK):
        lead = self.get_queryset().prefetch_related("activities", "events").get(pk=lead.pk)
        return Response(LeadDetailSerializer(lead).data, status=status_code)

    def get(self, request, *args, **kwargs):
        return self._render(self.get_object())

    def patch(self, request, *args, **kwargs):
        lead = self.get_object()
        serializer = LeadPatchSerializer(data=request.data, partial=True,
                                         context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        stage_key = changes.pop("stage", None)
        with transaction.atomic():  # fields and stage change together or not at all
            if changes:
                lead = services.lead_update(lead=lead, changes=changes, actor=self.actor)
            if stage_key:
                stage = PipelineStage.objects.for_tenant(self.tenant).filter(
                    key=stage_key).first()
                if stage is None:
                    raise ValidationError({"stage": [_("No pipeline stage with this key.")]})
                lead = services.lead_stage_change(lead=lead, stage=stage, actor=self.actor)
        return self._render(lead)


def _detail_schema(prefix: str) -> dict:
    return dict(
        get=extend_schema(summary="Read a lead with its activities and events",
                          operation_id=f"{prefix}_retrieve",
                          responses={200: LeadDetailSerializer, **READ_ERRORS}, tags=["leads"]),
        patch=extend_schema(
            summary="Update a lead's fields or pipeline stage", request=LeadPatchSerializer,
            operation_id=f"{prefix}_update",
            responses={200: LeadDetailSerializer, **ERRORS}, tags=["leads"],
            examples=[OpenApiExample("New phone and stage", request_only=True,
                                     value={"contact_phone": "+49 89 7654321",
                                            "stage": "proposal"})],
        ),
    )


@extend_schema_view(**_detail_schema("leads"))
class LeadDetailView(_LeadObjectBase):
    lookup_field = "public_id"
    lookup_url_kwarg = "id"


@extend_schema_view(**_detail_schema("leads_by_external_id"))
class LeadByExternalIdView(_LeadObjectBase):
    lookup_field = "external_id"


class _LeadActionBase(_LeadBase):
    lookup_field = "public_id"
    lookup_url_kwarg = "id"


@extend_schema(summary="Log an activity on a lead", request=ActivityCreateSerializer,
               responses={201: ActivitySerializer, **ERRORS}, tags=["leads"])
class LeadActivityCreateView(_LeadActionBase):
    serializer_class = ActivityCreateSerializer

    def post(self, request, *args, **kwargs):
        lead = self.get_object()
        serializer = ActivityCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        activity = services.activity_log(lead=lead, actor=self.actor, **serializer.validated_data)
        return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)


@extend_schema(summary="Mark an accepted lead won", request=WonSerializer,
               responses={200: LeadSerializer, **ERRORS}, tags=["leads"])
class LeadWonView(_LeadActionBase):
    serializer_class = WonSerializer

    def post(self, request, *args, **kwargs):
        lead = self.get_object()
        serializer = WonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lead = services.lead_mark_won(lead=lead, actor=self.actor, **serializer.validated_data)
        return Response(LeadSerializer(self.get_queryset().get(pk=lead.pk)).data)


@extend_schema(summary="Mark an accepted lead lost", request=LostSerializer,
               responses={200: LeadSerializer, **ERRORS}, tags=["leads"])
class LeadLostView(_LeadActionBase):
    serializer_class = LostSerializer

    def post(self, request, *args, **kwargs):
        lead = self.get_object()
        serializer = LostSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lead = services.lead_mark_lost(lead=lead, actor=self.actor, **serializer.validated_data)
        return Response(LeadSerializer(self.get_queryset().get(pk=lead.pk)).data)


@extend_schema(summary="Unlink a false duplicate", request=None,
               responses={200: LeadSerializer, **ERRORS}, tags=["leads"])
class LeadUnlinkDuplicateView(_LeadActionBase):
    serializer_class = LeadSerializer

    def post(self, request, *args, **kwargs):
        lead = services.lead_duplicate_unlink(lead=self.get_object(), actor=self.actor)
        return Response(LeadSerializer(self.get_queryset().get(pk=lead.pk)).data)


@extend_schema(summary="The vendor's custom lead fields",
               responses={200: CustomFieldSerializer(many=True), **READ_ERRORS},
               tags=["configuration"])
class CustomFieldListView(TenantAPIView):
    model = CustomField
    serializer_class = CustomFieldSerializer
    pagination_class = None

    def get(self, request, *args, **kwargs):
        return Response(CustomFieldSerializer(self.get_queryset(), many=True).data)


@extend_schema(summary="The vendor's pipeline stages",
               responses={200: PipelineStageSerializer(many=True), **READ_ERRORS},
               tags=["configuration"])
class PipelineStageListView(TenantAPIView):
    model = PipelineStage
    serializer_class = PipelineStageSerializer
    pagination_class = None

    def get(self, request, *args, **kwargs):
        return Response(PipelineStageSerializer(self.get_queryset(), many=True).data)

