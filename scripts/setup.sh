#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Install everything `make demo` and `make test` need, skipping what is there:
# Debian packages, a virtual environment from the system Python (so Debian's
# GNU Radio bindings import), pinned Python packages, the semanticnn library
# in editable mode, and gr-semanticnn built and installed into the environment.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
SYS_PY=/usr/bin/python3
APT_PACKAGES=(gnuradio gnuradio-dev python3-venv cmake dataset-fashion-mnist)

say() { echo "setup: $*"; }
fail() { echo "setup: error: $*" >&2; exit 1; }

gr_version() { "$SYS_PY" -c 'from gnuradio import gr; print(gr.version())' 2>/dev/null || true; }

# 1. The platform: Debian 12 with Python 3.11, or any system whose Python
# already imports GNU Radio 3.10 (Debian or an Ubuntu PPA).
[ -x "$SYS_PY" ] || fail "$SYS_PY not found; this project needs the system Python that GNU Radio 3.10 is built for"
OS_ID=$(. /etc/os-release 2>/dev/null && echo "${ID:-unknown} ${VERSION_ID:-unknown}")
PY_VERSION=$("$SYS_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
GR_VERSION=$(gr_version)
if [ "$OS_ID" != "debian 12" ] || [ "$PY_VERSION" != "3.11" ]; then
    case "$GR_VERSION" in
        3.10.*) say "found $OS_ID with Python $PY_VERSION and GNU Radio $GR_VERSION; continuing" ;;
        *) fail "found $OS_ID with system Python $PY_VERSION and no GNU Radio 3.10 in it. Supported: Debian 12 (Python 3.11, GNU Radio 3.10.5), or a system whose $SYS_PY already imports GNU Radio 3.10 and can install torch 2.13.0" ;;
    esac
fi

# 2. Debian packages. A GNU Radio 3.10 that already imports counts as installed.
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    case "$pkg" in
        gnuradio) [[ "$GR_VERSION" == 3.10.* ]] && continue ;;
        gnuradio-dev) [[ "$GR_VERSION" == 3.10.* ]] && command -v grcc >/dev/null && continue ;;
        python3-venv) "$SYS_PY" -c 'import ensurepip, venv' 2>/dev/null && continue ;;
        cmake) command -v cmake >/dev/null && continue ;;
        dataset-fashion-mnist) [ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] && continue ;;
    esac
    missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        fail "missing Debian packages: ${missing[*]}. Run as root: sudo sh -c '$cmd'"
    fi
    say "installing ${missing[*]}"
    sh -c "DEBIAN_FRONTEND=noninteractive $cmd"
    GR_VERSION=$(gr_version)
fi
[[ "$GR_VERSION" == 3.10.* ]] || fail "$SYS_PY imports GNU Radio '${GR_VERSION:-none}', need 3.10"

# 3. The virtual environment, made from the system Python so gnuradio imports.
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$SYS_PY" -m venv --system-site-packages "$VENV"
fi

# 4. Pinned Python packages and the library, redone only when the pins change.
stamp="$VENV/.requirements-installed"
want=$(cat requirements.txt constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing Python packages (requirements.txt, pinned by constraints.txt)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -c constraints.txt -r requirements.txt
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-build-isolation --no-deps -e .
    echo "$want" > "$stamp"
fi
"$VENV/bin/python" -c 'import torch, numpy, gnuradio.gr' \
    || fail "the virtual environment cannot import torch, numpy and gnuradio; remove $VENV and rerun"

# 5. gr-semanticnn, configured with the environment's Python and installed into it.
VENV_ABS=$(cd "$VENV" && pwd)
if [ ! -f build/CMakeCache.txt ] || ! grep -q "^CMAKE_INSTALL_PREFIX:PATH=$VENV_ABS\$" build/CMakeCache.txt; then
    rm -rf build
    cmake -S . -B build -DPython3_EXECUTABLE="$VENV_ABS/bin/python" \
        -DCMAKE_INSTALL_PREFIX="$VENV_ABS" >/dev/null
fi
cmake --build build >/dev/null
cmake --install build >/dev/null
"$VENV/bin/python" -c 'from gnuradio import semanticnn' \
    || fail "gr-semanticnn did not install: 'from gnuradio import semanticnn' fails in $VENV"
