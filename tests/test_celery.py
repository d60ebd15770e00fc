import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from config.celery import app
from config.schedule import BEAT_SCHEDULE
from escalation.models import Heartbeat
from escalation.services import heartbeat_age_seconds, heartbeat_record
from escalation.tasks import heartbeat


@pytest.mark.django_db
def test_schedule_is_synced_into_the_beat_tables(capsys):
    call_command("sync_schedule")
    call_command("sync_schedule")  # idempotent
    for name in BEAT_SCHEDULE:
        task = PeriodicTask.objects.get(name=name)
        assert task.enabled
        assert task.task == BEAT_SCHEDULE[name]["task"]
        # Each entry expires after about 1.5x its interval (STYLE.md).
        assert task.expire_seconds == pytest.approx(BEAT_SCHEDULE[name]["schedule"] * 1.5, abs=1)
    assert PeriodicTask.objects.filter(name__in=BEAT_SCHEDULE).count() == len(BEAT_SCHEDULE)


@pytest.mark.django_db
def test_heartbeat_counts_each_beat():
    heartbeat_record(hostname="w1")
    beat = heartbeat_record(hostname="w2")
    assert (beat.count, beat.worker_hostname) == (2, "w2")
    assert heartbeat_age_seconds() < 5


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_heartbeat_task():
    # An in-process worker on Redis database 15 (config/settings_test.py), so a running
    # `make run` never takes the suite's tasks.
    assert app.conf.broker_url.endswith("/15")
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        heartbeat.delay()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not Heartbeat.objects.filter(name="worker").exists():
            time.sleep(0.1)
    beat = Heartbeat.objects.get(name="worker")
    assert beat.count >= 1
    assert beat.worker_hostname


@pytest.mark.django_db
def test_healthz_reports_database_and_heartbeat(client):
    heartbeat_record(hostname="w1")
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["worker_heartbeat_age_s"] < 5
