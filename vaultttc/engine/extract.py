"""Answers out of free text: the final answer of a reply, and the canonical key votes compare.

`extract_answer` finds the final answer in a model's reply (last "answer is …", `\\boxed{…}`,
`#### n`, a fenced result, else the final line), `normalize_answer` turns it into the key that
votes and equality compare (numbers as exact rationals, dates as ISO, choice letters, plain
lowercase text), and `extract_code` turns a chat reply or a base model's raw continuation of a
stub into the program to test. Pure string functions: no IO, no execution, no evaluation.
"""

from __future__ import annotations

import datetime as _dt
import re
from fractions import Fraction

__all__ = [
    "extract_answer",
    "final_answer",
    "normalize_answer",
    "stated_answer",
    "stated_before_cut",
    "wants_short_answer",
    "without_thinking",
]

# ---------------------------------------------------------------- normalisation

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_DATE_PATTERNS = [
    re.compile(r"(?P<a>\d{1,2})[/-](?P<b>\d{1,2})[/-](?P<year>\d{4})"),
    re.compile(r"(?P<year>\d{4})[/-](?P<mon_n>\d{1,2})[/-](?P<day>\d{1,2})"),
    re.compile(_MONTH + r"\s+" + _DAY + r",?\s+(?P<year>\d{4})", re.IGNORECASE),
    re.compile(_DAY + r"\s+(?:of\s+)?" + _MONTH + r",?\s+(?P<year>\d{4})", re.IGNORECASE),
]
_UNIT = r"(?:\s*(?:[a-z]+\.?|°[cf]?))"
_NUMBER = re.compile(
    r"(?P<sign>[-+−]?)\s*(?:[$€£¥]|usd\s|rs\.?)?\s*"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+)"
    r"(?:e(?P<exp>[-+]?\d{1,3}))?\s*(?P<pct>%|percent)?" + _UNIT + r"{0,3}"
)
_FRACTION = re.compile(r"(?P<sign>[-+−]?)\s*(?:(?P<whole>\d+)\s+)?(?P<n>\d+)\s*/\s*(?P<d>\d+)")
_CHOICE = re.compile(r"(?:option\s+|choice\s+)?\(([a-z])\)(?:\s.*)?|(?:option|choice)\s+([a-z])")
_LATEX_WRAPPERS = re.compile(r"\\(?:boxed|fbox|text|textbf|mathrm|mathbf|mbox|operatorname)\s*\{")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}|\\[dt]?frac(\d)(\d)")
_LATEX_DROP = re.compile(r"\\left|\\right|\\[,!;: ]|\^\s*\{?\\circ\}?|°|\\displaystyle")
_TRAILING = ".,;:!?"
_ENCLOSING = [
    ("**", "**"),
    ("__", "__"),
    ("`", "`"),
    ("$", "$"),
    ("\\(", "\\)"),
    ("\\[", "\\]"),
    ('"', '"'),
    ("'", "'"),
    ("“", "”"),
]


def _unwrap_braced(text: str, pattern: re.Pattern[str]) -> str:
    """Replace `\\cmd{…}` by its contents, honouring nested braces."""
    while (m := pattern.search(text)) is not None:
        end = _balanced_end(text, m.end() - 1)
        if end is None:
            return text[: m.start()] + text[m.end() :]
        text = text[: m.start()] + text[m.end() : end] + text[end + 1 :]
    return text


def _balanced_end(text: str, open_at: int) -> int | None:
    """Index of the brace closing the one at `open_at`, or None when unbalanced."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _clean_once(text: str) -> str:
    text = _unwrap_braced(text, _LATEX_WRAPPERS)
    text = _LATEX_FRAC.sub(lambda m: f"{m[1] or m[3]}/{m[2] or m[4]}", text)
    text = _LATEX_DROP.sub("", text).replace("{,}", ",").replace("\\%", "%").replace("\\$", "$")
    text = " ".join(text.split()).lower()
    for left, right in _ENCLOSING:
        if len(text) >= len(left) + len(right) and text.startswith(left) and text.endswith(right):
            text = text[len(left) : len(text) - len(right)]
    return text.strip().rstrip(_TRAILING).strip()


def _clean(text: str) -> str:
    for _ in range(20):
        cleaner = _clean_once(text)
        if cleaner == text:
            break
        text = cleaner
    return text


def _as_date(m: re.Match[str]) -> str | None:
    groups = m.groupdict()
    year = int(groups["year"])
    if groups.get("a") is not None:
        a, b = int(groups["a"]), int(groups["b"])
        month, day = (b, a) if a > 12 else (a, b)
    elif groups.get("mon_n") is not None:
        month, day = int(groups["mon_n"]), int(groups["day"])
    else:
        month, day = _MONTHS[groups["mon"].lower()], int(groups["day"])
    try:
        return _dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _rational(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def _as_number(text: str) -> str | None:
    if (m := _FRACTION.fullmatch(text)) is not None and int(m["d"]) != 0:
        value = Fraction(int(m["whole"] or 0)) + Fraction(int(m["n"]), int(m["d"]))
        return _rational(-value if m["sign"] in "-−" and m["sign"] else value)
    if (m := _NUMBER.fullmatch(text)) is None:
        return None
    value = Fraction(m["num"].replace(",", "").rstrip(".") or "0")
    if m["exp"]:
        value *= Fraction(10) ** int(m["exp"])
    return _rational(-value if m["sign"] in ("-", "−") else value)


def normalize_answer(raw: str) -> str:
    """The canonical key of an answer: equal keys mean the same answer.

    Markup (`**`, `$`, `\\boxed{}`, `\\text{}`, `\\frac{a}{b}`), case, surrounding quotes and
    trailing punctuation go. Numbers become exact rationals (`1,000` → `1000`, `3.0` → `3`,
    `$5` → `5`, `0.5` and `1/2` → `1/2`); a percent sign and up to three trailing unit words
    are dropped (`50%` → `50`, GSM8K-style). Dates become ISO (`05/01/2021` → `2021-05-01`;
    slashes read MM/DD/YYYY unless the first part exceeds 12). A choice `(A)` becomes `a`.
    Anything else is lowercase text with single spaces. Idempotent.
    """
    text = _clean(raw)
    if (m := _CHOICE.fullmatch(text)) is not None:
        return m[1] or m[2]
    for pattern in _DATE_PATTERNS:
        if (m := pattern.fullmatch(text)) is not None and (iso := _as_date(m)) is not None:
            return iso
    return _as_number(text) or text


# ---------------------------------------------------------------- extraction

_THINK = re.compile(r"<think(?:ing)?>.*?(?:</think(?:ing)?>|\Z)", re.DOTALL | re.IGNORECASE)


def without_thinking(text: str) -> str:
    """`text` with `<think>…</think>` sections (closed or running to the end) removed."""
    return _THINK.sub("", text)


# Hedges between "the answer is" and the answer: "the answer is simply 03/05/1973".
_HEDGE = r"(?:(?:simply|just|clearly|therefore|thus|then|probably|likely|exactly|now)\s+)*"
_MARKERS = [
    re.compile(
        r"\banswer[*_]*\s*(?:is|was|would be|will be|should be|=|:)[*_]*:?[ \t]*"
        + _HEDGE
        + r"(?P<ans>[^\n]+)",
        re.IGNORECASE,
    ),
    re.compile(
        r"\banswer\b[^\n.:?]{0,40}?\s(?:is|would be|will be)\s+" + _HEDGE + r"(?P<ans>[^\n]+)",
        re.IGNORECASE,
    ),
    re.compile(r"^#{4}\s*(?P<ans>[^\n]+)", re.MULTILINE),
    re.compile(
        r"^\s*(?:```|~~~)[ \t]*(?:output|result|answer|text)?[ \t]*\n"
        r"(?P<ans>[^\n`]+)\n\s*(?:```|~~~)[ \t]*$",
        re.MULTILINE | re.IGNORECASE,
    ),
]
_NOT_AN_ANSWER = re.compile(r"(?:in|as|to|that|of|for|based|given|format)\b", re.IGNORECASE)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_SENTENCE_END = re.compile(r"(?<=[^\s\d])\.(?:\s|$)|\.\s")
_ANY_DATE = re.compile(
    "|".join(re.sub(r"\?P<\w+>", "?:", p.pattern) for p in _DATE_PATTERNS), re.IGNORECASE
)
_ANY_NUMBER = re.compile(
    r"[-−]?[$€£]?(?:\d+\s*/\s*\d+|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)%?"
)
_COPULA = re.compile(r"\s(?:is|are|was|were|equals|would be|will be)\s|=", re.IGNORECASE)
_LEADING_CHOICE = re.compile(r"\(?([A-Ja-j])\)(?:\s|$)")


def _boxed_spans(text: str) -> list[tuple[int, str]]:
    spans = []
    for m in _BOXED.finditer(text):
        end = _balanced_end(text, m.end() - 1)
        if end is not None:
            spans.append((m.start(), text[m.end() : end]))
    return spans


def _marked_spans(text: str) -> list[tuple[int, str]]:
    spans = _boxed_spans(text)
    for pattern in _MARKERS:
        for m in pattern.finditer(text):
            answer = m["ans"]
            if pattern is not _MARKERS[-1]:
                answer = _SENTENCE_END.split(answer, maxsplit=1)[0]
            answer = answer.strip()
            if answer and not answer.endswith("?") and not _NOT_AN_ANSWER.match(answer):
                spans.append((m.start("ans"), answer))
    return spans


def _is_sentence(span: str) -> bool:
    return len(span.split()) >= 3 and len(re.findall(r"[A-Za-z]{2,}", span)) >= 2


def _refine(span: str) -> str:
    """Reduce a sentence to its answer: a leading choice, else the last date, else number."""
    span = span.strip().rstrip(_TRAILING).strip()
    if (m := _LEADING_CHOICE.match(span)) is not None:
        return f"({m[1]})"
    if not _is_sentence(span):
        return span
    for finder in (_ANY_DATE, _ANY_NUMBER):
        found = list(finder.finditer(span))
        if found:
            return found[-1].group(0)
    parts = _COPULA.split(span)
    return parts[-1].strip().rstrip(_TRAILING).strip() if len(parts) > 1 else span


def extract_answer(text: str) -> str | None:
    """The final answer in a model's reply, as written (normalise it for comparison).

    The last explicit marker wins (`\\boxed{…}`, "the answer is …", "Answer: …", `#### …`, a
    one-line fenced result); without one, the final non-empty line. A sentence is reduced to
    its last date or number ("The date today is 01/02/2008." → `01/02/2008`), a leading choice
    to `(A)`. None when the reply has nothing usable.
    """
    text = without_thinking(text)
    spans = _marked_spans(text)
    if spans:
        span = max(spans, key=lambda s: s[0])[1]
    else:
        lines = [line for line in text.splitlines() if line.strip() and line.strip() != "```"]
        if not lines:
            return None
        span = lines[-1]
    answer = _refine(span)
    return answer or None


_STATED = re.compile(
    r"\b(?:the\s+)?(?:final\s+)?answer[*_]*\s*(?:is|=|:)[*_]*:?[ \t]*", re.IGNORECASE
)
_ASKS_SHORT = re.compile(
    r"\b(?:only|just)\s+(?:the\s+|a\s+|one\s+)?(?:number|value|answer|word|letter|date|name)\b"
    r"|\b(?:short|one[- ]word|single[- ]word|numeric)\s+answer\b|\bhow (?:many|much)\b"
    r"|\banswer\s+in\s+(?:the\s+)?format\b",  # "Please answer in format MM/DD/YYYY."
    re.IGNORECASE,
)


_SHORT_KEY = re.compile(r"-?\d+(?:/\d+)?|\d{4}-\d{2}-\d{2}|[a-j]")  # a number, date, choice


def stated_before_cut(text: str) -> bool:
    """Whether a reply cut off at its token limit had already stated its final answer in full:
    its last explicit marker ("the answer is …", `\\boxed{…}`, `#### …`) sits on a line the
    reply went on past, names a number, a date or a choice (not "the answer: we multiply";
    "2 + 3 = 5" names 5), and no `\\boxed{` left open after it was starting another.
    Anything else may be a sentence cut mid-way."""
    text = without_thinking(text)
    spans = _marked_spans(text)
    if not spans:
        return False
    start, span = max(spans, key=lambda s: s[0])
    opened = (m.end() - 1 for m in _BOXED.finditer(text, start + 1))
    if "\n" not in text[start:] or any(_balanced_end(text, at) is None for at in opened):
        return False
    value = _COPULA.split(_refine(span))[-1]  # "2 + 3 = 5": what it equals
    return _SHORT_KEY.fullmatch(normalize_answer(value)) is not None


def wants_short_answer(question: str, *, expect: str | None) -> bool:
    """Whether a question asks for a short answer (or has a reference to check one against)."""
    return expect is not None or _ASKS_SHORT.search(question) is not None


def final_answer(text: str, *, question: str, expect: str | None) -> str | None:
    """The answer vaultttc writes for a reply to `question`: its extracted final answer, or, when
    the question asks for no short answer (and has no reference), that answer as stated."""
    raw = extract_answer(text)
    if raw is not None and not wants_short_answer(question, expect=expect):
        return stated_answer(text) or raw
    return raw


def stated_answer(text: str) -> str | None:
    """The final answer as the model stated it, in full: what follows the last "The answer
    is:" (to the end of the reply: prose, a list, an expression), a boxed answer, or else the
    whole reply. Thinking is never part of it. None when the reply is empty."""
    text = without_thinking(text).strip()
    marks = list(_STATED.finditer(text))
    if marks:
        stated = text[marks[-1].end() :].strip()
        if stated and "\n" not in stated:  # one line: its sentence's full stop is not the answer
            stated = stated.removesuffix(".").strip()
        if stated:
            return stated
    boxed = _boxed_spans(text)
    if boxed:
        return boxed[-1][1].strip() or None
    return text or None
