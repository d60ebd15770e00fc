"""Reads of leads the portal shares: which leads a member may see, and the lead page's parts."""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from leads.models import (
    ActivityKind,
    CustomFieldKind,
    Lead,
    LeadEvent,
    LeadEventKind,
    LeadStatus,
    PipelineStage,
    SourceKind,
)
from leads.services import custom_fields_for
from routing.models import Offer, OfferStatus
from tenancy.models import Membership, Tenant
from tenancy.roles import Perm, role_has_perm

# The lead page shows this many of the newest events and activities.
TIMELINE_LIMIT = 100


def leads_visible_to(*, membership: Membership) -> QuerySet[Lead]:
    """Vendor roles see every lead of the vendor; partner roles the leads their partner holds
    now or has an open offer for (a lead that moved on is gone from their view)."""
    leads = Lead.objects.for_tenant(membership.tenant)
    if role_has_perm(membership.role, Perm.VIEW_ALL_LEADS):
        return leads
    if membership.partner_id is None:
        return leads.none()
    offered = Offer.objects.filter(tenant_id=membership.tenant_id,
                                   partner_id=membership.partner_id,
                                   status=OfferStatus.OPEN).values("lead_id")
    return leads.filter(Q(partner_id=membership.partner_id) | Q(pk__in=offered))


def lead_contact_hidden(*, lead: Lead, membership: Membership) -> bool:
    """Before accepting, a partner sees the inquiry but not who made it."""
    return (not role_has_perm(membership.role, Perm.VIEW_ALL_LEADS)
            and lead.partner_id != membership.partner_id)


@dataclass(frozen=True)
class CustomFieldValue:
    label: str
    value: Any
    kind: str = CustomFieldKind.TEXT


def lead_custom_field_values(*, tenant: Tenant, lead: Lead) -> list[CustomFieldValue]:
    """The lead's custom values under the vendor's labels, in the vendor's order; a value
    whose field was deleted since keeps its key as label rather than disappearing."""
    definitions = custom_fields_for(tenant=tenant)
    values = lead.custom_fields or {}
    rows = []
    for key, definition in definitions.items():
        if key not in values or values[key] in (None, ""):
            continue
        value = values[key]
        if definition.kind == CustomFieldKind.DATE and isinstance(value, str):
            try:
                value = datetime.date.fromisoformat(value)
            except ValueError:
                pass
        rows.append(CustomFieldValue(definition.label, value, definition.kind))
    for key, value in values.items():
        if key not in definitions and value not in (None, ""):
            rows.append(CustomFieldValue(key, value))
    return rows


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime.datetime
    kind: str
    label: str
    actor_label: str
    from_status: str = ""
    to_status: str = ""
    details: list[str] = field(default_factory=list)


def _choice_label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _field_label(name: str) -> str:
    if name == "account":
        return _("account")
    try:
        return str(Lead._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:  # renamed since the event was written
        return name


def _event_details(event: LeadEvent, stages: dict[str, str]) -> list[str]:
    data = event.data or {}
    if event.kind == LeadEventKind.CREATED:
        details = [_("Source: %(source)s") % {
            "source": _choice_label(SourceKind, data.get("source", ""))}]
        if data.get("duplicate_of"):
            details.append(_("Flagged as a duplicate of an earlier lead."))
        if data.get("held"):
            details.append(_("Held: no recorded consent."))
        return details
    if event.kind == LeadEventKind.UPDATED:
        changed = ", ".join(_field_label(name) for name in (data.get("changes") or {}))
        return [_("Changed: %(fields)s") % {"fields": changed}] if changed else []
    if event.kind == LeadEventKind.STAGE_CHANGED:
        before = data.get("from_stage")
        after = data.get("to_stage")
        return [f"{stages.get(before, before) if before else '–'} → "
                f"{stages.get(after, after) if after else '–'}"]
    if event.kind == LeadEventKind.ACTIVITY_LOGGED and data.get("kind"):
        return [_choice_label(ActivityKind, data["kind"])]
    if event.kind == LeadEventKind.WON:
        details = []
        if data.get("order_value"):
            details.append(_("Order value: %(value)s") % {"value": data["order_value"]})
        if data.get("closed_on"):
            details.append(_("Close date: %(date)s") % {"date": data["closed_on"]})
        return details
    if event.kind == LeadEventKind.LOST and data.get("reason"):
        return [_("Reason: %(reason)s") % {"reason": data["reason"]}]
    return []


def lead_timeline(*, lead: Lead) -> list[TimelineEntry]:
    """The lead's history from its events, newest first, with the statuses and changes in
    the reader's language."""
    events = list(lead.events.order_by("-id")[:TIMELINE_LIMIT])
    stages = dict(
        PipelineStage.objects.filter(tenant_id=lead.tenant_id).values_list("key", "name")
    ) if any(e.kind == LeadEventKind.STAGE_CHANGED for e in events) else {}
    return [
        TimelineEntry(
            at=event.created_at,
            kind=event.kind,
            label=_choice_label(LeadEventKind, event.kind),
            actor_label=event.actor_label,
            from_status=_choice_label(LeadStatus, event.from_status)
            if event.from_status and event.from_status != event.to_status else "",
            to_status=_choice_label(LeadStatus, event.to_status)
            if event.to_status and event.from_status != event.to_status else "",
            details=_event_details(event, stages),
        )
        for event in events
    ]
