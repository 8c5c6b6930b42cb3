"""Real decoding: Whisper base on Vietnamese, the PyPI Korean Vosk model for the Vosk path."""

import json
from pathlib import Path

import pytest

from service.config import PROJECT_ROOT
from service.matching.textnorm import normalize
from service.offline.model_prepare import packaged_vosk_model, prepare_whisper_model
from service.speech.asr import VoskTranscriber, WhisperTranscriber, build_grammar, collapse_repetitions
from service.speech.audio import decode_audio
from tests.conftest import needs_shared
from tests.speech import espeak

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    return WhisperTranscriber(prepare_whisper_model(PROJECT_ROOT / "models"))


@pytest.fixture(scope="module")
def vosk_ko() -> VoskTranscriber:
    return VoskTranscriber(packaged_vosk_model())


def _cer(ref: str, hyp: str) -> float:
    from rapidfuzz.distance import Levenshtein

    from service.matching.textnorm import clean

    r, h = clean(ref), clean(hyp)
    return Levenshtein.distance(r, h) / max(len(r), 1)


def test_whisper_transcribes_real_vietnamese_speech(whisper):
    manifest = needs_shared("speech", "manifest.jsonl")
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
    vivos = [r for r in rows if r["file"].startswith("vivos") and r["duration_s"] > 3.5][:4]
    cers = []
    for row in vivos:
        pcm = decode_audio((manifest.parent / row["file"]).read_bytes(), None)
        result = whisper.transcribe(pcm)
        assert result.engine == "whisper" and result.text
        assert 0.0 < result.confidence <= 1.0
        cers.append(_cer(row["transcript"], result.text))
    # Whisper base is weak on Vietnamese; still far from random text (CER of noise ~ 0.9).
    assert sum(cers) / len(cers) < 0.4, cers


def test_whisper_on_generated_speech_runs_in_real_time(whisper, tmp_path):
    pcm = decode_audio(espeak("đăng ký kết hôn", tmp_path / "q.wav", speed=120).read_bytes(), "audio/wav")
    whisper.transcribe(pcm)  # the first decode pays for warming CTranslate2 up
    result = whisper.transcribe(pcm)
    assert result.duration_s == pytest.approx(pcm.duration_s)
    assert 0 < result.elapsed_s < result.duration_s, "slower than real time"
    # plumbing, not accuracy: espeak is not a human voice, but these three words come through
    assert "kết hôn" in normalize(result.text).accented, result.text


def test_vosk_decodes_real_korean_speech_with_a_grammar(vosk_ko, tmp_path):
    wav = espeak("안녕하세요", tmp_path / "ko.wav", voice="ko", speed=140)
    pcm = decode_audio(wav.read_bytes(), "audio/wav", target_rate=vosk_ko.sample_rate)
    free = vosk_ko.transcribe(pcm)
    assert free.engine == "vosk" and free.words and all(0 <= w.conf <= 1 for w in free.words)
    assert free.words[-1].end <= pcm.duration_s + 0.1
    for grammar in (["안녕하세요", "감사합니다"], ["감사합니다", "안녕하세요"]):
        assert vosk_ko.transcribe(pcm, grammar=grammar).text == "안녕하세요"


def test_vosk_telephone_audio_is_upsampled_to_the_model_rate(vosk_ko, tmp_path):
    wav = espeak("안녕하세요", tmp_path / "ko.wav", voice="ko", speed=140)
    import subprocess

    raw = tmp_path / "ko8k.raw"
    subprocess.run(
        ["ffmpeg", "-y", "-loglevel", "error", "-i", str(wav), "-f", "s16le", "-ar", "8000", "-ac", "1", str(raw)],
        check=True,
    )
    pcm = decode_audio(raw.read_bytes(), "audio/L16; rate=8000", target_rate=vosk_ko.sample_rate)
    assert pcm.sample_rate == 16000
    assert vosk_ko.transcribe(pcm, grammar=["안녕하세요", "감사합니다"]).text == "안녕하세요"
    with pytest.raises(ValueError, match="16000 Hz"):
        vosk_ko.transcribe(decode_audio(raw.read_bytes(), "audio/L16; rate=8000", target_rate=8000))


def test_grammar_keeps_known_words_and_unk():
    assert build_grammar(["Đăng ký khai sinh", "đăng ký khai sinh", "nhập hộ khẩu"], None) == [
        "đăng ký khai sinh",
        "nhập hộ khẩu",
        "[unk]",
    ]
    assert build_grammar(["khai sinh xyz"], {"khai", "sinh"}) == ["khai sinh", "[unk]"]


def test_repetition_loops_are_collapsed():
    assert collapse_repetitions("khai sinh khai sinh khai sinh khai sinh") == "khai sinh"
    assert collapse_repetitions("đăng ký đăng ký kết hôn") == "đăng ký đăng ký kết hôn"  # two is speech
    assert collapse_repetitions("à à à à làm giấy tờ") == "à làm giấy tờ"
    looped = "chế độ, phê nội hồ đô, phê nội hồ đô, phê nội hồ đô, phê nội hồ đô, phê nội h"
    assert collapse_repetitions(looped) == "chế độ, phê nội hồ đô phê nội h"


def test_missing_models_are_reported(tmp_path: Path):
    from service.speech.asr import EngineUnavailableError

    with pytest.raises(EngineUnavailableError, match="models prepare"):
        WhisperTranscriber(tmp_path)
    with pytest.raises(EngineUnavailableError):
        VoskTranscriber(tmp_path)


def test_error_counts_are_word_and_character_edit_distances():
    from service.offline.asr_eval import error_counts

    assert error_counts("Khách sạn", "khách sạn.") == (0, 2, 0, 9)
    assert error_counts("đăng ký kết hôn", "đăng kí kết hôn") == (1, 4, 1, 15)  # a wrong tone is a wrong word
    assert error_counts("a b c", "") == (3, 3, 5, 5)


def test_eval_asr_on_a_small_manifest(whisper, tmp_path):
    from service.offline.asr_eval import error_counts, evaluate_asr

    espeak("xin chào", tmp_path / "c.wav", speed=120)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        json.dumps({"file": "c.wav", "transcript": "xin chào"})
        + "\n"
        + json.dumps({"file": "broken.wav", "transcript": "x"})
        + "\n",
        encoding="utf-8",
    )
    report = evaluate_asr(whisper, manifest)
    assert report["clips"] == 1 and report["undecodable"] == 1
    # the report's figures are the clip's own: the same transcript scored by hand
    hyp = whisper.transcribe(decode_audio((tmp_path / "c.wav").read_bytes(), None)).text
    word_edits, words, char_edits, chars = error_counts("xin chào", hyp)
    assert report["cer"] == pytest.approx(char_edits / chars) and report["wer"] == pytest.approx(word_edits / words)
    assert report["empty_outputs"] == (not hyp.strip()) and report["rtf"] > 0 and report["latency_p50_s"] > 0
