"""Audio in: decoding and limits, recognition engines, streaming sessions and endpointing, the worker gate."""
