#!/usr/bin/env bash
# Smoke-check a built image the way a province would before rolling it out:
#   scripts/check-image.sh tthc-voice:latest          (docker, or podman when RUNTIME=podman)
# Starts it with a data volume on a read-only root, waits for /readyz, checks it runs as non-root, answers a typed
# and a spoken question (espeak-ng on this machine makes the audio), serves the answer audio,
# passes its own HEALTHCHECK, keeps the query log on the volume, and stops cleanly on SIGTERM.
# RUNTIME may carry global flags and RUN_OPTS adds `run` flags, e.g. for podman inside a sandbox:
#   RUNTIME="podman --runtime runc --cgroup-manager cgroupfs" RUN_OPTS="--ulimit nofile=16384:16384"
set -euo pipefail
IMAGE=${1:?usage: scripts/check-image.sh IMAGE}
RUNTIME=${RUNTIME:-docker}
PORT=${PORT:-18000}
NAME=tthc-image-check
BASE=http://127.0.0.1:$PORT
WORK=""
cleanup() { $RUNTIME rm -f "$NAME" >/dev/null 2>&1 || true; $RUNTIME volume rm -f "$NAME-data" >/dev/null 2>&1 || true; [ -z "$WORK" ] || rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; $RUNTIME logs --tail 40 "$NAME" >&2 || true; exit 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

cleanup
# shellcheck disable=SC2086
# As the Kubernetes manifest runs it: read-only root filesystem, /tmp scratch, no capabilities.
$RUNTIME run -d --name "$NAME" -p "127.0.0.1:$PORT:8000" -v "$NAME-data:/data" --read-only --tmpfs /tmp \
  --cap-drop ALL --security-opt no-new-privileges ${RUN_OPTS:-} "$IMAGE" >/dev/null
start=$(date +%s)
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz")" = 200 ]; do
  (( $(date +%s) - start < 300 )) || fail "not ready after 300 s"
  sleep 2
done
echo "ready after $(( $(date +%s) - start )) s"

uid=$($RUNTIME exec "$NAME" id -u)
[ "$uid" != 0 ] || fail "runs as root"
echo "runs as uid $uid"

answer=$(curl -fsS "$BASE/v1/search" -H 'content-type: application/json' -d '{"text": "làm giấy khai sinh cho con"}')
decision=$(json 'd["decision"], d["matches"][0]["code"]' <<<"$answer")
echo "typed: $decision"
audio=$(json 'd["answer_audio_url"] or ""' <<<"$answer")
[ -n "$audio" ] || fail "no answer audio for a typed question"
bytes=$(curl -fsS "$BASE$audio" | wc -c)
(( bytes > 10000 )) || fail "answer audio is $bytes bytes"
echo "answer audio: $bytes bytes"

espeak-ng -v vi -s 120 -w "$WORK/q.wav" "đăng ký kết hôn"
spoken=$(curl -fsS "$BASE/v1/query?channel=kiosk" -H 'content-type: audio/wav' --data-binary "@$WORK/q.wav")
echo "spoken: $(json 'repr(d["transcript"]), d["asr"]["engine"], d["decision"]' <<<"$spoken")"
[ -n "$(json 'd["transcript"]' <<<"$spoken")" ] || fail "spoken question not transcribed"

if [[ $RUNTIME == podman* ]]; then
  $RUNTIME healthcheck run "$NAME" || fail "HEALTHCHECK failed"
else
  sleep 35 && [ "$(docker inspect -f '{{.State.Health.Status}}' "$NAME")" = healthy ] || fail "not healthy"
fi
echo "healthcheck: ok"

t0=$(date +%s)
$RUNTIME stop -t 40 "$NAME" >/dev/null
echo "stopped in $(( $(date +%s) - t0 )) s, exit code $($RUNTIME inspect -f '{{.State.ExitCode}}' "$NAME")"
$RUNTIME logs "$NAME" 2>&1 | grep -q "Application shutdown complete" || fail "no clean shutdown in the log"
$RUNTIME start "$NAME" >/dev/null
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ]; do sleep 1; done
rows=$($RUNTIME exec "$NAME" python -c "import sqlite3; print(sqlite3.connect('/data/queries.db').execute('select count(*) from queries').fetchone()[0])")
(( rows >= 2 )) || fail "query log on the volume has $rows rows after a restart"
echo "query log kept on the volume across a restart: $rows rows"
echo "image check passed: $IMAGE"
