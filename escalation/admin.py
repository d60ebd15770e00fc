from django.contrib import admin

from escalation.models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "beat_at", "worker_hostname", "count"]
    readonly_fields = ["name", "beat_at", "worker_hostname", "count"]
