"""Schedule expressions: `rate(...)`, `cron(...)` (AWS's six-field form) and `at(...)`, and when each fires.

EventBridge rules take rate and cron expressions in UTC:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
EventBridge Scheduler adds one-time `at(yyyy-mm-ddThh:mm:ss)` schedules and a time zone for cron and at:
https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html

- rate(VALUE UNIT): VALUE a positive whole number, UNIT minute|minutes|hour|hours|day|days, singular for 1
  and plural otherwise, nothing else in the parentheses (no extra blanks).
- cron(MINUTES HOURS DAY-OF-MONTH MONTH DAY-OF-WEEK YEAR): `,` lists, `-` ranges, `*` all, `/` steps;
  `?` in exactly one of day-of-month and day-of-week; `L` (last day of the month; `5L`, the last Thursday,
  in day-of-week), `W` (the weekday nearest a day of the month, `LW` the last weekday), `#` (`3#2`, the
  second Tuesday); months JAN-DEC and days SUN-SAT by name, day-of-week 1 (Sunday) to 7 (Saturday).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

_RATE = re.compile(r"rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name: i for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
_DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
_AT = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")
_SEARCH_YEARS = 200  # how far ahead a cron expression is searched for its next time


class ExpressionError(ValueError):
    """The expression is not one AWS accepts."""


@dataclass(frozen=True)
class Rate:
    seconds: int


@dataclass(frozen=True)
class At:
    when: dt.datetime  # naive, in the schedule's time zone


@dataclass(frozen=True)
class DaysOfMonth:
    days: frozenset[int] = frozenset()
    last: bool = False  # L
    last_weekday: bool = False  # LW
    nearest_weekday: frozenset[int] = frozenset()  # 15W

    def holds(self, day: dt.date) -> bool:
        length = calendar.monthrange(day.year, day.month)[1]
        if day.day in self.days or (self.last and day.day == length):
            return True
        if self.last_weekday and day == _nearest_weekday(day.replace(day=length), length):
            return True
        return any(day == _nearest_weekday(day.replace(day=min(n, length)), length) for n in self.nearest_weekday)


@dataclass(frozen=True)
class DaysOfWeek:
    days: frozenset[int] = frozenset()  # 1 = Sunday ... 7 = Saturday
    last_of: frozenset[int] = frozenset()  # 5L: the month's last Thursday
    nth: frozenset[tuple[int, int]] = frozenset()  # 3#2: (Tuesday, second)

    def holds(self, day: dt.date) -> bool:
        weekday = day.isoweekday() % 7 + 1
        if weekday in self.days:
            return True
        length = calendar.monthrange(day.year, day.month)[1]
        if weekday in self.last_of and day.day + 7 > length:
            return True
        return (weekday, (day.day - 1) // 7 + 1) in self.nth


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int] | None  # None: every year
    days_of_month: DaysOfMonth | None = None  # None: `?` (the day of the week decides)
    days_of_week: DaysOfWeek | None = None  # None: `?`
    text: str = field(default="", compare=False)

    def day_holds(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        if self.days_of_month is not None:
            return self.days_of_month.holds(day)
        return self.days_of_week is not None and self.days_of_week.holds(day)


Expression = Rate | Cron | At


def _nearest_weekday(day: dt.date, length: int) -> dt.date:
    """The weekday nearest `day` within its month (W): Saturday moves back, Sunday forward, at the month's
    edges the other way."""
    weekday = day.weekday()
    if weekday == 5:
        return day - dt.timedelta(days=1) if day.day > 1 else day + dt.timedelta(days=2)
    if weekday == 6:
        return day + dt.timedelta(days=1) if day.day < length else day - dt.timedelta(days=2)
    return day


def parse(text: str, *, allow_at: bool = False) -> Expression:
    """A rate, cron (or, for Scheduler, at) expression; ExpressionError when AWS would refuse it."""
    rate = _RATE.fullmatch(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if (value == 1) != (not unit.endswith("s")):
            raise ExpressionError(text)
        return Rate(value * _UNIT_SECONDS[unit.rstrip("s")])
    if text.startswith("cron(") and text.endswith(")"):
        return _parse_cron(text)
    if allow_at:
        at = _AT.fullmatch(text)
        if at:
            try:
                year, month, day, hour, minute, second = (int(g) for g in at.groups())
                return At(dt.datetime(year, month, day, hour, minute, second))
            except ValueError:
                raise ExpressionError(text)
    raise ExpressionError(text)


def _parse_cron(text: str) -> Cron:
    fields = text[5:-1].split(" ")
    if len(fields) != 6 or any(not f for f in fields):
        raise ExpressionError(text)
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):  # exactly one of them is "?"
        raise ExpressionError(text)
    return Cron(
        minutes=_numbers(minute, 0, 59, {}, text), hours=_numbers(hour, 0, 23, {}, text),
        months=_numbers(month, 1, 12, _MONTHS, text),
        years=None if year == "*" else _numbers(year, 1970, 9999, {}, text),
        days_of_month=None if dom == "?" else _days_of_month(dom, text),
        days_of_week=None if dow == "?" else _days_of_week(dow, text), text=text)


def _value(token: str, names: dict[str, int], low: int, high: int, text: str) -> int:
    number = names.get(token.upper()) if token.isalpha() else (int(token) if token.isdigit() else None)
    if number is None or not low <= number <= high:
        raise ExpressionError(text)
    return number


def _numbers(spec: str, low: int, high: int, names: dict[str, int], text: str) -> frozenset[int]:
    out: set[int] = set()
    for item in spec.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ExpressionError(text)
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(first, names, low, high, text), _value(last, names, low, high, text)
        else:
            start = _value(base, names, low, high, text)
            end = high if slash else start
        if start <= end:
            out.update(range(start, end + 1, step))
        else:  # a range that wraps around (FRI-MON, 22-2)
            span = list(range(start, high + 1)) + list(range(low, end + 1))
            out.update(span[::step])
    return frozenset(out)


def _days_of_month(spec: str, text: str) -> DaysOfMonth:
    if spec == "L":
        return DaysOfMonth(last=True)
    if spec == "LW":
        return DaysOfMonth(last_weekday=True)
    if spec.endswith("W") and spec[:-1].isdigit():
        return DaysOfMonth(nearest_weekday=frozenset({_value(spec[:-1], {}, 1, 31, text)}))
    return DaysOfMonth(days=_numbers(spec, 1, 31, {}, text))


def _days_of_week(spec: str, text: str) -> DaysOfWeek:
    if spec == "L":
        return DaysOfWeek(days=frozenset({7}))
    if spec.endswith("L") and len(spec) > 1:
        return DaysOfWeek(last_of=frozenset({_value(spec[:-1], _DAYS, 1, 7, text)}))
    if "#" in spec:
        day, _, nth = spec.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise ExpressionError(text)
        return DaysOfWeek(nth=frozenset({(_value(day, _DAYS, 1, 7, text), int(nth))}))
    return DaysOfWeek(days=_numbers(spec, 1, 7, _DAYS, text))


# -- when an expression fires --------------------------------------------------------------------------
def next_time(expression: Expression, after: float, anchor: float, zone: str = "UTC") -> float | None:
    """The first time strictly after `after` (seconds since the epoch) at which the expression fires, or
    None when it never fires again. A rate counts its periods from `anchor` (when the rule or schedule was
    made); cron and at are read in `zone`."""
    if isinstance(expression, Rate):
        periods = max(0, int((after - anchor) // expression.seconds) + 1)
        when = anchor + periods * expression.seconds
        return when if when > after else when + expression.seconds
    tz = ZoneInfo(zone)
    if isinstance(expression, At):
        when_at = expression.when.replace(tzinfo=tz).timestamp()
        return when_at if when_at > after else None
    return _next_cron(expression, after, tz)


def _next_cron(cron: Cron, after: float, tz: ZoneInfo) -> float | None:
    start = dt.datetime.fromtimestamp(after, tz).replace(tzinfo=None)
    hours, minutes = sorted(cron.hours), sorted(cron.minutes)
    day = start.date()
    limit = day.replace(year=min(day.year + _SEARCH_YEARS, 9999), day=28 if day.month == 2 else day.day)
    while day <= limit:
        if cron.years is not None and day.year not in cron.years:
            later = [y for y in cron.years if y > day.year]
            if not later:
                return None
            day = dt.date(min(later), 1, 1)
            continue
        if cron.day_holds(day):
            for hour in hours:
                for minute in minutes:
                    local = dt.datetime.combine(day, dt.time(hour, minute))
                    if local <= start:
                        continue
                    when = local.replace(tzinfo=tz)
                    # A local time skipped by a daylight-saving change does not exist: not a firing time.
                    if when.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != local:
                        continue
                    stamp = when.timestamp()
                    if stamp > after:
                        return stamp
        day += dt.timedelta(days=1)
    return None
