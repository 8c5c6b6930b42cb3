"""Tone-mark restoration for questions typed without marks (service/matching/accents.py)."""

import json
import math
from collections import Counter

from service.corpus import load_corpus
from service.matching.accents import AccentRestorer, everyday_frequencies
from service.matching.lexicon import load_lexicon
from service.matching.matcher import corpus_texts
from service.matching.textnorm import clean, fold
from tests.conftest import BUILTIN_CORPUS, PROJECT_ROOT, needs_shared


def test_restorer_uses_context_to_choose_the_tone():
    r = AccentRestorer(["đăng ký khai sinh cho con", "con còn nhỏ", "làm giấy khai sinh", "đăng ký kết hôn"])
    assert r.restore("dang ky khai sinh cho con") == "đăng ký khai sinh cho con"
    assert r.restore("lam giay ket hon") == "làm giấy kết hôn"


def test_restorer_leaves_accented_questions_and_unknown_syllables_alone():
    r = AccentRestorer(["đăng ký khai sinh"])
    assert r.restore("đăng ky khai sinh") == "đăng ky khai sinh"  # partly marked: taken as written
    assert r.restore("dang ky visa") == "đăng ký visa"
    assert r.restore("") == ""


def test_tone_less_twins_in_the_training_text_do_not_teach_leaving_marks_off():
    r = AccentRestorer(["dang ky ket hon", "đăng ký kết hôn"])
    assert r.restore("dang ky ket hon") == "đăng ký kết hôn"


def test_counts_equal_a_word_by_word_count_and_ties_are_ordered_by_spelling():
    texts = ["Đăng ký khai sinh, cho con.", "con còn nhỏ", "dang ky ket hon", "cỏ có cọ", "co có cò"]
    r = AccentRestorer(texts)
    uni: Counter[str] = Counter()
    tri: Counter[tuple[str, str, str]] = Counter()
    ctx2: Counter[tuple[str, str]] = Counter()
    for text in texts:
        words = clean(text).split()
        if all(w == fold(w) for w in words):
            continue
        seq = ["<s>", "<s>", *words]
        for i in range(2, len(seq)):
            uni[seq[i]] += 1
            tri[(seq[i - 2], seq[i - 1], seq[i])] += 1
            ctx2[(seq[i - 2], seq[i - 1])] += 1
    assert (r._uni, r._tri, r._ctx2) == (uni, tri, ctx2)
    assert r._forms["co"] == ["có", "co", "cò", "cọ", "cỏ"]  # "có" twice; the rest by spelling


def test_everyday_frequencies_fill_in_words_the_corpus_lacks():
    bare = AccentRestorer(["đăng ký khai sinh"])
    everyday = AccentRestorer(["đăng ký khai sinh"], everyday_frequencies())
    assert bare.restore("nguoi") == "nguoi"
    assert everyday.restore("nguoi") == "người"


def test_restorer_on_real_portal_questions_gets_most_syllables_right():
    """Accented portal questions (not used to write anything) with their marks stripped."""
    path = needs_shared("eval", "questions_unlabelled_portal.jsonl")
    corpus = load_corpus(BUILTIN_CORPUS)
    lexicon = load_lexicon(PROJECT_ROOT / "corpus" / "lexicon.jsonl")
    r = AccentRestorer(corpus_texts(list(corpus.procedures), lexicon), everyday_frequencies())
    ok = total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        gold = clean(json.loads(line)["question"])
        if gold == fold(gold):
            continue
        out = r.restore(fold(gold)).split()
        ok += sum(a == b for a, b in zip(gold.split(), out, strict=True))
        total += len(out)
    assert total > 1000
    assert ok / total >= 0.9  # measured 0.93; leaving the marks off scores 0.12


def _restore_carrying_paths(r: AccentRestorer, text: str) -> str:
    """The plain Viterbi (each state carries its whole path, Counter lookups): the reference."""
    words = text.split()
    best: dict[tuple[str, str], tuple[float, list[str]]] = {("<s>", "<s>"): (0.0, [])}
    for word in words:
        step: dict[tuple[str, str], tuple[float, list[str]]] = {}
        for (a, b), (score, path) in best.items():
            for c in r._forms.get(word, [word]):
                p2 = r._bi[(b, c)] / r._ctx1[b] if r._ctx1[b] else 0.0
                p3 = r._tri[(a, b, c)] / r._ctx2[(a, b)] if r._ctx2[(a, b)] else 0.0
                s = score + math.log(0.5 * p3 + 0.35 * p2 + 0.15 * r._unigram(c))
                if (b, c) not in step or s > step[(b, c)][0]:
                    step[(b, c)] = (s, [*path, c])
        best = dict(sorted(step.items(), key=lambda kv: -kv[1][0])[:24])
    return " ".join(max(best.values(), key=lambda v: v[0])[1])


def test_back_pointer_viterbi_restores_as_the_path_carrying_one():
    corpus = load_corpus(BUILTIN_CORPUS)
    texts = [t for p in corpus.procedures for t in (p.name, *p.aliases, *p.steps)]
    r = AccentRestorer(texts, everyday_frequencies())
    questions = [fold(clean(t)) for t in texts[::37]] + ["xin chao", "dang ky visa karaoke", "ma ma ma ma"]
    assert len(questions) > 100
    for q in questions:
        assert r.restore(q) == _restore_carrying_paths(r, q), q
