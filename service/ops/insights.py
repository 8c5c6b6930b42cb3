"""Reports for the province's officials, from the query log.

What people ask most (by week and channel), what the service could not answer or had to ask
back about (grouped, so staff add one alias for many questions), which languages are used,
and which answers people ask for are still not recorded by a person in their language.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rapidfuzz import fuzz

from service.answers.prompts import CoverageStatus, PromptCatalogue
from service.corpus import Corpus
from service.matching.textnorm import normalize

CLUSTER_SIMILARITY = 70.0  # token-set similarity (0-100) of folded questions in one group


@dataclass
class Cluster:
    texts: list[str] = field(default_factory=list)
    folded: str = ""
    decisions: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Insights:
    weeks: int
    total: int
    top: list[dict[str, Any]]  # week, channel, code, name, count
    weekly: list[dict[str, Any]]  # week, channel, count
    unanswered: list[dict[str, Any]]  # size, examples, decisions, nearest code/name
    languages: list[dict[str, Any]]  # language, channel, count
    recordings: list[dict[str, Any]]  # language, code, name, asked, status


def _week(ts: datetime) -> str:
    year, week, _ = ts.isocalendar()
    return f"{year}-W{week:02d}"


def cluster_questions(rows: list[dict[str, Any]]) -> list[Cluster]:
    """Greedy grouping: each question joins the first group it resembles, else starts one."""
    clusters: list[Cluster] = []
    for row in rows:
        folded = normalize(row["text"]).folded
        if not folded:
            continue
        home = next((c for c in clusters if fuzz.token_set_ratio(folded, c.folded) >= CLUSTER_SIMILARITY), None)
        if home is None:
            home = Cluster(folded=folded)
            clusters.append(home)
        home.texts.append(row["text"])
        home.decisions[row["decision"]] += 1
        if row["top_codes"]:
            home.codes[row["top_codes"].split(",")[0]] += 1
    return sorted(clusters, key=lambda c: -len(c.texts))


def build_insights(
    rows: list[dict[str, Any]], corpus: Corpus, catalogue: PromptCatalogue, weeks: int, now: datetime | None = None
) -> Insights:
    now = now or datetime.now(UTC)
    since = now - timedelta(weeks=weeks)
    rows = [r for r in rows if _aware(r["created_at"]) >= since]
    by_code = corpus.by_code()
    name = {code: p.name for code, p in by_code.items()}

    asked: Counter[tuple[str, str, str]] = Counter()
    weekly: Counter[tuple[str, str]] = Counter()
    languages: Counter[tuple[str, str]] = Counter()
    answered_by_language: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        week = _week(_aware(r["created_at"]))
        weekly[(week, r["channel"])] += 1
        languages[(r["language"], r["channel"])] += 1
        if r["decision"] == "answer" and r["top_codes"]:
            code = r["top_codes"].split(",")[0]
            asked[(week, r["channel"], code)] += 1
            answered_by_language[r["language"]][code] += 1

    clusters = cluster_questions([r for r in rows if r["decision"] in ("out_of_scope", "clarify")])
    unanswered = [
        {
            "size": len(c.texts),
            "examples": list(dict.fromkeys(c.texts))[:3],
            "decisions": dict(c.decisions),
            "nearest_code": c.codes.most_common(1)[0][0] if c.codes else "",
            "nearest_name": name.get(c.codes.most_common(1)[0][0], "") if c.codes else "",
        }
        for c in clusters
    ]

    recordings = []
    for language, codes in sorted(answered_by_language.items()):
        for code, count in codes.most_common():
            proc = by_code.get(code)
            if proc is None:
                continue
            status = catalogue.status(proc.prompt_id, language)
            if status is not CoverageStatus.HUMAN:
                recordings.append(
                    {"language": language, "code": code, "name": proc.name, "asked": count, "status": status.value}
                )

    return Insights(
        weeks=weeks,
        total=len(rows),
        top=[
            {"week": w, "channel": ch, "code": code, "name": name.get(code, ""), "count": n}
            for (w, ch, code), n in sorted(asked.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[1], kv[0][2]))
        ],
        weekly=[{"week": w, "channel": ch, "count": n} for (w, ch), n in sorted(weekly.items())],
        unanswered=unanswered,
        languages=[
            {"language": lang, "channel": ch, "count": n}
            for (lang, ch), n in sorted(languages.items(), key=lambda kv: -kv[1])
        ],
        recordings=recordings,
    )


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)  # SQLite returns naive UTC


def csv_rows(insights: Insights, report: str) -> list[list[str]]:
    if report == "top":
        return [["week", "channel", "code", "name", "count"]] + [
            [r["week"], r["channel"], r["code"], r["name"], str(r["count"])] for r in insights.top
        ]
    if report == "unanswered":
        return [["size", "nearest_code", "nearest_name", "decisions", "examples"]] + [
            [
                str(r["size"]),
                r["nearest_code"],
                r["nearest_name"],
                " ".join(f"{k}={v}" for k, v in r["decisions"].items()),
                " | ".join(r["examples"]),
            ]
            for r in insights.unanswered
        ]
    if report == "languages":
        return [["language", "channel", "count"]] + [
            [r["language"], r["channel"], str(r["count"])] for r in insights.languages
        ]
    return [["language", "code", "name", "asked", "status"]] + [
        [r["language"], r["code"], r["name"], str(r["asked"]), r["status"]] for r in insights.recordings
    ]


def _bars(items: list[tuple[str, int]], width: int = 520) -> str:
    """A horizontal bar chart as inline SVG: no script, no CDN, prints fine."""
    if not items:
        return "<p>Chưa có dữ liệu.</p>"
    top = max(n for _, n in items) or 1
    row = 22
    parts = [
        f'<svg role="img" width="{width + 260}" height="{row * len(items) + 4}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, n) in enumerate(items):
        y = i * row + 2
        bar = max(2, int(width * n / top))
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="13">{html.escape(label[:34])}</text>'
            f'<rect x="250" y="{y}" width="{bar}" height="{row - 6}" fill="#1f4e8c"/>'
            f'<text x="{256 + bar}" y="{y + 15}" font-size="13">{n}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(insights: Insights) -> str:
    per_week: Counter[str] = Counter()
    for r in insights.weekly:
        per_week[r["week"]] += r["count"]
    per_code: Counter[str] = Counter()
    for r in insights.top:
        per_code[f"{r['code']} {r['name']}"] += r["count"]
    sections = [
        f"<h1>Câu hỏi của người dân — {insights.weeks} tuần gần nhất ({insights.total} câu)</h1>",
        "<h2>Số câu hỏi mỗi tuần</h2>",
        _bars(sorted(per_week.items())),
        "<h2>Thủ tục được hỏi nhiều nhất</h2>",
        _bars(per_code.most_common(15)),
        '<p><a href="/admin/insights.csv?report=top">CSV theo tuần và kênh</a></p>',
        "<h2>Câu chưa trả lời được hoặc phải hỏi lại (theo nhóm)</h2>",
        "<p>Thêm cách gọi (alias) vào thủ tục gần nhất, hoặc viết câu trả lời mới.</p>",
        _table(*_csv_parts(csv_rows(insights, "unanswered")[:101])),
        '<p><a href="/admin/insights.csv?report=unanswered">CSV</a></p>',
        "<h2>Ngôn ngữ và kênh</h2>",
        _table(*_csv_parts(csv_rows(insights, "languages"))),
        "<h2>Câu trả lời được hỏi nhưng chưa có người đọc ghi âm</h2>",
        _table(*_csv_parts(csv_rows(insights, "recordings")[:101])),
        '<p><a href="/admin/insights.csv?report=recordings">CSV</a></p>',
    ]
    style = (
        "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:1.5em;max-width:70em}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.3em .5em;text-align:left}"
    )
    return (
        '<!doctype html><html lang="vi"><meta charset="utf-8"><title>Báo cáo câu hỏi</title>'
        f"<style>{style}</style><body>{''.join(sections)}</body></html>"
    )


def _csv_parts(rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    return rows[0], rows[1:]
