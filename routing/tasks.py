"""Thin tasks: each calls one service that handles one batch and says how much it did."""

from celery import shared_task

from routing.services import leads_route_pending


@shared_task(name="routing.leads_route")
def leads_route_task(lead_ids: list[int]) -> int:
    """Route the leads of a bulk create right after it committed."""
    return leads_route_pending(lead_ids=lead_ids)


@shared_task(name="routing.leads_route_pending")
def leads_route_pending_task() -> int:
    """The guarantee: leads still waiting in `received` after the grace period."""
    return leads_route_pending()
