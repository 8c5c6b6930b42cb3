import math
from pathlib import Path

import numpy as np
import pytest

from service.speech.audio import AudioError, AudioTooLargeError, UnsupportedAudioError, decode_audio, parse_content_type
from tests.speech import convert, espeak, wav_bytes


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return espeak("làm giấy khai sinh cho con", tmp_path_factory.mktemp("a") / "ks.wav")


@pytest.mark.parametrize(
    ("suffix", "content_type", "args"),
    [
        ("wav", "audio/wav", []),
        ("mp3", "audio/mpeg", []),
        ("ogg", "audio/ogg", ["-c:a", "libopus"]),
        ("webm", "audio/webm", ["-c:a", "libopus", "-ar", "48000"]),
        ("flac", "audio/flac", []),
        ("m4a", "audio/mp4", ["-c:a", "aac"]),
        ("amr", "audio/amr", ["-ar", "8000", "-ac", "1", "-c:a", "libopencore_amrnb"]),
        ("wav", None, []),
    ],
)
def test_common_formats_decode_to_mono_16k(speech_wav, tmp_path, suffix, content_type, args):
    try:
        src = convert(speech_wav, tmp_path / f"s.{suffix}", *args)
    except Exception:
        pytest.skip(f"this ffmpeg cannot encode {suffix}")
    pcm = decode_audio(src.read_bytes(), content_type)
    assert pcm.sample_rate == 16000
    assert pcm.samples.dtype == np.int16
    assert 1.5 < pcm.duration_s < 3.5


def test_raw_pcm_with_declared_rate_and_telephone_rate(speech_wav, tmp_path):
    raw8k = convert(speech_wav, tmp_path / "s.raw", "-f", "s16le", "-ar", "8000", "-ac", "1")
    pcm = decode_audio(raw8k.read_bytes(), "audio/L16; rate=8000")
    assert pcm.sample_rate == 16000 and 1.5 < pcm.duration_s < 3.5  # upsampled for wideband models
    kept = decode_audio(raw8k.read_bytes(), "audio/L16", raw_rate=8000, target_rate=8000)
    assert kept.sample_rate == 8000
    with pytest.raises(AudioError, match="sample rate"):
        decode_audio(raw8k.read_bytes(), "audio/L16")


def test_every_bad_input_class_has_its_status(speech_wav):
    good = speech_wav.read_bytes()
    cases = [
        (b"", AudioError, 400, "empty"),
        (wav_bytes(np.zeros(16000, np.int16)), AudioError, 400, "silent"),
        (b"this is not audio at all" * 50, AudioError, 400, "could not be decoded"),
        (good[:200], AudioError, 400, "truncated"),
    ]
    for data, error, status, words in cases:
        with pytest.raises(error, match=words) as info:
            decode_audio(data, "audio/wav")
        assert info.value.status_code == status
    with pytest.raises(UnsupportedAudioError) as info:
        decode_audio(good, "text/plain")
    assert info.value.status_code == 415
    with pytest.raises(AudioTooLargeError) as info:
        decode_audio(good, "audio/wav", max_bytes=1000)
    assert info.value.status_code == 413
    tone = (8000 * np.sin(np.arange(16000 * 5) * 2 * math.pi * 440 / 16000)).astype(np.int16)
    with pytest.raises(AudioTooLargeError, match="limit of 2 s"):
        decode_audio(wav_bytes(tone), "audio/wav", max_seconds=2)
    with pytest.raises(AudioError, match="16-bit"):
        decode_audio(b"\x00\x01\x02", "audio/L16; rate=16000")


def test_content_type_parsing():
    assert parse_content_type("audio/L16; rate=8000; channels=1") == ("audio/l16", {"rate": "8000", "channels": "1"})
    assert parse_content_type(None) == ("", {})


def test_level_normalisation_lifts_quiet_speech_without_clipping():
    from service.speech.audio import level_dbfs, normalise_level

    t = np.arange(16000) / 16000
    quiet = (300 * np.sin(2 * math.pi * 200 * t)).astype(np.int16)  # about -43 dBFS
    lifted = normalise_level(quiet, -20.0)
    assert abs(level_dbfs(lifted) - -20.0) < 0.1
    spiky = quiet.copy()
    spiky[100] = 20000  # one loud click: the gain stops where it would clip
    held = normalise_level(spiky, -20.0)
    assert int(np.abs(held.astype(np.int32)).max()) <= 32000 and level_dbfs(held) < -20.0
    assert not normalise_level(np.zeros(800, np.int16), -20.0).any()
