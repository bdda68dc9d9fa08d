"""NCRONTAB schedules as the timer trigger reads them.

Six fields ``{second} {minute} {hour} {day} {month} {day-of-week}`` (five-field
expressions get second 0, as in NCrontab). Each field takes ``*``, numbers,
ranges ``a-b``, steps ``*/n``, ``a-b/n``, ``a/n`` and comma lists, in numbers
(names such as ``Jan`` or ``Mon`` are not supported: FaceGate does not use them);
day-of-week 0 or 7 is Sunday. As in
NCrontab, a time matches only when BOTH the day and the day-of-week fields
match (Vixie cron ORs them when both are restricted). A TimeSpan such as
``00:05:00`` is an interval schedule (App Service plans only, in Azure).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta


class ScheduleError(ValueError):
    """A schedule the host would refuse."""


def _number(text: str) -> int:
    if not text.isdigit():
        raise ScheduleError(f"{text!r} is not a number")
    return int(text)


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ScheduleError("empty list item")
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step_text and (not step_text.isdigit() or step < 1):
            raise ScheduleError(f"bad step in {part!r}")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            a, b = body.split("-", 1)
            start, end = _number(a), _number(b)
        else:
            start = _number(body)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ScheduleError(f"{part!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        fields = expression.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        if len(fields) != 6:
            raise ScheduleError(
                f"{expression!r} needs 6 fields (second minute hour day month weekday)"
            )
        weekdays = _field(fields[5], 0, 7)
        return cls(
            seconds=_field(fields[0], 0, 59),
            minutes=_field(fields[1], 0, 59),
            hours=_field(fields[2], 0, 23),
            days=_field(fields[3], 1, 31),
            months=_field(fields[4], 1, 12),
            weekdays=frozenset(d % 7 for d in weekdays),
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (same tzinfo)."""
        start = moment.replace(microsecond=0) + timedelta(seconds=1)
        day = start.date()
        times = sorted(itertools.product(self.hours, self.minutes, self.seconds))
        for _ in range(366 * 8):
            if (
                day.month in self.months
                and day.day in self.days
                and day.isoweekday() % 7 in self.weekdays
            ):
                floor = (
                    (start.hour, start.minute, start.second) if day == start.date() else (0, 0, 0)
                )
                for hour, minute, second in times:
                    if (hour, minute, second) >= floor:
                        return datetime(
                            day.year, day.month, day.day, hour, minute, second, tzinfo=moment.tzinfo
                        )
            day += timedelta(days=1)
        raise ScheduleError("the schedule never occurs")


@dataclass(frozen=True)
class IntervalSchedule:
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


def parse(expression: str) -> CronSchedule | IntervalSchedule:
    text = expression.strip()
    match = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})", text)
    if match:
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if interval <= timedelta(0):
            raise ScheduleError("an interval schedule must be positive")
        return IntervalSchedule(interval)
    return CronSchedule.parse(text)
