"""Every write of the partners app. The vendor's CRM keeps its partner list in sync through
these (API), and channel managers through the portal and the admin. Each writes an audit entry.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import Partner, PartnerTag, Tag, Tier
from tenancy.actors import Actor
from tenancy.errors import DomainError
from tenancy.models import Tenant
from tenancy.services import audit_record, tenant_config_bump

PARTNER_INPUT_FIELDS = (
    "name", "external_id", "tier", "capacity", "routing_weight", "is_active", "paused",
    "paused_reason", "contact_email", "time_zone",
)


class PartnerConflict(DomainError):
    code = "conflict"


def _summary(partner: Partner, tags: list[str] | None = None) -> dict:
    summary = {
        "name": partner.name, "external_id": partner.external_id,
        "tier": partner.tier.name if partner.tier_id else None, "capacity": partner.capacity,
        "routing_weight": partner.routing_weight, "is_active": partner.is_active,
        "paused": partner.paused, "contact_email": partner.contact_email,
        "time_zone": partner.time_zone,
    }
    if tags is not None:
        summary["tags"] = tags
    return summary


def _tags_of(partner: Partner) -> list[str]:
    return sorted(str(tag) for tag in partner.tags.all())


def tags_get_or_create(*, tenant: Tenant, labels: list[str]) -> list[Tag]:
    """The tenant's tags for `key:value` labels, creating the new ones."""
    pairs = sorted({Tag.parse(label) for label in labels})
    tags = []
    for key, value in pairs:
        tag, _created = Tag.objects.get_or_create(tenant=tenant, key=key, value=value)
        tags.append(tag)
    return tags


def _external_id_taken(external_id: str) -> PartnerConflict:
    return PartnerConflict(
        _("A partner with external id “%(id)s” exists already.") % {"id": external_id},
        code="external_id_taken",
    )


def _tier_check(tenant: Tenant, tier: Tier | None) -> None:
    if tier is not None and tier.tenant_id != tenant.pk:
        raise DomainError(_("This tier belongs to another vendor."))


def partner_create(
    *, tenant: Tenant, fields: dict, tags: list[str] | None, actor: Actor
) -> Partner:
    _tier_check(tenant, fields.get("tier"))
    partner = Partner(tenant=tenant, **{k: v for k, v in fields.items()
                                        if k in PARTNER_INPUT_FIELDS})
    partner.external_id = partner.external_id or None
    try:
        with transaction.atomic():
            partner.save(force_insert=True)
            if tags:
                partner_tags_set(partner=partner, labels=tags, actor=actor, audit=False)
            audit_record(tenant=tenant, actor=actor.user, actor_label=actor.label,
                         action="partner.create", target=partner,
                         after=_summary(partner, tags=sorted(tags or [])))
    except IntegrityError as error:
        if partner.external_id and "external_id" in str(error):
            raise _external_id_taken(partner.external_id) from None
        raise
    return partner


def partner_update(
    *, partner: Partner, changes: dict, tags: list[str] | None, actor: Actor
) -> Partner:
    """Change fields and, when `tags` is given, replace the partner's tags with it."""
    _tier_check(partner.tenant, changes.get("tier"))
    try:
        with transaction.atomic():
            current = Partner.objects.select_for_update(of=("self",)).get(pk=partner.pk)
            before = _summary(current, tags=_tags_of(current) if tags is not None else None)
            for field in PARTNER_INPUT_FIELDS:
                if field in changes:
                    value = changes[field]
                    if field == "external_id":
                        value = value or None
                    setattr(current, field, value)
            current.save()
            if tags is not None:
                partner_tags_set(partner=current, labels=tags, actor=actor, audit=False)
            after = _summary(current, tags=_tags_of(current) if tags is not None else None)
            if after != before:
                audit_record(tenant=current.tenant, actor=actor.user, actor_label=actor.label,
                             action="partner.update", target=current,
                             before={k: v for k, v in before.items() if after.get(k) != v},
                             after={k: v for k, v in after.items() if before.get(k) != v})
    except IntegrityError as error:
        if "external_id" in str(error):
            raise _external_id_taken(changes.get("external_id")) from None
        raise
    return current


def partner_tags_set(*, partner: Partner, labels: list[str], actor: Actor,
                     audit: bool = True) -> list[Tag]:
    """Make the partner's tags exactly `labels` (`key:value`), creating unknown tags."""
    with transaction.atomic():
        before = _tags_of(partner)
        tags = tags_get_or_create(tenant=partner.tenant, labels=labels)
        PartnerTag.objects.filter(partner=partner).exclude(tag__in=tags).delete()
        have = set(PartnerTag.objects.filter(partner=partner).values_list("tag_id", flat=True))
        PartnerTag.objects.bulk_create(
            [PartnerTag(tenant_id=partner.tenant_id, partner=partner, tag=tag)
             for tag in tags if tag.pk not in have]
        )
        # bulk_create sends no signal: say so, routing reads tags.
        tenant_config_bump(tenant_id=partner.tenant_id)
        after = sorted(str(tag) for tag in tags)
        if audit and before != after:
            audit_record(tenant=partner.tenant, actor=actor.user, actor_label=actor.label,
                         action="partner.tags", target=partner,
                         before={"tags": before}, after={"tags": after})
    return tags


def partner_deactivate(*, partner: Partner, actor: Actor) -> Partner:
    """The partner leaves the channel: it gets no new leads. Its history stays."""
    with transaction.atomic():
        current = Partner.objects.select_for_update(of=("self",)).get(pk=partner.pk)
        if not current.is_active:
            return current
        current.is_active = False
        current.updated_at = timezone.now()
        current.save(update_fields=["is_active", "updated_at"])
        audit_record(tenant=current.tenant, actor=actor.user, actor_label=actor.label,
                     action="partner.deactivate", target=current,
                     before={"is_active": True}, after={"is_active": False})
    return current
