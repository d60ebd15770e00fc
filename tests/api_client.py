"""The REST API test client: a vendor's key in `Authorization: Bearer`, JSON bodies."""

from django.test import Client


class ApiClient(Client):
    """Django's test client sending JSON by default, as a CRM does."""

    def __init__(self, secret: str | None = None, **defaults):
        if secret is not None:
            defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
        super().__init__(**defaults)

    def post(self, path, data=None, content_type="application/json", **extra):
        return super().post(path, data, content_type=content_type, **extra)

    def patch(self, path, data=None, content_type="application/json", **extra):
        return super().patch(path, data, content_type=content_type, **extra)
