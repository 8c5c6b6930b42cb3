"""Procedures that are one procedure: the same name published by several provinces or agencies.

"Hỗ trợ phát triển sản xuất cộng đồng" appears eleven times; shown eleven times it fills the
kiosk with identical buttons and splits the confidence between twins. Siblings are grouped by
their name (folded, "Thủ tục" and punctuation removed) — only exact equality: names that differ
by one word ("cấp mới" / "điều chỉnh" / "gia hạn") are different procedures. Each group is
shown once, as its representative: the province's own code when it names one, else the
commune-level record with a curated answer and the most complete paperwork.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from service.corpus import Procedure
from service.matching.textnorm import normalize
from service.names import short_name


def sibling_key(name: str) -> str:
    return normalize(short_name(name), drop_fillers=False).folded


def _rank(proc: Procedure) -> tuple[bool, bool, bool, int]:
    return (proc.essential, "cấp xã" in proc.level.lower(), bool(proc.fee), len(proc.documents))


class SiblingGroups:
    """Group id and representative of every procedure, in corpus order."""

    def __init__(self, procedures: Sequence[Procedure], preferred_codes: Iterable[str] = ()) -> None:
        preferred = set(preferred_codes)
        keys = [sibling_key(p.name) for p in procedures]
        members: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            members.setdefault(key, []).append(i)
        self.representative = np.arange(len(procedures), dtype=np.int64)
        self._codes: list[frozenset[str]] = [frozenset()] * len(procedures)
        self._groups: list[tuple[int, np.ndarray]] = []  # (representative, members) of groups of two or more
        for idx in members.values():
            own = [i for i in idx if procedures[i].code in preferred]
            rep = own[0] if own else max(idx, key=lambda i: _rank(procedures[i]))
            codes = frozenset(procedures[i].code for i in idx)
            for i in idx:
                self.representative[i] = rep
                self._codes[i] = codes
            if len(idx) > 1:
                self._groups.append((rep, np.asarray(idx)))
        self.is_representative = self.representative == np.arange(len(procedures))
        self.groups = len(self._groups)

    def codes(self, index: int) -> frozenset[str]:
        """Every code of the group that procedure `index` belongs to."""
        return self._codes[index]

    def collapse(self, scores: np.ndarray) -> np.ndarray:
        """Each group's best score on its representative; the other members drop out (-1).

        Procedures on the last axis: one query's scores, or one row per query.
        """
        out = np.array(scores, copy=True)
        for rep, idx in self._groups:
            out[..., rep] = scores[..., idx].max(axis=-1)
        out[..., ~self.is_representative] = -1.0
        return out
