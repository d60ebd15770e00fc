from celery import shared_task

from escalation.services import heartbeat_record


@shared_task(bind=True, ignore_result=True)
def heartbeat(self) -> None:
    heartbeat_record(name="worker", hostname=self.request.hostname or "")


@shared_task(name="escalation.offers_escalate")
def offers_escalate_task() -> int:
    """One SLA sweep: the offers' steps that are due, then stalled accepted leads."""
    from escalation.sla import leads_follow_up, offers_escalate

    return offers_escalate() + leads_follow_up()
