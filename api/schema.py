"""OpenAPI post-processing: the schema states what the API enforces."""

from drf_spectacular.openapi import AutoSchema


def refuse_additional_properties(result, generator, request, public):
    """Request bodies refuse unknown fields (the serializers do), so say so in the schema."""
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema.setdefault("additionalProperties", False)
    return result


class ListAwareAutoSchema(AutoSchema):
    """Finds a list view by its success response, so its filters, cursor and page size are
    documented.

    drf-spectacular takes the response with the smallest status code *as a string* for the
    main one; the problem+json responses are keyed `(code, media type)`, whose strings start
    with "(" and sort before "200", so a list view looked like an error and lost its query
    parameters. Set as `schema = ListAwareAutoSchema()` on a list view.
    """

    def _is_list_view(self, serializer=None):
        if serializer is None:
            responses = self.get_response_serializers()
            if isinstance(responses, dict):
                success = [code for code in responses if str(code).startswith("2")]
                if success:
                    serializer = responses[min(success, key=str)]
        return super()._is_list_view(serializer)
