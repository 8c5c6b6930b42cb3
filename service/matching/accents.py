"""Put tone marks back on questions typed without them, before the embedding reads them.

A third of citizens type "dang ky khai sinh cho con": the lexical scorers fold everything
anyway, but e5 reads "dang ky" as noise. A syllable trigram model with Viterbi decoding,
counted from the corpus's own texts (names, aliases, documents, steps, answers, lexicon),
picks the most likely accented syllable for each folded one. Syllables it never saw stay
as typed. Only questions with no marks at all are restored: a partly accented question is
taken as the citizen wrote it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import cache

from service.matching.textnorm import clean, fold

_BOS = "<s>"
# Interpolation weights for trigram, bigram, unigram (a plain choice, not tuned).
_L3, _L2, _L1 = 0.5, 0.35, 0.15
# Share of the unigram taken from everyday Vietnamese frequencies rather than the corpus:
# syllable accuracy on the stripped portal questions is flat from 0.4 to 0.7 (docs/matching.md).
_EVERYDAY_WEIGHT = 0.5
_MAX_FORMS = 6  # candidates per folded syllable
_BEAM = 24  # Viterbi states kept per position


@cache
def everyday_frequencies() -> dict[str, float]:
    """Syllable frequencies of everyday Vietnamese (wordfreq: subtitles, web, Wikipedia).

    The corpus is written in officialese; "con", "bị", "mất", "đẻ" are better known to a
    general word list. Packaged data, no network; read once per process (a corpus reload
    builds a new restorer from the same list). Callers only read it.
    """
    from wordfreq import get_frequency_dict

    return {w: f for w, f in get_frequency_dict("vi").items() if w.isalpha()}


class AccentRestorer:
    """Most likely accented form of a folded syllable sequence, from syllable trigram counts."""

    def __init__(self, texts: Iterable[str], everyday: dict[str, float] | None = None) -> None:
        self._uni: Counter[str] = Counter()
        self._bi: Counter[tuple[str, str]] = Counter()
        self._tri: Counter[tuple[str, str, str]] = Counter()
        self._ctx1: Counter[str] = Counter()
        self._ctx2: Counter[tuple[str, str]] = Counter()
        # Counted a sentence at a time in C (Counter.update over zips): built at every start-up.
        for text in texts:
            cleaned = clean(text)
            if fold(cleaned) == cleaned:
                continue  # a tone-less twin ("dang ky ket hon") would teach the model to leave marks off
            seq = [_BOS, _BOS, *cleaned.split()]
            self._uni.update(seq[2:])
            self._bi.update(zip(seq[1:], seq[2:], strict=False))
            self._tri.update(zip(seq, seq[1:], seq[2:], strict=False))
            self._ctx1.update(seq[1:-1])
            self._ctx2.update(zip(seq, seq[1:-1], strict=False))
        self._everyday = everyday or {}
        forms: dict[str, set[str]] = defaultdict(set)
        for w in (*self._uni, *self._everyday):
            forms[fold(w)].add(w)
        self._total = max(sum(self._uni.values()), 1)
        # The few likeliest accented forms of each folded syllable ("ma": má, mà, mã, ma ...).
        self._forms = {k: sorted(v, key=lambda w: (-self._unigram(w), w))[:_MAX_FORMS] for k, v in forms.items()}

    @property
    def syllables(self) -> int:
        return len(self._uni)

    def _unigram(self, c: str) -> float:
        p1 = (self._uni[c] + 0.1) / (self._total + 0.1 * len(self._uni))
        if self._everyday:
            p1 = (1 - _EVERYDAY_WEIGHT) * p1 + _EVERYDAY_WEIGHT * self._everyday.get(c, 0.0)
        return p1

    def restore(self, text: str) -> str:
        """`text` as it would most likely be written with tone marks (cleaned, lower case).

        Viterbi over (previous, current) syllable pairs, with back-pointers. The search runs
        on every question typed without marks, so its inner loop reads the counts with
        `dict.get` (a Counter's missing key costs a Python call) and each candidate's unigram
        once per position.
        """
        words = clean(text).split()
        if not words or any(w != fold(w) for w in words):
            return " ".join(words)
        bi, tri, ctx1, ctx2 = self._bi.get, self._tri.get, self._ctx1.get, self._ctx2.get
        best: dict[tuple[str, str], float] = {(_BOS, _BOS): 0.0}
        back: list[dict[tuple[str, str], tuple[str, str]]] = []
        for word in words:
            weighted = [(c, _L1 * self._unigram(c)) for c in self._forms.get(word, [word])]
            step: dict[tuple[str, str], float] = {}
            came_from: dict[tuple[str, str], tuple[str, str]] = {}
            for state, score in best.items():
                a, b = state
                c1, c2 = ctx1(b, 0), ctx2(state, 0)
                for c, p1 in weighted:
                    p2 = bi((b, c), 0) / c1 if c1 else 0.0
                    p3 = tri((a, b, c), 0) / c2 if c2 else 0.0
                    s = score + math.log(_L3 * p3 + _L2 * p2 + p1)
                    key = (b, c)
                    if key not in step or s > step[key]:
                        step[key] = s
                        came_from[key] = state
            best = dict(sorted(step.items(), key=lambda kv: -kv[1])[:_BEAM])
            back.append(came_from)
        state = max(best.items(), key=lambda kv: kv[1])[0]
        out: list[str] = []
        for came_from in reversed(back):
            out.append(state[1])
            state = came_from[state]
        return " ".join(reversed(out))
