#!/usr/bin/env bash
# Build the wzp-opus-dnn wheel: libopus 1.6.1 with deep PLC + OSCE (packaging/opus_dnn), for this
# Linux machine, into dist/opus/ (prints the wheel's path on its last line).
#
#     packaging/build_opus_wheel.sh [--install]      # --install: pip install it into .venv
#
# The source is the libopus 1.6.1 *release tarball* (the git tree lacks the model weights), taken
# from Debian's source package of opus 1.6.1-1 (sid) with `apt-get source --download-only` through a
# private apt configuration under build/opus-apt/: the system's sources and package lists are not
# touched. The mirror is the one this machine's apt already uses. WZP_OPUS_TARBALL=/path skips the
# download. The tarball's SHA-256 is checked (packaging/opus_dnn/setup.py). Needs gcc, make, xz.
# Takes about 40 s of compiling on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
DEB_VERSION=1.6.1-1
WORK=$ROOT/build/opus-apt
OUT=$ROOT/dist/opus
mkdir -p "$WORK/src" "$OUT"

mirror() {
  # The Debian archive URI this machine's apt uses (deb822 .sources files, then the one-line format).
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' \
        | grep -E '/debian/?$' | head -n1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hsE '^deb(-src)? ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
          | sed -E 's/\[[^]]*\]//' | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  fi
  [ -n "$uri" ] || { echo "build_opus_wheel: no Debian archive in this machine's apt sources" >&2; return 1; }
  echo "${uri%/}"
}

tarball=${WZP_OPUS_TARBALL:-}
if [ -z "$tarball" ]; then
  tarball=$WORK/src/opus_1.6.1.orig.tar.xz
  if [ ! -f "$tarball" ]; then
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$keyring" ] || { echo "build_opus_wheel: $keyring missing (apt-get install debian-archive-keyring)" >&2; exit 1; }
    echo "deb-src [signed-by=$keyring] $(mirror) sid main" > "$WORK/sources.list"
    mkdir -p "$WORK/lists/partial"
    APT=(-o "Dir::Etc::sourcelist=$WORK/sources.list" -o "Dir::Etc::sourceparts=/nonexistent"
         -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
         -o "APT::Sandbox::User=root")
    echo "build_opus_wheel: fetching opus $DEB_VERSION's source (private apt configuration in $WORK)"
    apt-get "${APT[@]}" update -qq
    (cd "$WORK/src" && apt-get "${APT[@]}" source --download-only -qq "opus=$DEB_VERSION")
    rm -rf "$WORK/lists"  # 23 MB of sid's source index, needed only for that download
  fi
fi

echo "build_opus_wheel: building libopus with deep PLC + OSCE from $tarball"
rm -f "$OUT"/wzp_opus_dnn-*.whl
start=$(date +%s)
WZP_OPUS_TARBALL=$tarball "$PY" -m pip wheel -q --no-deps -w "$OUT" "$ROOT/packaging/opus_dnn" \
  2>&1 | grep -v "^WARNING: Location" || true
wheel=$(ls "$OUT"/wzp_opus_dnn-*.whl 2>/dev/null | head -n1)
[ -n "$wheel" ] || { echo "build_opus_wheel: no wheel was built" >&2; exit 1; }
echo "build_opus_wheel: built in $(( $(date +%s) - start )) s: $(du -h "$wheel" | cut -f1)"
if [ "${1:-}" = "--install" ]; then
  "$PY" -m pip install -q --force-reinstall --no-deps "$wheel" 2>&1 | grep -v "^WARNING: Location" || true
fi
echo "$wheel"
