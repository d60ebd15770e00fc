from celery import shared_task

from api.services import idempotency_purge


@shared_task(name="api.idempotency_purge")
def idempotency_purge_task() -> int:
    return idempotency_purge()
