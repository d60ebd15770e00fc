"""Business-hours arithmetic: when does a duration of working time, started at some instant,
run out? Pure functions over plain data (no queries); escalation/services.py loads the
partner's calendar (its own, else the vendor's default) and time zone.

Working time is, in the calendar's time zone, the hours [start, end) of each working day that
is not a holiday. Arithmetic runs in UTC within each working block, so a daylight-saving
change (which happens at night) never shifts a due time: a 4-hour window that opens on the
Friday before the change and closes on the Monday after still counts 4 working hours.
"""

import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

# Give up after this many days without a single working minute (a calendar whose every day
# is a holiday): better an error than a loop.
MAX_DAYS_AHEAD = 3660


@dataclass(frozen=True)
class WorkingTime:
    zone: ZoneInfo
    days: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday is 0
    start: datetime.time = datetime.time(9)
    end: datetime.time = datetime.time(17)
    holidays: frozenset[datetime.date] = field(default_factory=frozenset)

    def __post_init__(self):
        if not self.days:
            raise ValueError("a calendar needs at least one working day")
        if self.end <= self.start:
            raise ValueError("working hours must end after they start")

    def block(self, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime] | None:
        """The working block of a local day, as aware datetimes, or None on a day off."""
        if day.weekday() not in self.days or day in self.holidays:
            return None
        return (datetime.datetime.combine(day, self.start, tzinfo=self.zone),
                datetime.datetime.combine(day, self.end, tzinfo=self.zone))


UTC = datetime.UTC


def business_add(start: datetime.datetime, duration: datetime.timedelta,
                 hours: WorkingTime) -> datetime.datetime:
    """The instant when `duration` of working time, counted from `start`, has passed.

    Time outside working hours does not count; a clock started outside them starts at the
    next opening. The answer always lies inside a working block (its end included).
    """
    if duration < datetime.timedelta(0):
        raise ValueError("duration must not be negative")
    remaining = duration
    cursor = start.astimezone(UTC)
    day = start.astimezone(hours.zone).date()
    for _ in range(MAX_DAYS_AHEAD):
        block = hours.block(day)
        if block is not None:
            opens, closes = (moment.astimezone(UTC) for moment in block)
            begin = max(cursor, opens)
            if begin < closes or (begin == closes and not remaining):
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += datetime.timedelta(days=1)
        cursor = max(cursor, datetime.datetime.combine(day, datetime.time(0),
                                                       tzinfo=hours.zone).astimezone(UTC))
    raise ValueError("no working time in the next ten years")


def business_between(start: datetime.datetime, end: datetime.datetime,
                     hours: WorkingTime) -> datetime.timedelta:
    """Working time between two instants (zero if end is not after start)."""
    total = datetime.timedelta(0)
    if end <= start:
        return total
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    day = start.astimezone(hours.zone).date()
    last = end.astimezone(hours.zone).date()
    while day <= last:
        block = hours.block(day)
        if block is not None:
            opens, closes = (moment.astimezone(UTC) for moment in block)
            begin, finish = max(opens, start_utc), min(closes, end_utc)
            if finish > begin:
                total += finish - begin
        day += datetime.timedelta(days=1)
    return total
