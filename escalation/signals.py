"""SLA policies, their steps and business calendars are compiled per process and
configuration version (escalation/sla.py): any change bumps the version."""

from django.db.models.signals import post_delete, post_save

from escalation.models import BusinessCalendar, SlaPolicy, SlaStep
from tenancy.services import tenant_config_bump


def sla_input_changed(sender, instance, **kwargs):
    tenant_config_bump(tenant_id=instance.tenant_id)


for model in (BusinessCalendar, SlaPolicy, SlaStep):
    post_save.connect(sla_input_changed, sender=model,
                      dispatch_uid=f"sla_input_saved_{model.__name__}")
    post_delete.connect(sla_input_changed, sender=model,
                        dispatch_uid=f"sla_input_deleted_{model.__name__}")
