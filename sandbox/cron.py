"""Cron schedules as the CronJob controller reads them: five fields, names, steps, macros, time zones.

Why pure and tiny: a CronJob's next run is a question of dates only, and tests need it exact
(`*/5 * * * *`, `0 9 * * MON-FRI`, `@hourly`, `CRON_TZ=Europe/Paris 0 3 * * *`). Day-of-month and
day-of-week combine with OR when both are restricted, as in Vixie cron and robfig/cron.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
MONTHS = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_any: bool
    weekdays_any: bool
    zone: dt.tzinfo

    def matches(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(self.zone)
        if local.minute not in self.minutes or local.hour not in self.hours or local.month not in self.months:
            return False
        day_ok = local.day in self.days
        weekday_ok = (local.isoweekday() % 7) in self.weekdays
        if self.days_any or self.weekdays_any:
            return day_ok and weekday_ok
        return day_ok or weekday_ok

    def last_before(self, start: float, end: float, limit: int = 200_000) -> tuple[float | None, int]:
        """The latest scheduled time in (start, end] and how many were in that window."""
        moment = dt.datetime.fromtimestamp(start, dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        stop = dt.datetime.fromtimestamp(end, dt.UTC)
        last, count = None, 0
        for _ in range(limit):
            if moment > stop:
                break
            if self.matches(moment):
                last, count = moment.timestamp(), count + 1
            moment += dt.timedelta(minutes=1)
        return last, count

    def next_after(self, after: float, limit: int = 600_000) -> float | None:
        moment = dt.datetime.fromtimestamp(after, dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        for _ in range(limit):
            if self.matches(moment):
                return moment.timestamp()
            moment += dt.timedelta(minutes=1)
        return None


def _field(text: str, index: int) -> tuple[frozenset[int], bool]:
    low, high = RANGES[index]
    names = MONTHS if index == 3 else DAYS if index == 4 else {}
    values: set[int] = set()
    star = False
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"invalid step {step_text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
            star = star or step == 1
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if index == 4 and end == 7:
            end = 6
            values.add(0)
        if not (low <= start <= high and low <= end <= high + (1 if index == 4 else 0)) or start > end:
            raise CronError(f"value out of range in {text!r}")
        values.update(range(start, end + 1, step))
    return frozenset(v % 7 if index == 4 else v for v in values), star


def _value(text: str, names: dict[str, int]) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        raise CronError(f"invalid value {text!r}")
    return int(text)


def parse(schedule: str, time_zone: str | None = None) -> Schedule:
    text = schedule.strip()
    zone_name = time_zone
    if text.startswith(("CRON_TZ=", "TZ=")):
        prefix, _, text = text.partition(" ")
        zone_name = prefix.split("=", 1)[1]
    text = MACROS.get(text, text)
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {schedule}")
    try:
        zone: dt.tzinfo = ZoneInfo(zone_name) if zone_name else dt.UTC
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"unknown time zone {zone_name}") from exc
    parsed = [_field(f, i) for i, f in enumerate(fields)]
    return Schedule(parsed[0][0], parsed[1][0], parsed[2][0], parsed[3][0], parsed[4][0],
                    parsed[2][1], parsed[4][1], zone)
