"""Which recording answers in which channel: the served language after fallback, and its URL."""

from __future__ import annotations

from service.answers.prompts import PromptCatalogue
from service.answers.transcode import AudioFormat
from service.params import Channel

CHANNEL_FORMATS = {Channel.KIOSK: AudioFormat.WAV16K, Channel.WEB: AudioFormat.OPUS, Channel.IVR: AudioFormat.ULAW8K}


def answer_audio(
    prompts: PromptCatalogue, prompt_id: str, language: str, channel: Channel | str
) -> tuple[str, str | None]:
    """(language actually served, URL of the audio in the channel's format) after fallback."""
    resolved = prompts.resolve(prompt_id, language)
    if resolved is None:
        return "vi", None  # the answer text is Vietnamese
    served = resolved.record.language
    return served, f"/v1/prompts/{served}/{prompt_id}?format={CHANNEL_FORMATS[Channel(channel)].value}"
