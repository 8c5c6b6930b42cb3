"""Quality targets on the shared development questions (skipped when ../shared is absent)."""

import pytest

from service.corpus import load_corpus
from service.lookup import build_matcher
from service.offline.evaluation import evaluate, read_questions
from tests.conftest import needs_shared

pytestmark = pytest.mark.slow


def test_builtin_corpus_meets_the_quality_targets(builtin_settings):
    questions = read_questions(needs_shared("eval", "questions_dev.jsonl"))
    matcher = build_matcher(builtin_settings, load_corpus(builtin_settings.corpus_path))
    report = evaluate(
        matcher, questions, builtin_settings.answer_min_confidence, builtin_settings.clarify_min_confidence
    )
    assert report["coverage"] >= 0.6
    assert report["top1"] >= 0.85
    assert report["top3"] >= 0.95
    assert report["decision_accuracy"] >= 0.8
    singles = [m for name, m in report["methods"].items() if name != "hybrid"]
    assert report["top1"] > max(m["top1"] for m in singles)
