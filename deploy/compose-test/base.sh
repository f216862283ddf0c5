#!/usr/bin/env bash
# The base image of the lab's images where no registry serves python:3.11-slim: Debian
# bookworm (Python 3.11) from Debian's own packages with debootstrap, imported into the engine.
#
# Usage: base.sh TAG LOG_DIR   (no-op when TAG exists: the base is built once per machine)
# What it has that the Dockerfile relies on, as python:3.11-slim has it: `python` and `pip` on
# PATH (a venv at /opt/python: bookworm's own python3 refuses pip installs, PEP 668), and
# `useradd`. It also carries this host's CA bundle, and pip uses it: where the host reaches
# PyPI through a TLS-intercepting egress proxy, a build does too.
set -euo pipefail

tag=${1:?usage: base.sh TAG LOG_DIR}
log_dir=${2:?usage: base.sh TAG LOG_DIR}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "compose-test: base $tag already built"
  exit 0
fi
mkdir -p "$log_dir"
root=$(mktemp -d /var/tmp/chaoslab-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "compose-test: building base $tag with debootstrap (log: $log_dir/debootstrap.log)"
debootstrap --variant=minbase --include=python3,python3-venv bookworm "$root" "$MIRROR" \
  >"$log_dir/debootstrap.log" 2>&1 \
  || { echo "compose-test: debootstrap failed (see $log_dir/debootstrap.log)" >&2; exit 1; }
chroot "$root" /usr/bin/python3 -m venv /opt/python >>"$log_dir/debootstrap.log" 2>&1
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
if [ -f "$CA_BUNDLE" ]; then
  mkdir -p "$root/etc/ssl/certs" && cp "$CA_BUNDLE" "$root$CA_BUNDLE"
fi
# what an image does not need: the package cache and lists, docs, man pages, translations
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change "ENV PIP_CERT=$CA_BUNDLE SSL_CERT_FILE=$CA_BUNDLE" \
  --change 'CMD ["python3"]' \
  --message "debootstrap --variant=minbase bookworm, python3 and a venv at /opt/python" \
  - "$tag" >/dev/null
echo "compose-test: base $tag: $(docker run --rm "$tag" python --version)"
