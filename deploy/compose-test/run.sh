#!/usr/bin/env bash
# `make compose-test`: the docker-compose lab, run for real, from nothing.
#
# Installs the engine and Compose v2 when missing (engine.sh), starts dockerd when none answers,
# uses python:3.11-slim and the real Toxiproxy image where a registry serves them and else
# builds a Debian base (base.sh) and runs the stand-in Toxiproxy (the lab's own server,
# deploy/toxiproxy-standin.yml), builds the images, runs the docker-marked tests on the real
# engine, then per policy preset brings a fresh lab up (fresh secrets), runs the chaos suite in
# it (and, under resilient, the load container) and takes it down. The lab is always taken
# down at exit, and dockerd stopped if this run started it.
#
# Output: the first line says which Toxiproxy runs; runs/compose-test/report.txt is the
# report (counts and seconds per step), the logs of every step sit beside it.
# Exit: 0 when every step passed; 1 otherwise. An engine that cannot start is a failure, not
# a skip: CI must not go green without having run the lab.
# Knobs (environment): COMPOSE_TEST_OUT, COMPOSE_TEST_PRESETS, COMPOSE_TEST_LOAD_S, PYTHON.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=${COMPOSE_TEST_OUT:-runs/compose-test}
PYTHON=${PYTHON:-.venv/bin/python}
PRESETS=${COMPOSE_TEST_PRESETS:-resilient baseline}
LOAD_S=${COMPOSE_TEST_LOAD_S:-30}
TOXIPROXY_IMAGE=ghcr.io/shopify/toxiproxy:2.12.0
PYTHON_IMAGE=python:3.11-slim
BASE_TAG=chaoslab-base:bookworm
PULL_TIMEOUT_S=120
BUILD_TIMEOUT_S=2400  # the dependencies' layers from nothing: minutes on two cores
UP_TIMEOUT_S=300
SUITE_TIMEOUT_S=1800  # the chaos suite takes 3-5 minutes; pytest bounds each test at 300 s
mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT"/load.json
report="$OUT/report.txt"
: >"$report"
started=$SECONDS
failed=0
dc=(docker compose -f docker-compose.yml)

note() { echo "$*" | tee -a "$report"; }
# one step: its name, its log, its command; the outcome and the seconds go to the report
step() {
  local name=$1 log=$2 t0=$SECONDS rc=0
  shift 2
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then note "ok    $name ($((SECONDS - t0)) s)"
  else note "FAIL  $name: exit $rc after $((SECONDS - t0)) s (log: $log)"; failed=1; fi
  return "$rc"
}
# pytest's last line ("10 passed, 14 skipped in 301.2s") and its skip reasons, shortened
pytest_summary() {
  note "      $(grep -E '^=+ .*(passed|failed|skipped|error).* in [0-9.]+s' "$1" | tail -n 1 \
    | tr -d '=' | sed 's/^ *//')"
  grep -E '^(SKIPPED|FAILED|ERROR) ' "$1" | cut -c1-150 | sed 's/^/        /' \
    | tee -a "$report" || true
}
down() { timeout "$UP_TIMEOUT_S" "${dc[@]}" --profile tools down -v --remove-orphans; }

cleanup() {
  if docker info >/dev/null 2>&1; then
    down >>"$OUT/down.log" 2>&1 || echo "compose-test: compose down failed ($OUT/down.log)" >&2
  fi
  if [ -f "$OUT/dockerd.pid" ]; then  # started by this run: stop it, and only it
    kill "$(cat "$OUT/dockerd.pid")" 2>/dev/null || true
    rm -f "$OUT/dockerd.pid"
  fi
}
trap cleanup EXIT

# -- the engine, then the one decision the first line reports ---------------------------------
if ! bash deploy/compose-test/engine.sh "$OUT" >"$OUT/engine.log" 2>&1; then
  cat "$OUT/engine.log" >&2
  note "compose-test: FAILED: no Docker engine, so the compose lab was not run"
  exit 1
fi
if timeout "$PULL_TIMEOUT_S" docker pull -q "$TOXIPROXY_IMAGE" >"$OUT/pull.log" 2>&1; then
  note "compose-test: Toxiproxy: the real image $TOXIPROXY_IMAGE"
else
  dc+=(-f deploy/toxiproxy-standin.yml)
  note "compose-test: Toxiproxy: STAND-IN, the lab's own server (faults/toxiserver, \
chaoslab:local) serving the same API on 8474; $TOXIPROXY_IMAGE could not be pulled: \
$(tail -n 1 "$OUT/pull.log" | cut -c1-120)"
fi
sed 's/^compose-test: /      /' "$OUT/engine.log" | tee -a "$report"
if timeout "$PULL_TIMEOUT_S" docker pull -q "$PYTHON_IMAGE" >"$OUT/pull-base.log" 2>&1; then
  note "      base: $PYTHON_IMAGE (pulled)"
else
  step "base image $BASE_TAG ($PYTHON_IMAGE could not be pulled)" "$OUT/base.log" \
    bash deploy/compose-test/base.sh "$BASE_TAG" "$OUT" || exit 1
  note "      $(tail -n 1 "$OUT/base.log" | sed 's/^compose-test: //')"
  export CHAOSLAB_BASE_IMAGE=$BASE_TAG
fi
DOCKER_GID=$(stat -c %g /var/run/docker.sock)  # the chaos container joins the socket's group
export DOCKER_GID

# -- images, and the tests that need an engine but no lab --------------------------------------
step "the compose files match the topology" "$OUT/check.log" \
  "$PYTHON" -m chaoslab.compose --check || exit 1
step "build chaoslab:local and chaoslab:test" "$OUT/build.log" \
  timeout "$BUILD_TIMEOUT_S" "${dc[@]}" --profile tools build || exit 1
# a rebuild leaves the previous images untagged: drop this project's, nobody else's
docker image prune -f --filter label=com.docker.compose.project=chaoslab >/dev/null 2>&1 || true
step "docker-marked tests (real containers)" "$OUT/docker-tests.log" \
  "$PYTHON" -m pytest -p no:cacheprovider -m docker tests/chaoslab || true
pytest_summary "$OUT/docker-tests.log"

# -- the lab, once per preset ------------------------------------------------------------------
load() { CHAOSLAB_LOAD_S=$LOAD_S timeout "$UP_TIMEOUT_S" "${dc[@]}" run --rm load >"$OUT/load.json"; }
for preset in $PRESETS; do
  export CHAOSLAB_POLICIES=$preset
  down >>"$OUT/down.log" 2>&1 || true
  # fresh secrets per lab: the admin token and the key that signs client addresses
  step "secrets ($preset)" "$OUT/secrets-$preset.log" "$PYTHON" -m chaoslab.compose --secrets \
    || continue
  step "up ($preset): every container healthy" "$OUT/up-$preset.log" \
    timeout "$UP_TIMEOUT_S" "${dc[@]}" up -d --wait || continue
  step "chaos suite ($preset)" "$OUT/chaos-$preset.log" \
    timeout "$SUITE_TIMEOUT_S" "${dc[@]}" run --rm chaos || true
  pytest_summary "$OUT/chaos-$preset.log"
  if [ "$preset" = resilient ]; then
    step "load container ($preset, $LOAD_S s)" "$OUT/load.log" load || true
    note "      $(tr -d ' \n' <"$OUT/load.json")"
  fi
done

if down >>"$OUT/down.log" 2>&1; then
  note "ok    down: $("${dc[@]}" ps -a -q | wc -l) containers, \
$(docker volume ls -q --filter label=com.docker.compose.project=chaoslab | wc -l) volumes left"
else
  note "FAIL  down (log: $OUT/down.log)"; failed=1
fi
note "wall time: $((SECONDS - started)) s"
if [ "$failed" -eq 0 ]; then note "compose-test: PASSED"; else note "compose-test: FAILED"; fi
exit "$failed"
