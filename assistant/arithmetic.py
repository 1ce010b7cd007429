"""Date arithmetic the program does itself: "how many days between X and Y".

A small model miscounts days, so it is only asked to state the two dates (each claim verified
against its own sentence); the program then counts the days between them and adds that as a
claim citing both sentences. Nothing here is taken from the model.
"""

from __future__ import annotations

import re
from datetime import date

from assistant.schema import Claim
from assistant.terms import MONTHS

_MONTH_NAMES = sorted({*MONTHS, *MONTHS.values()}, key=len, reverse=True)
_MONTH = "(?:" + "|".join(_MONTH_NAMES) + r")\.?"
_DATE = re.compile(
    rf"\b(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<m1>{_MONTH})"
    rf"|(?P<m2>{_MONTH})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\b)"
    r"(?:,?\s+(?P<year>(?:19|20)\d\d))?",
    re.IGNORECASE,
)
_ASKS_DAYS = re.compile(r"\bhow many (?:days|weeks)\b", re.IGNORECASE)

Day = tuple[int | None, int, int]  # (year or None, month, day)


def asks_for_days(question: str) -> bool:
    return bool(_ASKS_DAYS.search(question))


def dates_in(text: str) -> list[Day]:
    found = []
    for m in _DATE.finditer(text):
        month_word = (m.group("m1") or m.group("m2")).rstrip(".").lower()
        month_name = MONTHS.get(month_word[:4]) or MONTHS.get(month_word[:3]) or month_word
        month = list(dict.fromkeys(MONTHS.values())).index(month_name) + 1
        day = int(m.group("d1") or m.group("d2"))
        year = int(m.group("year")) if m.group("year") else None
        if 1 <= day <= 31:
            found.append((year, month, day))
    return found


def _as_date(d: Day, year: int) -> date | None:
    try:
        return date(d[0] or year, d[1], d[2])
    except ValueError:
        return None


def day_difference(claims: list[Claim]) -> Claim | None:
    """A claim giving the days between the first two different dates stated by the claims (a
    date without a year takes the other's year, or they share one), citing both claims'
    sentences; None when the claims do not state two dates."""
    dated = [(claim, d) for claim in claims for d in dates_in(claim.text)[:1]]
    first = dated[0] if dated else None
    second = next((cd for cd in dated[1:] if cd[1][1:] != dated[0][1][1:]), None)
    if first is None or second is None:
        return None
    year = first[1][0] or second[1][0] or 2001  # any year without 29 February when none is given
    a, b = _as_date(first[1], year), _as_date(second[1], year)
    if a is None or b is None:
        return None
    early, late = sorted((a, b))
    days = (late - early).days
    label = f"{early.day} {early:%B}" + (f" {early.year}" if first[1][0] or second[1][0] else "")
    label_late = f"{late.day} {late:%B}" + (f" {late.year}" if first[1][0] or second[1][0] else "")
    return Claim(
        text=f"From {label} to {label_late} is {days} days.",
        citations=sorted(set(first[0].citations) | set(second[0].citations)),
    )
