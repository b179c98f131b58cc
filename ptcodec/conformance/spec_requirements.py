"""The requirements and syntax elements of spec/ptv.md, read from its text.

A requirement is a normative "shall"/"must" sentence or a row of the
forbidden-values table; a syntax element is a row of a `<!-- syntax: NAME -->`
table. Each requirement gets an id that stays stable while its sentence does,
so conformance/requirements.json can map it to vectors and an entry whose
sentence left the spec is found stale.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
SECTION_NUMBER = re.compile(r"^(?:Annex\s+([A-Z])\b|(\d+(?:\.\d+)*|[A-Z]\.\d+(?:\.\d+)*)\.?\s)")
MARK = re.compile(r"^<!--\s*(\w+):\s*(\w+)\s*-->")
LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s+")
RULE_REF = re.compile(r"\bF(\d{1,2})\b")
NORMATIVE_WORD = re.compile(r"\b(shall|must)\b", re.IGNORECASE)
QUOTED = re.compile(r'"[^"]*"')
PRONOUN = re.compile(r"^(It|They|Each|Neither|When it)\b")
ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "etc.", "cf.", "vs.")


@dataclass(frozen=True)
class Requirement:
    id: str
    """Stable: "<section>#<4 hex of the sentence>", or the rule ("F6") for a row of the forbidden-values table."""
    section: str
    text: str
    rules: tuple[str, ...] = ()


def _table_rows(lines: Sequence[str], start: int) -> list[list[str]]:
    """The body rows (cells stripped) of the markdown table at or after line `start`."""
    i = start
    while i < len(lines) and not lines[i].lstrip().startswith("|"):
        i += 1
    rows = []
    while i < len(lines) and lines[i].lstrip().startswith("|"):
        cells = [cell.strip() for cell in lines[i].strip().strip("|").split("|")]
        rows.append(cells)
        i += 1
    return [row for row in rows[2:]]  # drop the header row and the |---| rule


def _marked_tables(spec_text: str, kind: str) -> list[tuple[str, list[list[str]]]]:
    lines = spec_text.splitlines()
    out = []
    for i, line in enumerate(lines):
        match = MARK.match(line.strip())
        if match and match.group(1) == kind:
            out.append((match.group(2), _table_rows(lines, i + 1)))
    return out


def syntax_elements(spec_text: str) -> list[tuple[str, str]]:
    """(table, element) for every row of every `<!-- syntax: NAME -->` table, in spec order."""
    return [(name, row[0].strip("`*")) for name, rows in _marked_tables(spec_text, "syntax") for row in rows]


def forbidden_rows(spec_text: str) -> list[tuple[str, str, str]]:
    """(rule id, forbidden condition, error class) for each row of the section 9 table."""
    return [(row[0], row[1], row[-1]) for _, rows in _marked_tables(spec_text, "forbidden") for row in rows]


def _section_of(title: str) -> str | None:
    match = SECTION_NUMBER.match(title)
    if not match:
        return None
    return match.group(1) or match.group(2)


def _blocks(spec_text: str) -> Iterable[tuple[str, str, int]]:
    """(section, text, line number) of each normative paragraph or list item; tables and code are left out.

    A forbidden-values table is passed through as one block of text "<!-- forbidden -->"
    so that its rows land in document order.
    """
    section: str | None = None
    skip_level = 0  # while inside an informative section: the level of its heading
    in_fence = False
    block: list[str] = []
    block_line = 0

    def flush() -> Iterable[tuple[str, str, int]]:
        if block and section is not None and not skip_level:
            first = block[0]
            if not (first.startswith("    ") and not LIST_ITEM.match(first)):  # indented code
                yield section, " ".join(line.strip() for line in block), block_line
        block.clear()

    for number, line in enumerate(spec_text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            yield from flush()
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        heading = HEADING.match(line)
        if heading:
            yield from flush()
            level, title = len(heading.group(1)), heading.group(2)
            if skip_level and level > skip_level:
                continue
            skip_level = level if "informative" in title.lower() else 0
            section = _section_of(title) if level > 1 else None
            continue
        mark = MARK.match(stripped)
        if mark:
            yield from flush()
            if mark.group(1) == "forbidden" and section is not None and not skip_level:
                yield section, "<!-- forbidden -->", number
            continue
        if not stripped or stripped.startswith("|"):
            yield from flush()
            continue
        if LIST_ITEM.match(line):
            yield from flush()
        if not block:
            block_line = number
        block.append(line)
    yield from flush()


def _is_abbreviation(text: str, end: int) -> bool:
    return any(text[: end + 1].endswith(abbreviation) for abbreviation in ABBREVIATIONS)


def split_sentences(text: str) -> list[str]:
    """Sentences of one paragraph: split after . ? ! followed by a space, outside parentheses.

    Ranges ("0 .. n"), decimals ("1.0"), abbreviations ("e.g.") and a full
    stop inside a parenthesis do not end a sentence; "(... .)" as a whole does.
    """
    sentences = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char in ".?!" and not (char == "." and ((i > 0 and text[i - 1] == ".") or text[i + 1: i + 2] == ".")):
            end = i + 1
            while end < len(text) and text[end] in ")\"'*":
                if text[end] == ")":
                    depth = max(depth - 1, 0)
                end += 1
            if depth == 0 and (end == len(text) or text[end] == " ") and not _is_abbreviation(text, i):
                sentences.append(text[start:end].strip())
                start = end
            i = end
            continue
        i += 1
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return [s for s in sentences if s]


def normalize(text: str) -> str:
    """One line, single spaces, no bold markers: the form ids are computed from."""
    return " ".join(text.replace("**", "").split())


def _informative(text: str) -> bool:
    """A note, or a paragraph or parenthesis marked informative ("**Seeking** (informative).")."""
    head = text[:60].lower()
    return head.startswith("note") or head.startswith("(") and "informative" in head or bool(
        re.match(r"^(\*\*[^*]+\*\*\s*)?\(informative", text, re.IGNORECASE))


def is_requirement(sentence: str) -> bool:
    """"shall" or "must" as whole words, not quoted ('"shall" states a requirement' is not one)."""
    return bool(NORMATIVE_WORD.search(QUOTED.sub("", sentence)))


def cited_rules(text: str, known: Iterable[str] | None = None) -> tuple[str, ...]:
    """The F rules a sentence cites, in order, without repeats; only rules of the table when `known` is given."""
    known_set = set(known) if known is not None else None
    out: list[str] = []
    for match in RULE_REF.finditer(text):
        rule = f"F{int(match.group(1))}"
        if rule not in out and (known_set is None or rule in known_set):
            out.append(rule)
    return tuple(out)


def _defined_term(paragraph: str) -> tuple[str, list[str]]:
    """The element a paragraph defines ("**noise_rule**: ...", "**width**, **height**: ..."), and its bold terms."""
    if not paragraph.startswith("**"):
        return "", []
    head, colon, _ = paragraph.partition(":")
    if not colon or len(head) > 80 or ". " in head:
        head = paragraph[: paragraph.index("**", 2) + 2]
    return normalize(head), re.findall(r"\*\*([^*]+)\*\*", head)


def _sentence_id(section: str, text: str, taken: set[str]) -> str:
    """4 hex digits of the sentence's SHA-1; 8 on a clash; a count for a sentence repeated in one section."""
    digest = hashlib.sha1(text.encode()).hexdigest()
    for width in (4, 8):
        candidate = f"{section}#{digest[:width]}"
        if candidate not in taken:
            return candidate
    n = 2
    while f"{section}#{digest[:8]}-{n}" in taken:
        n += 1
    return f"{section}#{digest[:8]}-{n}"


def requirements(spec_text: str) -> list[Requirement]:
    """Every normative "shall"/"must" sentence, and every row of the forbidden-values table, in spec order.

    Normative text: sections 1 to 13 and Annex B, less informative sections
    (Annex A, 1.4, 7.4, 12.10), notes, paragraphs and parentheses marked
    informative, code blocks and tables.
    """
    rows = forbidden_rows(spec_text)
    known = [rule for rule, _, _ in rows]
    out: list[Requirement] = []
    taken: set[str] = set()
    for section, text, _ in _blocks(spec_text):
        if text == "<!-- forbidden -->":
            for rule, condition, error_class in rows:
                out.append(Requirement(rule, section, normalize(f"{condition} ({error_class})"), (rule,)))
            continue
        if _informative(text):
            continue
        text = LIST_ITEM.sub("", text, count=1)
        subject, terms = _defined_term(text)
        for sentence in split_sentences(text):
            if _informative(sentence) or not is_requirement(sentence):
                continue
            if subject and (PRONOUN.match(sentence) or
                            not any(re.search(rf"\b{re.escape(term)}\b", sentence) for term in terms)):
                sentence = f"{subject}: {sentence}"  # "It shall be a defined value" says little on its own
            sentence = normalize(sentence)
            requirement_id = _sentence_id(section, sentence, taken)
            taken.add(requirement_id)
            out.append(Requirement(requirement_id, section, sentence, cited_rules(sentence, known)))
    return out
