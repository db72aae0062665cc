"""Cutting a page into passages small enough to embed and precise enough to cite.

A passage holds about 120 to 180 words of the page (the sentence model reads at most 256 word
pieces, about 190 English words), cut between sentences where it can and between words where a
sentence is longer than a passage. Each passage after the first repeats the end of the one before
(a sentence of up to 25 words), so a fact that straddles a cut is whole in one of them, and each
starts with the page's title, so that a passage about "opening hours" still says whose hours.
"""

import math
import re

MAX_WORDS = 180
OVERLAP_WORDS = 25
OVERLAP_FALLBACK_WORDS = 12  # when the last sentence is longer than OVERLAP_WORDS

# A sentence ends with . ! ? or … (perhaps followed by a closing quote or bracket), then space and
# something that starts a sentence.
_SENTENCE_BREAK = re.compile(
    r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)\]]))\s+(?=[\"'“‘(\[]?[A-Z0-9À-Ý])",
)


class _Unit:
    """A sentence (or a piece of an overlong one) and whether it starts a paragraph."""

    __slots__ = ("words", "starts_paragraph")

    def __init__(self, words: list[str], starts_paragraph: bool):
        self.words = words
        self.starts_paragraph = starts_paragraph


def _units(content: str) -> list[_Unit]:
    units: list[_Unit] = []
    for paragraph in content.splitlines():
        first = True
        for sentence in _SENTENCE_BREAK.split(paragraph.strip()):
            words = sentence.split()
            pieces = math.ceil(len(words) / MAX_WORDS)  # an overlong sentence: even pieces, cut between words
            for piece in range(pieces):
                start, end = len(words) * piece // pieces, len(words) * (piece + 1) // pieces
                units.append(_Unit(words[start:end], first))
                first = False
    return units


def _join(units: list[_Unit]) -> str:
    text = ""
    for unit in units:
        separator = "" if not text else ("\n" if unit.starts_paragraph else " ")
        text += separator + " ".join(unit.words)
    return text


def _overlap(units: list[_Unit]) -> list[_Unit]:
    """The end of a passage that the next one repeats: whole sentences if short enough, else a few words."""
    kept: list[_Unit] = []
    count = 0
    for unit in reversed(units):
        if count + len(unit.words) > OVERLAP_WORDS:
            break
        kept.insert(0, unit)
        count += len(unit.words)
    if not kept and units:
        kept = [_Unit(units[-1].words[-OVERLAP_FALLBACK_WORDS:], False)]
    return kept


def _fewest_passages(units: list[_Unit]) -> int:
    """How many passages the sentences need at the least: each filled up to MAX_WORDS in turn."""
    passages, count = 1, 0
    for unit in units:
        if count and count + len(unit.words) > MAX_WORDS:
            passages, count = passages + 1, 0
        count += len(unit.words)
    return passages


def _group(units: list[_Unit], total: int, passages: int) -> list[list[_Unit]]:
    """The sentences spread evenly over that many passages: 300 words give two of ~150, not 180 and
    120; 22 sentences of 23 words four of 5 or 6 sentences, not three of 7 and one of 1."""
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    count = done = 0
    for unit in units:
        size = len(unit.words)
        if current:
            target = (total - done) / max(1, passages - len(groups))
            # Close the passage before this sentence if it would overflow, or land further past the
            # target than the passage now falls short of it.
            if count + size > MAX_WORDS or 2 * count + size > 2 * target:
                groups.append(current)
                current, done, count = [], done + count, 0
        current.append(unit)
        count += size
    groups.append(current)
    return groups


def chunk_page(title: str, content: str) -> list[str]:
    """The page's passages, in order, each prefixed with the title; none for a page without text."""
    units = [unit for unit in _units(content or "") if unit.words]
    total = sum(len(unit.words) for unit in units)
    if not total:
        return []
    groups = _group(units, total, passages=_fewest_passages(units))
    prefix = " ".join((title or "").split())
    passages = []
    for number, group in enumerate(groups):
        body = _join((_overlap(groups[number - 1]) if number else []) + group)
        passages.append(f"{prefix}\n{body}" if prefix else body)
    return passages
