from django.core.management.base import BaseCommand
from django_celery_beat.schedulers import ModelEntry

from config.celery import app
from config.schedule import BEAT_SCHEDULE


class Command(BaseCommand):
    help = "Sync the periodic schedule of config/schedule.py into django-celery-beat's tables."

    def handle(self, *args, **options):
        # The same per-entry upsert beat's DatabaseScheduler runs at start-up, without
        # starting a scheduler (which manages its own database connections).
        for name, entry in BEAT_SCHEDULE.items():
            ModelEntry.from_entry(name, app=app, **entry)
        self.stdout.write(f"Synced {len(BEAT_SCHEDULE)} periodic task(s): "
                          f"{', '.join(sorted(BEAT_SCHEDULE))}")
