"""The terms of a text that carry meaning: numbers, months, names and content-word stems.

Shared by evidence selection (what looks relevant) and verification (what must be grounded), so
both read "Sept. 30", "30 September" and "September 30th" as the same date and "49" and
"forty-nine" as the same number.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import Stemmer

# Function words (the common English list) plus words every question or report uses.
_STOP = frozenset(
    """
a about above after again against all am an and any are aren't as at be because been before
being below between both but by can cannot could couldn't did didn't do does doesn't doing don't
down during each few for from further had hadn't has hasn't have haven't having he he'd he'll
he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is
isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only or
other ought our ours ourselves out over own same shan't she she'd she'll she's should shouldn't
so some such than that that's the their theirs them themselves then there there's these they
they'd they'll they're they've this those through to too under until up very was wasn't we we'd
we'll we're we've were weren't what what's when when's where where's which while who who's whom
why why's with won't would wouldn't you you'd you'll you're you've your yours yourself
yourselves also say said says saying according may might one many much per s t documents document
evidence
""".split()
)
_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
    if w != "_"
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_ALIASES = {"dozen": 12, "a dozen": 12}
MONTHS = {
    "jan": "january",
    "feb": "february",
    "mar": "march",
    "apr": "april",
    "may": "may",
    "jun": "june",
    "jul": "july",
    "aug": "august",
    "sep": "september",
    "sept": "september",
    "oct": "october",
    "nov": "november",
    "dec": "december",
}
# Words that are capitalised only because they start a sentence or are generic.
_NOT_NAMES = _STOP | {
    "the",
    "a",
    "an",
    "in",
    "on",
    "at",
    "it",
    "its",
    "they",
    "he",
    "she",
    "according",
    "since",
    "however",
    "there",
    "this",
    "that",
    "these",
    "when",
}

# Numbers and dates are compared through numbers() and months(), not as words.
_NOT_CONTENT = frozenset(
    [*_UNITS, *_TENS, *_SCALES, "dozen", *MONTHS, *MONTHS.values(), "th", "st", "nd", "rd"]
)

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|\d[\d,.]*\d|\d")
_NUMBER_WORDS = re.compile(
    r"\b(?:(?:"
    + "|".join([*_TENS, *_UNITS])
    + r")(?:[\s-]+(?:"
    + "|".join([*_TENS, *_UNITS, *_SCALES])
    + r"))*)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def _words_to_number(phrase: str) -> int | None:
    total, current = 0, 0
    for word in re.split(r"[\s-]+", phrase.lower()):
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word in _SCALES:
            current = max(current, 1) * _SCALES[word]
            if _SCALES[word] >= 1000:
                total, current = total + current, 0
        else:
            return None
    return total + current


def numbers(text: str) -> set[str]:
    """Numbers as canonical digits: '2,132' -> '2132', '30th' -> '30', 'forty-nine' -> '49'."""
    found: set[str] = set()
    for match in re.finditer(r"\d[\d,]*(?:\.\d+)?", text):
        raw = match.group().rstrip(",").replace(",", "")
        found.add(raw.rstrip("0").rstrip(".") if "." in raw else str(int(raw)))
    for match in _NUMBER_WORDS.finditer(text):
        value = _words_to_number(match.group())
        if value is not None and match.group().lower() not in {"one"}:
            found.add(str(value))
    for alias, value in _ALIASES.items():
        if re.search(rf"\b{alias}\b", text, re.IGNORECASE):
            found.add(str(value))
    return found


def months(text: str) -> set[str]:
    found = set()
    for word in re.findall(r"[A-Za-z]+", text):
        key = word.lower()
        if key == "may" and not word[0].isupper():
            continue  # the verb
        if key in MONTHS.values():
            found.add(key)
        elif key[:4] in MONTHS and (len(key) <= 4 or key.startswith(MONTHS[key[:4]][: len(key)])):
            found.add(MONTHS[key[:4]])
        elif key[:3] in MONTHS and key != "may" and MONTHS[key[:3]].startswith(key):
            found.add(MONTHS[key[:3]])
    return found


def names(text: str, proper: Collection[str] | None = None) -> set[str]:
    """Lower-cased capitalised words, months and stop words excepted.

    A capital at a sentence start says nothing ("Yes", "Cluster munitions ..."): such a word
    counts only if `proper` (names seen mid-sentence elsewhere) holds it. Without `proper`,
    every sentence start that is not a stop word counts."""
    found: set[str] = set()
    for sentence in re.split(r"(?<=[.!?:;])\s+|\n", text):
        tokens = words(sentence)
        for i, token in enumerate(tokens):
            low = token.lower().replace("’", "'")
            if not token[0].isupper() or low in _NOT_NAMES or months(token):
                continue
            if i == 0 and (low in _STOP or (proper is not None and low not in proper)):
                continue
            found.add(low)
    return found


def acronyms(text: str) -> set[str]:
    """Initials of runs of capitalised words: "United Nations Security Council" gives "un",
    "unsc", "sc" and the rest, so a claim may say "UN" where the source says "United Nations"."""
    found: set[str] = set()
    for run in re.findall(r"(?:[A-Z][\w’'-]*\s+(?:(?:of|and|for|the)\s+)?)+[A-Z][\w’'-]*", text):
        initials = "".join(w[0] for w in run.split() if w[0].isupper()).lower()
        for i, j in combinations(range(len(initials) + 1), 2):
            if j - i >= 2:
                found.add(initials[i:j])
    return found


def stems(text: str) -> set[str]:
    """Content-word stems (no stop words, no numbers)."""
    tokens = [w.lower() for w in words(text) if not w[0].isdigit()]
    kept = [t for t in tokens if t not in _STOP and t not in _NOT_CONTENT and len(t) > 1]
    return set(_stemmer().stemWords(kept))


def similar_word(a: str, b: str) -> bool:
    """Names match across spelling variants: equal, a prefix (Russia/Russian) or one edit apart
    for words of five letters or more (Idlib/Idleb)."""
    if a == b:
        return True
    if min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)):
        return True
    if min(len(a), len(b)) >= 5 and abs(len(a) - len(b)) <= 1:
        return _edit_distance_at_most_one(a, b)
    return False


def _edit_distance_at_most_one(a: str, b: str) -> bool:
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


@dataclass(frozen=True)
class Terms:
    numbers: frozenset[str]
    months: frozenset[str]
    names: frozenset[str]
    stems: frozenset[str]

    @classmethod
    def of(cls, text: str, proper: Collection[str] | None = None) -> Terms:
        return cls(
            frozenset(numbers(text)),
            frozenset(months(text)),
            frozenset(names(text, proper)),
            frozenset(stems(text)),
        )
