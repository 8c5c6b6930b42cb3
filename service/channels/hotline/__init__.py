"""The telephone hotline: Asterisk AudioSocket framing and one call's dialogue."""
