#!/usr/bin/env bash
# PyPy 3.11 for the simulator's worker processes (`chaoslab sim`, sim/interpreter.py), into
# VENV/pypy. Run by `make` after the project's own install; the simulation runs on CPython when
# this fails, and says so.
#
# Why this way: PyPI carries no interpreter, and Debian 12's pypy3 is a Python 3.9, which the
# project (3.11) cannot run. Debian 13 ("trixie") packages PyPy 7.3.19 as a Python 3.11, but
# built against glibc 2.41 where Debian 12 has 2.36. So apt itself fetches trixie's pypy3 and
# the libraries it links to (the archive's signatures checked against the machine's Debian
# keyring, as for any package), into a private folder: nothing is installed on the system and
# the system's libc is untouched. The launcher starts PyPy with trixie's own dynamic loader and
# libraries, beside the system's. The worker's Python packages are PyPy wheels from PyPI
# (pip --target); pydantic stays below 2.12, whose pydantic-core needs PyPy 7.3.20's C API.
#
# Usage: deploy/pypy/install.sh VENV    (VENV/bin/python is the project's CPython)
# Knobs: DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
VENV=$(cd "${1:?usage: install.sh VENV}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEST=$VENV/pypy
ARCH=$(dpkg --print-architecture)
case $ARCH in
  amd64) TRIPLET=x86_64-linux-gnu; WHEEL=x86_64 ;;
  arm64) TRIPLET=aarch64-linux-gnu; WHEEL=aarch64 ;;
  *) echo "pypy: no PyPy for $ARCH here; the simulator runs on CPython" >&2; exit 1 ;;
esac
# pypy3's Pre-Depends in trixie, and the C library they all need
PACKAGES="pypy3 pypy3-lib libc6 libexpat1 libffi8 libssl3t64 libsqlite3-0 libgdbm6t64
  libbz2-1.0 liblzma5 libncursesw6 libtinfo6 zlib1g libgcc-s1"
# what `import sim.runner` needs (tests/sim/test_interpreter.py checks the list is whole)
WHEELS="simpy>=4.1 pydantic>=2.6,<2.12 jdatetime>=5.0 httpx>=0.27 rich>=13 tqdm>=4.66"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
cat >"$work/trixie.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_opts=(-o "Dir::Etc::SourceList=$work/trixie.sources" -o "Dir::Etc::SourceParts=-"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
          -o "APT::Architecture=$ARCH" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root" -qq)
apt-get "${apt_opts[@]}" update
# shellcheck disable=SC2086
(cd "$work/debs" && apt-get "${apt_opts[@]}" download $PACKAGES)
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$work/root"
done

LOADER=$(cd "$work/root/usr/lib/$TRIPLET" && ls ld-linux-*.so.*)
rm -rf "$DEST.new"
mkdir -p "$DEST.new/bin"
mv "$work/root" "$DEST.new/root"
# shellcheck disable=SC2086
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile \
  --target "$DEST.new/site" --implementation pp --python-version 3.11 --abi pypy311_pp73 \
  --platform "manylinux2014_$WHEEL" --platform "manylinux_2_28_$WHEEL" --only-binary=:all: \
  $WHEELS
cat >"$DEST.new/bin/pypy3" <<EOF
#!/bin/sh
# PyPy 3.11 from Debian 13 on its own loader and libraries (deploy/pypy/install.sh)
here=\$(dirname "\$(dirname "\$(readlink -f "\$0")")")
lib=\$here/root/usr/lib/$TRIPLET:\$here/root/lib/$TRIPLET
export PYTHONPATH=\$here/site\${PYTHONPATH:+:\$PYTHONPATH}
exec "\$here/root/usr/lib/$TRIPLET/$LOADER" \\
  --library-path "\$lib" "\$here/root/usr/bin/pypy3.11" "\$@"
EOF
chmod +x "$DEST.new/bin/pypy3"
# apt byte-compiles a package's modules when it installs one; unpacked, they are compiled here
# once, or every worker would compile PyPy's standard library again (0.8 s of each start)
"$DEST.new/bin/pypy3" -m compileall -q -j 0 -x '/(test|tests|idlelib|tkinter|turtledemo)/' \
  "$DEST.new/root/usr/lib/pypy3.11" "$DEST.new/site" >/dev/null
# the worker must import, or nothing is put in place
(cd "$ROOT" && "$DEST.new/bin/pypy3" -c "import sim.runner")
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
echo "pypy: $("$DEST/bin/pypy3" -c 'import sys; print(sys.version.split(chr(10))[-1])') in $DEST"
