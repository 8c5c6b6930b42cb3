"""How intelligible the synthetic answers are, as far as a machine can tell.

    .venv/bin/python bench/synthetic_speech.py [--limit 20]

No ear is available where the project is built, so a Vietnamese recogniser trained on real
speech (viet-asr) stands in: it transcribes the essential answers as setup rendered them with
espeak-ng (audio_prompts/synthetic.jsonl) and the table gives the WER per answer, pooled, and
the most frequent confusions. It measures the voice, not the recogniser: the same engine gets
WER 0.33 on real read speech (bench/asr_real.py). Run after changing the voice or the texts.
"""

from __future__ import annotations

import argparse
import collections
import difflib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.config import Settings  # noqa: E402
from service.corpus import load_corpus  # noqa: E402
from service.lookup import build_transcriber  # noqa: E402
from service.matching.textnorm import clean  # noqa: E402
from service.offline.asr_eval import error_counts  # noqa: E402
from service.speech.audio import decode_audio  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()
    settings = Settings(asr_engine="vietasr")
    corpus = load_corpus(settings.corpus_path)
    transcriber = build_transcriber(settings, corpus)
    if transcriber is None:
        raise SystemExit("viet-asr is not available")
    rows = (settings.prompts_dir / "synthetic.jsonl").read_text(encoding="utf-8").splitlines()
    rendered = {r["prompt_id"]: r for r in map(json.loads, rows) if r["language"] == "vi"}
    essential = [p for p in corpus.procedures if p.essential and p.prompt_id in rendered][: args.limit]
    word_edits = words = 0
    confusions: collections.Counter[str] = collections.Counter()
    print(f"{'code':<10} {'WER':>5}  heard")
    for proc in essential:
        record = rendered[proc.prompt_id]
        audio = (settings.prompts_dir / record["file"]).read_bytes()
        heard = transcriber.transcribe(decode_audio(audio, None, target_rate=transcriber.sample_rate)).text
        edits, n, _, _ = error_counts(record["text"], heard)
        word_edits, words = word_edits + edits, words + n
        said, got = clean(record["text"]).split(), clean(heard).split()
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=said, b=got).get_opcodes():
            if op != "equal" and i2 - i1 <= 4:
                confusions[f"{' '.join(said[i1:i2])} → {' '.join(got[j1:j2])}"] += 1
        print(f"{proc.code:<10} {edits / n:>5.2f}  {heard[:90]}")
    print(f"\npooled WER {word_edits / max(words, 1):.3f} over {words} words of {len(essential)} answers")
    print("most frequent confusions:")
    for confusion, count in confusions.most_common(12):
        print(f"  {count:>3}  {confusion}")


if __name__ == "__main__":
    main()
