"""Routing over the REST API, for the vendor's CRM and scripts: read why a lead went where it
went, send it to a partner by hand, route an unassigned lead again, and decide
pre-qualification and registration conflicts. Views validate, call one service, render."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from api.serializers import StrictSerializer
from leads.api import ERRORS, READ_ERRORS, LeadSerializer, _LeadActionBase
from partners.models import Partner
from routing import services
from routing.models import DecisionKind
from routing.selectors import decision_explain, decision_why


class DecisionSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DecisionKind.choices)
    rule = serializers.CharField(allow_null=True, help_text="The rule that decided, if any.")
    partner = serializers.CharField(allow_null=True, help_text="The partner chosen, if one.")
    why = serializers.CharField(help_text="The one line the chosen partner reads.")
    explanation = serializers.ListField(child=serializers.CharField(),
                                        help_text="The whole trace in words.")
    trace = serializers.DictField(help_text="The compact trace as stored (partner and rule "
                                            "ids are internal).")
    created_at = serializers.DateTimeField()


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class ReassignSerializer(StrictSerializer):
    partner = serializers.UUIDField(help_text="The partner's id.")
    reason = serializers.CharField(max_length=500)


def _lead_response(view, lead):
    return Response(LeadSerializer(view.get_queryset().get(pk=lead.pk)).data)


@extend_schema(summary="Read a lead's routing decisions, newest first",
               responses={200: DecisionSerializer(many=True), **READ_ERRORS}, tags=["routing"])
class LeadDecisionListView(_LeadActionBase):
    serializer_class = DecisionSerializer
    pagination_class = None  # a lead has a handful of decisions; the newest 50 are shown

    def get(self, request, *args, **kwargs):
        lead = self.get_object()
        decisions = lead.decisions.select_related("rule", "partner").order_by("-created_at",
                                                                              "-id")[:50]
        return Response([
            {"kind": d.kind, "rule": d.rule.name if d.rule else None,
             "partner": d.partner.name if d.partner else None,
             "why": decision_why(decision=d) if d.partner_id else "",
             "explanation": decision_explain(decision=d)["lines"], "trace": d.trace,
             "created_at": d.created_at}
            for d in decisions
        ])


@extend_schema(summary="Reassign a lead to a partner by hand", request=ReassignSerializer,
               responses={200: LeadSerializer, **ERRORS}, tags=["routing"],
               description="Overrides the rules: open or accepted offers close as "
                           "`reassigned` and the partner gets a new offer. The reason goes "
                           "into the decision trace and the audit log.",
               examples=[OpenApiExample("Reassign", request_only=True, value={
                   "partner": "0b7c6f2e-2f0d-4c7a-9d1e-6f5a4b3c2d1e",
                   "reason": "The customer asked for this partner."})])
class LeadReassignView(_LeadActionBase):
    serializer_class = ReassignSerializer

    def post(self, request, *args, **kwargs):
        lead = self.get_object()
        serializer = ReassignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        partner = Partner.objects.for_tenant(self.tenant).filter(
            public_id=serializer.validated_data["partner"]).first()
        if partner is None:
            raise serializers.ValidationError({"partner": ["No partner with this id."]})
        lead = services.lead_reassign(lead=lead, partner=partner, actor=self.actor,
                                      reason=serializer.validated_data["reason"])
        return _lead_response(self, lead)


@extend_schema(summary="Route an unassigned lead again", request=None,
               responses={200: LeadSerializer, **ERRORS}, tags=["routing"],
               description="Runs the live rules once more, e.g. after partners were added.")
class LeadRouteView(_LeadActionBase):
    def post(self, request, *args, **kwargs):
        lead = services.lead_route(lead=self.get_object(), actor=self.actor)
        return _lead_response(self, lead)


@extend_schema(summary="Release a pre-qualified lead into routing", request=None,
               responses={200: LeadSerializer, **ERRORS}, tags=["routing"])
class LeadReviewReleaseView(_LeadActionBase):
    def post(self, request, *args, **kwargs):
        lead = services.lead_review_release(lead=self.get_object(), actor=self.actor)
        return _lead_response(self, lead)


@extend_schema(summary="Reject a lead in review or in a registration conflict",
               request=ReasonSerializer, responses={200: LeadSerializer, **ERRORS},
               tags=["routing"])
class LeadRejectView(_LeadActionBase):
    serializer_class = ReasonSerializer

    def post(self, request, *args, **kwargs):
        lead = self.get_object()
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lead = services.lead_reject(lead=lead, actor=self.actor,
                                    reason=serializer.validated_data["reason"])
        return _lead_response(self, lead)


@extend_schema(summary="Decide a registration conflict for the registering partner",
               request=None, responses={200: LeadSerializer, **ERRORS}, tags=["routing"])
class LeadConflictResolveView(_LeadActionBase):
    def post(self, request, *args, **kwargs):
        lead = services.lead_conflict_resolve(lead=self.get_object(), actor=self.actor)
        return _lead_response(self, lead)
