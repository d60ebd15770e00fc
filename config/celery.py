import os

from celery import Celery

from config.schedule import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("leadshare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The one place the periodic schedule is defined (config/schedule.py); beat's
# DatabaseScheduler syncs it into django-celery-beat's tables when it starts.
app.conf.beat_schedule = BEAT_SCHEDULE
