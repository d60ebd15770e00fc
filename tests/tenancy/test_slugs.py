import pytest
from django.core.exceptions import ValidationError
from django.urls import URLResolver, get_resolver

from tenancy.models import RESERVED_SLUGS, Tenant


def _top_level_segments():
    segments = set()
    for pattern in get_resolver().url_patterns:
        route = str(pattern.pattern).lstrip("^")
        first = route.split("/", 1)[0]
        if first and not first.startswith("<"):
            segments.add(first)
        if isinstance(pattern, URLResolver) and not first:
            continue
    return segments


def test_every_top_level_route_is_a_reserved_slug():
    missing = _top_level_segments() - RESERVED_SLUGS
    assert not missing, f"add to tenancy.models.RESERVED_SLUGS: {sorted(missing)}"


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["admin", "api", "accounts", "static", "healthz", "Admin"])
def test_reserved_slugs_are_refused(slug):
    with pytest.raises(ValidationError):
        Tenant(name="X", slug=slug).full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["-acme", "acme-", "ACME", "a_b", "x" * 51, ""])
def test_malformed_slugs_are_refused(slug):
    with pytest.raises(ValidationError):
        Tenant(name="X", slug=slug).full_clean()
