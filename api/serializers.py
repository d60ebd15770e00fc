"""Serializer bases shared by the apps' API modules."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, and read-only ones, instead of silently dropping them:
    a typo in a CRM mapping then fails loudly on the first request."""

    default_error_messages = {"unknown_field": _("Unknown field.")}

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = [key for key in data if key not in writable]
            if unknown:
                raise serializers.ValidationError(
                    {key: [self.error_messages["unknown_field"]] for key in unknown},
                    code="unknown_field",
                )
        return super().to_internal_value(data)


class ProblemFieldErrorSerializer(serializers.Serializer):
    pointer = serializers.CharField(help_text="JSON pointer to the offending value.")
    code = serializers.CharField()
    detail = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every error of this API is answered."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()
    errors = ProblemFieldErrorSerializer(many=True, required=False)
