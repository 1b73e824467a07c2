"""The pack's functions. Each is self-contained (imports inside its body): the loader ships
each function's own source as one library module, so none may rely on another or on a
module-level name. Dates travel as ISO strings ("YYYY-MM-DD") so the sandbox can compare them.
"""


def parse_date(text: str) -> str:
    """Parse a date written as ISO, US (MM/DD/YYYY), European (DD.MM.YYYY), compact
    (YYYYMMDD), "5 March 2024" or "March 5, 2024"; return it as ISO YYYY-MM-DD."""
    from datetime import datetime

    cleaned = " ".join(text.strip().split())
    for pattern in ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d", "%d %B %Y", "%d %b %Y",
                    "%B %d, %Y", "%b %d, %Y"):
        try:
            return datetime.strptime(cleaned, pattern).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"unrecognised date: {text!r}")


def format_date(iso: str, style: str) -> str:
    """Format an ISO date in a style: iso, us (MM/DD/YYYY), eu (DD.MM.YYYY), compact
    (YYYYMMDD) or long ("5 March 2024")."""
    from datetime import date

    day = date.fromisoformat(iso)
    if style == "iso":
        return day.isoformat()
    if style == "us":
        return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"
    if style == "eu":
        return f"{day.day:02d}.{day.month:02d}.{day.year:04d}"
    if style == "compact":
        return f"{day.year:04d}{day.month:02d}{day.day:02d}"
    if style == "long":
        months = ["January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December"]
        return f"{day.day} {months[day.month - 1]} {day.year}"
    raise ValueError(f"unknown style {style!r}; use iso, us, eu, compact or long")


def add_days(iso: str, days: int) -> str:
    """Return the ISO date `days` days after (or before, when negative) an ISO date."""
    from datetime import date, timedelta

    return (date.fromisoformat(iso) + timedelta(days=days)).isoformat()


def days_between(start: str, end: str) -> int:
    """Return the number of days from ISO date `start` to ISO date `end` (negative if earlier)."""
    from datetime import date

    return (date.fromisoformat(end) - date.fromisoformat(start)).days


def weekday_name(iso: str) -> str:
    """Return the English name of the weekday of an ISO date, e.g. "Monday"."""
    from datetime import date

    names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    return names[date.fromisoformat(iso).weekday()]


def is_weekend(iso: str) -> bool:
    """Tell whether an ISO date falls on a Saturday or a Sunday."""
    from datetime import date

    return date.fromisoformat(iso).weekday() >= 5


def business_days_between(start: str, end: str) -> int:
    """Count the weekdays (Monday to Friday) from ISO date `start` up to, not including, `end`."""
    from datetime import date

    first, last = date.fromisoformat(start), date.fromisoformat(end)
    sign = 1
    if last < first:
        first, last, sign = last, first, -1
    total = (last - first).days
    weeks, rest = divmod(total, 7)
    count = weeks * 5
    weekday = first.weekday()
    for offset in range(rest):
        if (weekday + offset) % 7 < 5:
            count += 1
    return sign * count


def add_business_days(iso: str, days: int) -> str:
    """Return the ISO date `days` weekdays after an ISO date (before it when negative)."""
    from datetime import date, timedelta

    day = date.fromisoformat(iso)
    step = timedelta(days=1 if days >= 0 else -1)
    remaining = abs(days)
    while remaining:
        day += step
        if day.weekday() < 5:
            remaining -= 1
    return day.isoformat()


def is_leap_year(year: int) -> bool:
    """Tell whether a year of the Gregorian calendar is a leap year."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    """Return the number of days in a month (1-12) of a year."""
    import calendar

    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, not {month}")
    return calendar.monthrange(year, month)[1]


def iso_week(iso: str) -> tuple:
    """Return the ISO 8601 (year, week number) of an ISO date."""
    from datetime import date

    calendar_date = date.fromisoformat(iso).isocalendar()
    return (calendar_date[0], calendar_date[1])


def day_of_year(iso: str) -> int:
    """Return the ordinal day within its year (1 for 1 January) of an ISO date."""
    from datetime import date

    return date.fromisoformat(iso).timetuple().tm_yday


def quarter(iso: str) -> int:
    """Return the calendar quarter (1-4) of an ISO date."""
    from datetime import date

    return (date.fromisoformat(iso).month - 1) // 3 + 1


def end_of_month(iso: str) -> str:
    """Return the ISO date of the last day of the month an ISO date falls in."""
    import calendar
    from datetime import date

    day = date.fromisoformat(iso)
    return day.replace(day=calendar.monthrange(day.year, day.month)[1]).isoformat()


def add_months(iso: str, months: int) -> str:
    """Add calendar months to an ISO date, clamping the day to the target month's length."""
    import calendar
    from datetime import date

    day = date.fromisoformat(iso)
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1])).isoformat()


def age_on(birth: str, on: str) -> int:
    """Return the age in whole years on ISO date `on` of someone born on ISO date `birth`."""
    from datetime import date

    born, today = date.fromisoformat(birth), date.fromisoformat(on)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def seconds_to_hms(seconds: int) -> str:
    """Format a non-negative number of seconds as HH:MM:SS (hours may exceed 24)."""
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def hms_to_seconds(text: str) -> int:
    """Parse "HH:MM:SS" or "MM:SS" into a number of seconds."""
    parts = [int(part) for part in text.strip().split(":")]
    if not 2 <= len(parts) <= 3 or any(p < 0 for p in parts) or any(p >= 60 for p in parts[1:]):
        raise ValueError(f"expected HH:MM:SS or MM:SS, not {text!r}")
    total = 0
    for part in parts:
        total = total * 60 + part
    return total


def unix_to_iso(timestamp: int) -> str:
    """Return the UTC date and time of a Unix timestamp as "YYYY-MM-DDTHH:MM:SSZ"."""
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
