"""Procedures that exist but are not done at the commune: where to send the citizen instead.

Most questions the commune cannot answer are about a real procedure done elsewhere
(passports, driving licences, tax, companies). Matched only against the commune
catalogue, such a question lands on whatever commune procedure shares a word with it and
gets a confident wrong answer. The importer writes the other procedures of the national
data, each with the office that handles it, to `corpus/referrals.jsonl`; a question whose
word pairs one of them explains clearly better than the best commune match is told where
to go instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from service.matching.textnorm import fold, normalize

# A referral wins when its name holds at least this share of the question's word pairs and
# this much more than the commune match does: a plain majority, and a clear lead (one pair
# in three), not a single shared word. Fixed by that reading, not fitted to questions.
REFER_MIN_SHARE = 0.5
REFER_MIN_LEAD = 0.34


class Referral(BaseModel):
    code: str = Field(pattern=r"^[0-9A-Za-z.\-_]{3,32}$")
    name: str = Field(min_length=3)
    office: str = Field(min_length=3, description="where the citizen goes, in plain words")
    field: str = ""


def word_pairs(folded: str) -> frozenset[tuple[str, str]]:
    words = folded.split()
    return frozenset(zip(words, words[1:], strict=False))


def load_referrals(path: Path) -> list[Referral]:
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Referral.model_validate_json(line) for line in lines if line.strip()]


class ReferralIndex:
    def __init__(self, referrals: Iterable[Referral]) -> None:
        self.referrals = list(referrals)
        self._pairs = [word_pairs(fold(normalize(r.name, drop_fillers=False).accented)) for r in self.referrals]
        by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, pairs in enumerate(self._pairs):
            for pair in pairs:
                by_pair[pair].append(i)
        self._by_pair = dict(by_pair)

    def __len__(self) -> int:
        return len(self.referrals)

    def best(self, pairs: frozenset[tuple[str, str]]) -> tuple[Referral | None, float]:
        """The referral whose name holds most of the question's pairs (the shortest name on a tie)."""
        if not pairs:
            return None, 0.0
        hits: dict[int, int] = defaultdict(int)
        for pair in pairs:
            for i in self._by_pair.get(pair, ()):
                hits[i] += 1
        if not hits:
            return None, 0.0
        index = max(hits, key=lambda i: (hits[i], -len(self._pairs[i]), -i))
        return self.referrals[index], hits[index] / len(pairs)

    def refer(self, pairs: frozenset[tuple[str, str]], commune_share: float) -> Referral | None:
        referral, share = self.best(pairs)
        if referral is not None and share >= REFER_MIN_SHARE and share - commune_share >= REFER_MIN_LEAD:
            return referral
        return None
