"""Checks on a question before any work is done for it."""

from __future__ import annotations

import re

from assistant.arithmetic import dates_in
from assistant.terms import words

NO_WORDS = "The question has no words; type a question about your documents."


def question_words_error(question: str) -> str | None:
    """One sentence when the question holds no word at all (only punctuation, symbols or
    space: "?!...", "🤔", ""), so it is refused at once instead of running the model; None for
    a question with at least one letter or digit in any script."""
    return None if re.search(r"[^\W_]", question) else NO_WORDS


# Words the question puts in quotation marks (straight or curly), two or more of them.
_QUOTED = re.compile(r'["“”]([^"“”]+)["“”]')


def quoted_phrases(question: str) -> list[list[str]]:
    """The phrases a question quotes ("Who said 'We examined this report'?"), as lower-case
    word lists: the sentence that holds one word for word is what the question asks about."""
    phrases = [words(m.lower()) for m in _QUOTED.findall(question)]
    return [p for p in phrases if len(p) >= 2]


# What stands for a quotation while a follow-up is read: not a word, so no rule matches it.
_HELD = "\ue000"


def _hold_quotes(question: str) -> tuple[str, list[str]]:
    """The question with each quotation replaced by `_HELD`, and the quotations in order: a
    quoted "It was a normal Sunday" is the documents' words, not a pronoun to resolve."""
    return _QUOTED.sub(_HELD, question), [m.group() for m in _QUOTED.finditer(question)]


def _restore_quotes(text: str, quotes: list[str]) -> str:
    held = iter(quotes)
    return re.sub(_HELD, lambda _: next(held), text)


def holds_phrase(text: str, phrase: list[str]) -> bool:
    """Does `text` hold the words of `phrase` in a row (case, punctuation and quotation marks
    aside)?"""
    found, n = words(text.lower()), len(phrase)
    return any(found[i : i + n] == phrase for i in range(len(found) - n + 1))


# -- follow-ups: a question that leans on the earlier turn ---------------------------------------

MARKER = re.compile(r"\s*\[\d+\]")  # citation markers such as "[1]" in an earlier answer
# A run of capitalised words, with the small words names keep inside ("Syrian Observatory for
# Human Rights", "Mohammed Qurabi al-Ghazal").
NAME = re.compile(
    r"(?:[A-Z][\w’'-]*|al-[A-Z][\w’'-]*)"
    r"(?:\s+(?:(?:of|for|and|the|al|de|von)\s+)?(?:[A-Z][\w’'-]*|al-[A-Z][\w’'-]*))*"
)
# Capitalised only because they open a sentence: never part of a name phrase's start.
_QUESTION_WORDS = frozenset(
    "who whom whose what which when where why how is are was were did do does has have had can "
    "could will would should and but or so according the a an it its they their he she his her "
    "this that these those there yes no in on at of for to".split()
    # prepositions that open an elliptical follow-up ("Against whom?", "Since when?")
    + "about after against among as before between by during from into since until with "
    "without".split()
)
# A question asking who or which body did something ("Who said ...?", "Which organisation
# accused ...?"): its answer, not its own words, names what a follow-up refers to.
_ASKS_AGENT = re.compile(r"^\W*(?:who|which\s+\w+|what\s+(?:organi[sz]ation|group|body))\b", re.I)
_ASKS_IDENTITY = re.compile(r"^\W*who\s+(?:is|was|are|were)\b", re.I)
_PERSONAL = re.compile(r"\b(?:he|she|him|her)\b", re.I)
# "his job", "her report": a possessive before a noun ("ask her about" is the object form).
_POSSESSIVE = re.compile(
    r"\b(?:his|her(?=\s+(?!about|to|for|if|whether|that|what|why|how|when|and|or)[a-z]))\b",
    re.I,
)
# "it", but not the "it" of "is it true that ...?" or "was it reported that ...?".
_THING = re.compile(
    r"\bit\b(?!\s+(?:(?:is|was)\s+)?(?:true|false|possible|likely|clear|known|the case|said|"
    r"reported|claimed|alleged)\b)",
    re.I,
)
# "they" and "their" stand for an organisation or a group, so only a name of two words or more
# replaces them ("Human Rights Watch"; after "the Lagos council", "they" stays). "them" is as
# often a thing of the same question ("there were fires, who saw them?"): it stays.
_PLURAL = re.compile(r"\bthey\b", re.I)
_PLURAL_POSSESSIVE = re.compile(r"\btheir\b", re.I)
# "there" as a place ("the area there"), not the "there" of "were there ..." or "there is".
_BE = r"(?:is|are|was|were|will|would|has|have|had|be|been|seems?|seemed)"
_THERE = re.compile(r"\bthere\b", re.I)
_EXISTENTIAL = re.compile(rf"\b{_BE}\s+$|^\s+{_BE}\b", re.I)
# The place an earlier turn gave: a name after "in" or "at" ("in Ariha, Idlib province", "in
# the center of Idleb", "at the port of Dover").
_PLACE = re.compile(
    r"\b(?:in|at)\s+(?:the\s+(?:[a-z]+\s+of\s+(?:the\s+)?)?)?([A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*)"
)
# "that attack", "this report": a lower-case noun after the demonstrative ("that the ..." and
# "that Russia ..." open a clause instead).
_DEMONSTRATIVE = re.compile(r"\b(?i:that|this|the same)\s+([a-z]+)\b")


_WHO_ELSE = re.compile(r"\bwho\s+else\b", re.I)


def name_phrases(text: str) -> list[str]:
    """Name phrases of `text` in order, without a question word that opens a sentence."""
    found = []
    for match in NAME.finditer(text):
        parts = match.group().split()
        while parts and parts[0].lower() in _QUESTION_WORDS:
            parts = parts[1:]
        if parts:
            found.append(re.sub(r"[’']s$", "", " ".join(parts)))  # "Amnesty's" -> "Amnesty"
    return found


def referent(question: str, answer: str, contrasted: bool = False) -> str | None:
    """What a follow-up's "he" or "it" most likely means: the entity the earlier question asked
    about ("Who is Philip Luther?") or, when it asked who did something, the one its answer
    names ("Who said ...?" -> "Kristyan Benedict"). `contrasted`: the follow-up asks "who
    else", so its pronoun cannot be the earlier question's first name, the one "else" sets
    apart ("Did Amnesty say Russia ...? Who else accused it?": "it" is Russia)."""
    answer = MARKER.sub("", answer)
    asked = name_phrases(question)
    if contrasted and len(asked) > 1:
        asked = asked[1:]
    told = [n for n in name_phrases(answer) if n not in asked]
    if _ASKS_AGENT.match(question) and not _ASKS_IDENTITY.match(question) and told:
        return told[0]
    found = asked or told
    return found[0] if found else None


def standalone(
    question: str, earlier_question: str, earlier_answer: str, *, set_apart: bool = True
) -> str:
    """The follow-up with what it refers back to written out: "he"/"she" and "it" become the
    earlier turn's referent ("his" its possessive), and "that attack" the earlier question's
    phrase that ends in "attack" ("the Ariha market attack"). Unchanged when nothing refers
    back or no referent is found; the earlier turn still goes to retrieval and the model.
    With `set_apart`, "who else" names whom it sets apart ("who other than Amnesty"): what
    verification checks. The model is asked without it: given the name, it answers with it.
    Quoted words are left as they are."""
    held, quotes = _hold_quotes(question)
    return _restore_quotes(_resolved(held, earlier_question, earlier_answer, set_apart), quotes)


def _resolved(question: str, earlier_question: str, earlier_answer: str, set_apart: bool) -> str:
    rewritten = question
    phrased = False  # "that attack" was written out: its "it" most likely means the same
    demonstrative = _DEMONSTRATIVE.search(rewritten)
    if demonstrative:
        noun = demonstrative.group(1)
        phrase = (
            None
            if noun in _QUESTION_WORDS
            else re.search(
                rf"\b(?:the\s+)?((?:[\w’'-]+\s+){{0,3}}?{re.escape(noun)})\b",
                earlier_question,
                re.I,
            )
        )
        if phrase and phrase.group(1).lower() != noun.lower():
            words = phrase.group(1).split()
            while words and words[0].lower() in _QUESTION_WORDS:
                words = words[1:]
            rewritten = (
                rewritten[: demonstrative.start()]
                + "the "
                + " ".join(words)
                + rewritten[demonstrative.end() :]
            )
            phrased = True
    contrasted = _WHO_ELSE.search(rewritten)
    if set_apart and contrasted and (earlier_names := name_phrases(earlier_question)):
        # "who else" sets apart the earlier question's first name: say which, so the name
        # check knows it is not an answer (the model is asked without it: set_apart=False)
        said = contrasted.group()
        other = f"{said[:3]} other than {earlier_names[0]}"
        rewritten = rewritten[: contrasted.start()] + other + rewritten[contrasted.end() :]
    rewritten = _there(rewritten, earlier_question, earlier_answer)
    name = referent(earlier_question, earlier_answer, contrasted is not None)
    if name is None:
        return rewritten
    # "Did it say they were used?": with "it" or "he" for the referent, "they" is another thing
    taken = any(p.search(rewritten) for p in (_POSSESSIVE, _PERSONAL, _THING))
    rewritten = _POSSESSIVE.sub(f"{name}’s", rewritten)
    rewritten = _PERSONAL.sub(name, rewritten)
    if len(name.split()) > 1 and not taken:
        if not _PLURAL.search(rewritten):  # after "they", "their" is as often another thing's
            rewritten = _PLURAL_POSSESSIVE.sub(f"{name}’s", rewritten)
        rewritten = _PLURAL.sub(name, rewritten)
    return rewritten if phrased else _THING.sub(name, rewritten, count=1)


def _there(question: str, earlier_question: str, earlier_answer: str) -> str:
    """ "there" as a place becomes "in" the place the earlier answer (else question) gave."""
    for match in _THERE.finditer(question):
        before, after = question[: match.start()], question[match.end() :]
        if _EXISTENTIAL.search(before) or _EXISTENTIAL.match(after) or not before.strip():
            continue
        for text in (MARKER.sub("", earlier_answer), earlier_question):
            place = _PLACE.search(text)
            if place:
                return before + "in " + place.group(1) + after
    return question


# -- follow-ups the rules above leave unread: written out by the model --------------------------

# What `standalone` could not resolve: a pronoun it left, or an elliptical opening.
_LEFT_OVER = re.compile(r"\b(?:he|she|him|his|her|it|its|they|them|their|these|those)\b", re.I)
_ELLIPTICAL = re.compile(r"^\W*(?:and|but|so|what about|how about|and what about)\b", re.I)
_WH = re.compile(r"\b(?:who|whom|whose|what|which|when|where|why|how)\b", re.I)
_SMALL = frozenset(
    "a an the of to in on at for by with from as and or but is are was were be".split()
)
_PRONOUNS = frozenset(
    "he she him his her it its they them their there this that these those".split()
)
_MAX_WRITTEN_WORDS = 40


def leans_on_context(question: str) -> bool:
    """A follow-up (as `standalone` left it) that still cannot be read alone: a pronoun is left
    ("How many of them were doctors?"), it opens elliptically ("And according to Amnesty?",
    "What about Human Rights Watch?"), or it names and quotes nothing ("Where is the
    organisation based?", "Why?")."""
    held, _ = _hold_quotes(question)  # a pronoun in a quotation is the documents' own
    names = name_phrases(held) or quoted_phrases(question)
    return bool(_LEFT_OVER.search(held) or _ELLIPTICAL.match(held) or not names)


def _own_words(text: str) -> set[str]:
    words = re.findall(r"[\w’'-]+", text.lower())
    # a five-letter stem, so "occasions" keeps "occasion" and "military's" keeps "military"
    return {w[:5] for w in words if w not in _SMALL and w not in _PRONOUNS and not _WH.fullmatch(w)}


def faithful(question: str, written: str) -> bool:
    """The model's written-out follow-up still asks what the follow-up asks: one question, the
    same question word, and every word of the follow-up's own (pronouns and small words
    aside), so a paraphrase that changes the question ("What is his job?" -> "Who is ...?")
    or answers it is not taken."""
    if not written.endswith("?") or len(written.split()) > _MAX_WRITTEN_WORDS:
        return False
    asked, said = _WH.search(question), _WH.search(written)
    if asked and (not said or asked.group().lower() != said.group().lower()):
        return False
    return _own_words(question) <= _own_words(written)


# -- compound questions: two questions in one ----------------------------------------------------

_OPENS_QUESTION = (
    r"(?:who|whom|whose|what|which|when|where|why|how|did|does|do|is|are|was|were|has|have|had|"
    r"can|could|will|would)\b"
)
# Where a second question starts: ", and who ...", "; what ...". A bare "and" does not split:
# "how much disk and how much RAM do I need", "when and where did it happen" share one verb.
_JOIN = re.compile(
    rf"(?:\s*,\s*(?:and|but)\s+|\s*;\s*(?:and\s+|but\s+)?)(?={_OPENS_QUESTION})", re.I
)
_MIN_PART_WORDS = 3  # "... and why?" leans on the whole first part: it stays one question
# A first part that asks whether a clause was reported: "Did Amnesty say that Russia used
# cluster bombs?" -> "Russia used cluster bombs".
_REPORTED = re.compile(
    r"^\W*(?:did|does|do|has|have|had)\s+.+?\s+"
    r"(?:say|said|report|claim|find|found|confirm|state|allege|accuse|deny|denied|warn|conclude)"
    r"\w*\s+that\s+(?P<clause>.+?)\W*$",
    re.I,
)
# A later part that names nothing but what the first reported: "who else accused it?"
_ON_IT = re.compile(r"\s(?:it|this|that|so)\W*$", re.I)


# "How many days passed between X and Y?", "How many weeks after X did Y?": two dates the
# program counts between (arithmetic.py), each asked for on its own, so that each is drafted
# from its own evidence and verified against its own sentence.
_DAYS = r"^\W*how many (?:days|weeks)\b"
_DAYS_BETWEEN = re.compile(rf"{_DAYS}.*?\bbetween\s+(?P<a>.+?)\s+and\s+(?P<b>.+?)[\s?.!]*$", re.I)
_DAYS_AFTER = re.compile(
    rf"{_DAYS}\s+(?:after|before)\s+(?P<a>.+)\s+(?P<b>(?:did|was|were|had|has)\s+.+?)[\s?.!]*$",
    re.I,
)
# A noun phrase ("the Ariha market strike"), not a clause ("the report was published")
_NOUN_PHRASE = re.compile(
    r"^(?:the|a|an|this|that|its|his|her|their|[\w-]+['’]s)\s+(?!.*\b(?:was|were|is|are|had|has|"
    r"did|began|begun|started|ended|happened|took)\b)",
    re.I,
)


# "the publication of Amnesty's report" is asked as "When was Amnesty's report published?":
# the documents say what happened with the verb ("In a report published Wednesday, ...")
_NOMINAL = re.compile(r"^the\s+(?P<noun>[a-z]+)\s+of\s+(?P<what>.+)$", re.I)
_AS_VERB = {
    "publication": "When was {} published?",
    "release": "When was {} released?",
    "launch": "When was {} launched?",
    "adoption": "When was {} adopted?",
    "announcement": "When was {} announced?",
    "signing": "When was {} signed?",
    "opening": "When was {} opened?",
    "start": "When did {} start?",
    "beginning": "When did {} begin?",
    "end": "When did {} end?",
    "outbreak": "When did {} break out?",
}


def _when(event: str) -> str:
    """The question for an event's date: "When was the Ariha market strike?", "When did
    Russia respond?", "When the report was published?" (a clause, read as it stands), "When
    was Amnesty's report published?" (for "the publication of Amnesty's report")."""
    nominal = _NOMINAL.match(event)
    if nominal and (asked := _AS_VERB.get(nominal["noun"].lower())):
        return asked.format(nominal["what"])
    if re.match(r"(?:did|was|were|had|has)\s", event, re.I):
        return f"When {event[0].lower()}{event[1:]}?"
    return f"When was {event}?" if _NOUN_PHRASE.match(event) else f"When {event}?"


def date_parts(question: str) -> list[str]:
    """A question for the days between two events as the two questions for their dates:
    "How many days passed between the Ariha market strike and the publication of Amnesty's
    report?" -> ["When was the Ariha market strike?", "When was Amnesty's report published?"].
    Empty when it is not one."""
    found = _DAYS_BETWEEN.match(question) or _DAYS_AFTER.match(question)
    if found is None or any(dates_in(found[side]) for side in "ab"):
        return []  # a date the question gives itself is not asked for
    return [_when(found["a"]), _when(found["b"])]


def parts(question: str) -> list[str]:
    """A compound question's parts, each a question of its own: "Did Amnesty say that Russia
    used cluster bombs, and who else accused it?" -> ["Did Amnesty say that Russia used
    cluster bombs?", "Who else accused it?"]. Both sides must open like a question ("Putin's
    spokesman said ...; what had Putin warned?" stays whole, its first half is a premise), and
    the second keeps its pronouns: `standalone` reads them with the first as its earlier turn.
    A second part about what the first asks was reported carries the report: "Who else accused
    it (that Russia used cluster bombs)?"."""
    if dated := date_parts(question):
        return dated
    join = _JOIN.search(question)
    if join is None:
        return [question]
    first = question[: join.start()].strip(" ,;")
    second = question[join.end() :].strip()
    if not re.match(rf"\W*{_OPENS_QUESTION}", first, re.I) or len(second.split()) < _MIN_PART_WORDS:
        return [question]
    first = first.rstrip("?.! ") + "?"
    if _ON_IT.search(second) and (reported := _REPORTED.match(first)):
        # "it" is what was reported, not only its subject: without the clause, "who else
        # accused Russia?" was answered with another of Amnesty's accusations
        second = f"{second.rstrip('?.! ')} (that {reported['clause']})?"
    return [first, second[0].upper() + second[1:]]
