from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "escalation"

    def ready(self):
        from escalation import signals  # noqa: F401 - registers the receivers
