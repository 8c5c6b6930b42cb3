# tthc-voice: offline procedure lookup service.
# Build: docker build -t tthc-voice [--build-arg VOSK_SHA256=...] .
# Run:   docker run -p 8000:8000 -v tthc-data:/data tthc-voice   (compose files: deploy/compose/)
FROM python:3.11-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libgomp1 ffmpeg espeak-ng \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# CPU-only torch: the default wheel drags in several GB of CUDA libraries. A province with
# its own package mirror passes --build-arg TORCH_INDEX_URL=... (and PIP_INDEX_URL for the rest).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_INDEX_URL=https://pypi.org/simple
RUN pip install --no-cache-dir torch==2.13.0 --index-url "$TORCH_INDEX_URL" --extra-index-url "$PIP_INDEX_URL"
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip install --no-cache-dir .
COPY corpus ./corpus
COPY audio_prompts ./audio_prompts
RUN TTHC_MODELS_DIR=/app/models tthc-voice models prepare
# Every answer speaks from day one (synthetic Vietnamese, marked so); people's recordings replace them.
RUN TTHC_CORPUS_PATH=/app/corpus/procedures.jsonl TTHC_PROMPTS_DIR=/app/audio_prompts tthc-voice prompts synthesize
# Production speech: the official Vietnamese Vosk model, verified against a pinned checksum.
ARG VOSK_SHA256=""
RUN if [ -n "$VOSK_SHA256" ]; then \
      TTHC_MODELS_DIR=/app/models tthc-voice models fetch vosk-vn --sha256 "$VOSK_SHA256"; \
    else echo "VOSK_SHA256 not given: the image will use Whisper base for speech"; fi

FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg espeak-ng libgomp1 curl \
    && rm -rf /var/lib/apt/lists/* && useradd --create-home --uid 10001 tthc
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    TTHC_CORPUS_PATH=/app/corpus/procedures.jsonl \
    TTHC_MODELS_DIR=/app/models \
    TTHC_PROMPTS_DIR=/app/audio_prompts \
    TTHC_DATA_DIR=/data \
    TTHC_HOST=0.0.0.0 \
    HF_HUB_OFFLINE=1 \
    MALLOC_ARENA_MAX=2
RUN mkdir -p /data && chown tthc /data && chown -R tthc /app/audio_prompts
USER tthc
VOLUME ["/data"]
EXPOSE 8000 9092
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s CMD curl -fsS http://127.0.0.1:8000/readyz || exit 1
CMD ["tthc-voice", "serve"]
