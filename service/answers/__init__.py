"""What the citizen hears and reads: reply wording, languages and fallback, the prompt catalogue,
transcoding, recordings, coverage, kiosk tiles."""
