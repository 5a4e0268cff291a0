#!/usr/bin/env bash
# Build deploy/Dockerfile and check the running container, against a Docker daemon that is
# already running. Not part of CI (CI has no container runtime); run it by hand:
#
#   deploy/image-check.sh [BASE_IMAGE] [TAG]
#
#   BASE_IMAGE  the PYTHON_IMAGE build argument (default python:3.11-slim-bookworm); any
#               Debian bookworm image with python, venv and pip on PATH will do
#   TAG         the image to build (default newsletter:check)
#   PORT        environment: the host port to publish (default 8000, bound to 127.0.0.1)
#   HEALTH_TIMEOUT  environment: seconds to wait for the HEALTHCHECK to report healthy
#               (default 120; the Dockerfile's first check runs after about 30 s)
#
# What it does: builds the image from the repository root, runs `newsletter init-db` and
# then `newsletter serve` the way deploy/compose.yaml does (read-only root file system, a
# tmpfs on /tmp, a volume on /var/lib/newsletter, no capabilities, no-new-privileges),
# fetches /readyz, /healthz, / and /feeds/sachsen.rss, checks that the processes run as
# uid and gid 10001, that writing outside /var/lib/newsletter and /tmp fails and inside them works,
# and that `docker inspect` reports the container healthy. Prints every check; exits
# non-zero if any fails. Removes its container and volume at the end and keeps the image.
set -uo pipefail

BASE_IMAGE=${1:-python:3.11-slim-bookworm}
TAG=${2:-newsletter:check}
PORT=${PORT:-8000}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-120}
NAME=newsletter-check-$$
VOLUME=newsletter-check-$$
ROOT=$(cd "$(dirname "$0")/.." && pwd)

failures=0
pass() { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }

cleanup() {
    docker rm -f "$NAME" >/dev/null 2>&1
    docker volume rm "$VOLUME" >/dev/null 2>&1
}
trap cleanup EXIT

for tool in docker curl; do
    command -v "$tool" >/dev/null || { echo "image-check: $tool not found" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "image-check: no Docker daemon reachable" >&2; exit 2; }

echo "== build $TAG from deploy/Dockerfile (PYTHON_IMAGE=$BASE_IMAGE)"
if docker build -q -f "$ROOT/deploy/Dockerfile" --build-arg "PYTHON_IMAGE=$BASE_IMAGE" \
        -t "$TAG" "$ROOT" >/dev/null; then
    pass "docker build"
else
    echo "image-check: docker build failed (run it without -q to see why)" >&2
    exit 1
fi
size=$(docker image inspect --format '{{.Size}}' "$TAG")
pass "image $TAG: $((size / 1000 / 1000)) MB"
user=$(docker image inspect --format '{{.Config.User}}' "$TAG")
[ "$user" = newsletter ] && pass "image USER: $user" || fail "image USER is '$user', want newsletter"

RUN_OPTS=(--read-only --tmpfs /tmp -v "$VOLUME:/var/lib/newsletter"
          --cap-drop ALL --security-opt no-new-privileges:true)

echo "== newsletter init-db"
if out=$(docker run --rm "${RUN_OPTS[@]}" "$TAG" newsletter init-db 2>&1); then
    pass "init-db: $out"
else
    fail "init-db: $out"
fi

echo "== newsletter serve on 127.0.0.1:$PORT"
if ! docker run -d --name "$NAME" "${RUN_OPTS[@]}" -p "127.0.0.1:$PORT:8000" "$TAG" >/dev/null; then
    echo "image-check: docker run failed" >&2
    exit 1
fi
ready=""
for _ in $(seq 60); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ]; then
        ready=yes; break
    fi
    [ "$(docker inspect --format '{{.State.Running}}' "$NAME")" = true ] || break
    sleep 1
done
[ -n "$ready" ] || { fail "the service did not answer /readyz with 200"; docker logs "$NAME" 2>&1 | tail -20; }

for path in /readyz /healthz / /feeds/sachsen.rss; do
    res=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "http://127.0.0.1:$PORT$path")
    case $res in
        200*) pass "GET $path -> $res" ;;
        *) fail "GET $path -> $res" ;;
    esac
done

uid=$(docker exec "$NAME" id -u)
[ "$uid" = 10001 ] && pass "exec user uid $uid" || fail "exec user uid $uid, want 10001"
gid=$(docker exec "$NAME" id -g)
[ "$gid" = 10001 ] && pass "exec user gid $gid" || fail "exec user gid $gid, want 10001"
pid1=$(docker exec "$NAME" sh -c "awk '/^Uid:/ {print \$2}' /proc/1/status")
[ "$pid1" = 10001 ] && pass "server process (pid 1) uid $pid1" || fail "server process uid $pid1, want 10001"

for dir in / /etc /etc/newsletter /opt/newsletter /usr /var; do
    if docker exec "$NAME" sh -c "touch '$dir/.image-check' 2>/dev/null"; then
        fail "writing to $dir succeeded"
    else
        pass "writing to $dir fails (read-only)"
    fi
done
for dir in /var/lib/newsletter /tmp; do
    if docker exec "$NAME" sh -c "touch '$dir/.image-check' && rm '$dir/.image-check'"; then
        pass "writing to $dir works"
    else
        fail "writing to $dir failed"
    fi
done

echo "== HEALTHCHECK (up to ${HEALTH_TIMEOUT}s)"
health=""
for _ in $(seq "$HEALTH_TIMEOUT"); do
    health=$(docker inspect --format '{{.State.Health.Status}}' "$NAME")
    [ "$health" = healthy ] || [ "$health" = unhealthy ] && break
    sleep 1
done
if [ "$health" = healthy ]; then
    pass "health: $(docker inspect --format '{{json .State.Health}}' "$NAME")"
else
    fail "health: $(docker inspect --format '{{json .State.Health}}' "$NAME")"
fi

if [ "$failures" -eq 0 ]; then
    echo "image-check: all checks passed ($TAG)"
else
    echo "image-check: $failures check(s) failed ($TAG)"
    docker logs "$NAME" 2>&1 | tail -20
    exit 1
fi
