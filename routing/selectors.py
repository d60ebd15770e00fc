"""Reads of routing shared by the API, the portal and the admin: a lead's current offers, and
decision traces in words (in full for managers, one line of "why you" for a partner)."""

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from partners.models import Partner
from routing import engine
from routing.models import Decision, DecisionKind, Offer, OfferStatus, RoutingRule

CURRENT_OFFER_STATUSES = (OfferStatus.OPEN, OfferStatus.ACCEPTED)


def current_offers() -> Prefetch:
    """Prefetch a lead's open or accepted offers as `lead.current_offers`."""
    return Prefetch(
        "offers",
        queryset=Offer.objects.filter(status__in=CURRENT_OFFER_STATUSES)
        .select_related("partner").order_by("offered_at", "id"),
        to_attr="current_offers",
    )


def lead_current_offers(*, lead) -> list[Offer]:
    return list(Offer.objects.filter(lead=lead, status__in=CURRENT_OFFER_STATUSES)
                .select_related("partner").order_by("offered_at", "id"))


SKIP_LABELS = {
    engine.SKIP_INACTIVE: gettext_lazy("inactive"),
    engine.SKIP_PAUSED: gettext_lazy("paused"),
    engine.SKIP_AWAY: gettext_lazy("out of office"),
    engine.SKIP_PASSED: gettext_lazy("already declined, let expire or released this lead"),
    engine.SKIP_CAPACITY: gettext_lazy("at capacity"),
    engine.SKIP_SHARE_CAP: gettext_lazy("over its share cap"),
    engine.SKIP_UNKNOWN: gettext_lazy("no longer exists"),
}


STATIC_LABELS = {
    "tags": gettext_lazy("required tags"),
    "tier": gettext_lazy("minimum tier"),
    "inactive": gettext_lazy("inactive"),
    "paused": gettext_lazy("paused"),
}


def _skip_label(reason: str) -> str:
    label = SKIP_LABELS.get(reason, reason)
    return str(label)


def decision_explain(*, decision: Decision) -> dict:
    """The whole trace with names and reasons in the reader's language, for managers."""
    trace = decision.trace or {}
    partner_ids = {p for pair in trace.get("skipped", []) for p in pair[:1]}
    partner_ids |= set(trace.get("chosen", []))
    if trace.get("account"):
        partner_ids.add(trace["account"][0])
    if isinstance(trace.get("named"), int):
        partner_ids.add(trace["named"])
    names = dict(Partner.objects.filter(pk__in=partner_ids).values_list("pk", "name"))
    rule_ids = [pair[0] for pair in trace.get("rules", [])]
    rules = dict(RoutingRule.objects.filter(pk__in=rule_ids).values_list("pk", "name"))
    lines = []
    if trace.get("manual"):
        manual = trace["manual"]
        lines.append(_("Reassigned by hand by %(by)s: %(reason)s")
                     % {"by": manual.get("by"), "reason": manual.get("reason")})
    if trace.get("account"):
        owner, why, outcome = trace["account"]
        lines.append(
            (_("The customer's account is protected for %(partner)s.") if why == "protected"
             else _("A duplicate of a lead whose account %(partner)s holds."))
            % {"partner": names.get(owner, owner)}
            + ("" if outcome == "chosen" else " " + _("Skipped: %(reason)s.")
               % {"reason": _skip_label(outcome)}))
    for rule_id, result in trace.get("rules", []):
        name = rules.get(rule_id, f"#{rule_id}")
        lines.append(_("Rule “%(rule)s” matched.") % {"rule": name} if result == "match"
                     else _("Rule “%(rule)s” did not match (%(field)s).")
                     % {"rule": name, "field": result})
    if trace.get("static"):
        lines.append(_("Ruled out by the rule's requirements: %(list)s.") % {"list": ", ".join(
            f"{STATIC_LABELS.get(reason, reason)}: {n}" for reason, n in trace["static"].items())})
    for partner_id, reason in trace.get("skipped", []):
        lines.append(_("Skipped %(partner)s: %(reason)s.")
                     % {"partner": names.get(partner_id, partner_id),
                        "reason": _skip_label(reason)})
    chosen = [names.get(p, p) for p in trace.get("chosen", [])]
    if chosen:
        lines.append(_("Chosen: %(partners)s.") % {"partners": ", ".join(map(str, chosen))})
    elif decision.kind == DecisionKind.REVIEW:
        lines.append(_("Waiting for pre-qualification by a manager."))
    elif decision.kind == DecisionKind.UNASSIGNED:
        lines.append(_("No eligible partner: the lead waits in the unassigned queue."))
    return {"kind": decision.kind, "lines": lines, "trace": trace,
            "created_at": decision.created_at}


def decision_why(*, decision: Decision) -> str:
    """One line for the chosen partner: why the lead came to them (no other partner named)."""
    trace = decision.trace or {}
    if decision.kind == DecisionKind.MANUAL:
        return _("A channel manager chose you for this lead.")
    if decision.kind == DecisionKind.ACCOUNT:
        return (_("You protect this customer's account.") if trace["account"][1] == "protected"
                else _("You already work with this customer."))
    if decision.kind == DecisionKind.REGISTERED:
        return _("You registered this lead.")
    if decision.kind == DecisionKind.FALLBACK:
        return _("No regular partner was available; you are in the fallback pool.")
    strategy = trace.get("strategy")
    eligible = trace.get("eligible", trace.get("qualifying", 1))
    if strategy == "named_accounts":
        return _("You are the named partner for this customer.")
    if strategy == "open_pool":
        return ngettext("Offered to you alone: the first to accept gets it.",
                        "Offered to %(n)d partners at once: the first to accept gets it.",
                        eligible) % {"n": eligible}
    rule = decision.rule.name if decision.rule_id and decision.rule else ""
    if strategy == "round_robin":
        text = ngettext(
            "It matches “%(rule)s”, and it was your turn in the rotation (you are the only "
            "partner that qualifies).",
            "It matches “%(rule)s”, and it was your turn in the rotation of %(n)d partners "
            "that qualify.", eligible)
    elif strategy == "performance":
        text = ngettext(
            "It matches “%(rule)s”, and your performance earned it (you were the only "
            "eligible partner).",
            "It matches “%(rule)s”, and your performance earned it among %(n)d eligible "
            "partners.", eligible)
    else:
        text = ngettext(
            "It matches “%(rule)s”, and it was your weighted turn (you were the only eligible "
            "partner).",
            "It matches “%(rule)s”, and it was your weighted turn among %(n)d eligible "
            "partners.", eligible)
    return text % {"rule": rule, "n": eligible}


def lead_routing_for(*, lead, membership) -> dict | None:
    """What the lead page shows about routing: for vendor roles the newest decision in words
    and the current offers; for a partner the one line of why the lead came to it."""
    from tenancy.roles import Perm, role_has_perm

    if role_has_perm(membership.role, Perm.VIEW_ALL_LEADS):
        decision = lead.decisions.select_related("rule").order_by("-created_at", "-id").first()
        if decision is None:
            return None
        return {"lines": decision_explain(decision=decision)["lines"],
                "offers": lead_current_offers(lead=lead)}
    offer = (Offer.objects.filter(lead=lead, partner_id=membership.partner_id,
                                  status__in=CURRENT_OFFER_STATUSES)
             .select_related("decision__rule").order_by("-offered_at").first())
    if offer is None or offer.decision is None:
        return None
    return {"why": decision_why(decision=offer.decision), "offer": offer}
