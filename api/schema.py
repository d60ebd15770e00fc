"""OpenAPI post-processing: the schema states what the API enforces."""


def refuse_additional_properties(result, generator, request, public):
    """Request bodies refuse unknown fields (the serializers do), so say so in the schema."""
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema.setdefault("additionalProperties", False)
    return result
