"""Business-hours arithmetic: the issue's worked cases, daylight saving, a partner in another
time zone, holidays, and properties over generated instants and durations."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from escalation.calendars import WorkingTime, business_add, business_between

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOURS = datetime.timedelta(hours=1)


def berlin(*args):
    return datetime.datetime(*args, tzinfo=BERLIN)


def test_friday_afternoon_plus_four_business_hours_is_monday_noon_thirty():
    hours = WorkingTime(zone=BERLIN)
    assert business_add(berlin(2026, 11, 20, 16, 30), 4 * HOURS, hours) == berlin(
        2026, 11, 23, 12, 30)


def test_across_the_change_to_winter_time_the_window_still_counts_working_hours():
    # Clocks go back in the night of Saturday 2026-10-24 to Sunday 2026-10-25.
    hours = WorkingTime(zone=BERLIN)
    due = business_add(berlin(2026, 10, 23, 16, 30), 4 * HOURS, hours)
    assert due == berlin(2026, 10, 26, 12, 30)
    assert due.astimezone(BERLIN).utcoffset() == datetime.timedelta(hours=1)  # winter time
    assert business_between(berlin(2026, 10, 23, 16, 30), due, hours) == 4 * HOURS


def test_across_the_change_to_summer_time_too():
    hours = WorkingTime(zone=BERLIN)
    assert business_add(berlin(2026, 3, 27, 15, 0), 4 * HOURS, hours) == berlin(
        2026, 3, 30, 11, 0)


def test_a_us_partner_of_a_berlin_vendor_counts_its_own_hours():
    offered = berlin(2026, 11, 20, 16, 30)  # 10:30 in New York
    due = business_add(offered, 4 * HOURS, WorkingTime(zone=NEW_YORK))
    assert due == datetime.datetime(2026, 11, 20, 14, 30, tzinfo=NEW_YORK)


def test_holidays_and_non_working_days_do_not_count():
    hours = WorkingTime(zone=BERLIN, days=frozenset({0, 1, 2, 3}),  # no Fridays
                        holidays=frozenset({datetime.date(2026, 11, 23)}))
    assert business_add(berlin(2026, 11, 19, 16, 0), 2 * HOURS, hours) == berlin(
        2026, 11, 24, 10, 0)


def test_a_clock_started_at_night_starts_at_the_next_opening():
    hours = WorkingTime(zone=BERLIN, start=datetime.time(8), end=datetime.time(12))
    assert business_add(berlin(2026, 11, 24, 22, 0), 30 * datetime.timedelta(minutes=1),
                        hours) == berlin(2026, 11, 25, 8, 30)
    assert business_add(berlin(2026, 11, 24, 22, 0), datetime.timedelta(0), hours) == berlin(
        2026, 11, 25, 8, 0)


def test_bad_calendars_and_durations_are_refused():
    with pytest.raises(ValueError):
        WorkingTime(zone=BERLIN, days=frozenset())
    with pytest.raises(ValueError):
        WorkingTime(zone=BERLIN, start=datetime.time(17), end=datetime.time(9))
    with pytest.raises(ValueError):
        business_add(berlin(2026, 1, 1), -HOURS, WorkingTime(zone=BERLIN))


# --- properties --------------------------------------------------------------------------------

zones = st.sampled_from([BERLIN, NEW_YORK, ZoneInfo("Asia/Kolkata"), ZoneInfo("UTC")])
calendars = st.builds(
    lambda zone, days, start, length: WorkingTime(
        zone=zone, days=frozenset(days), start=datetime.time(start),
        end=datetime.time(min(23, start + length))),
    zones, st.sets(st.integers(0, 6), min_size=1), st.integers(0, 20), st.integers(1, 12))
instants = st.datetimes(min_value=datetime.datetime(2025, 1, 1),
                        max_value=datetime.datetime(2028, 12, 31),
                        timezones=st.just(datetime.UTC))
# Up to a working week of 60 hours: sparse calendars (one hour a week) stay within years.
durations = st.integers(0, 60 * 60).map(lambda m: datetime.timedelta(minutes=m))


@given(hours=calendars, start=instants, duration=durations)
def test_a_due_time_never_falls_outside_working_time(hours, start, duration):
    due = business_add(start, duration, hours)
    block = hours.block(due.astimezone(hours.zone).date())
    assert block is not None and block[0] <= due <= block[1]
    assert business_between(start, due, hours) == duration


@given(hours=calendars, start=instants, later=durations, duration=durations)
def test_adding_is_monotonic(hours, start, later, duration):
    assert business_add(start, duration, hours) <= business_add(start + later, duration, hours)


@given(hours=calendars, start=instants, first=durations, second=durations)
def test_adding_is_additive(hours, start, first, second):
    assert business_add(business_add(start, first, hours), second, hours) == business_add(
        start, first + second, hours)
