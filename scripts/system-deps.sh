#!/bin/sh
# The system packages `make test` needs besides Python: headless Chromium with a font for
# the browser tests, and PostgreSQL for the collector's tests (a throwaway cluster from
# /usr/lib/postgresql/<version>/bin). Installs them through apt when run as root on
# Debian or Ubuntu; otherwise stops with the exact command, before any test runs.
set -eu

# Where the tests look for them (tests/browser: /usr/bin/chromium; the collector's tests:
# /usr/lib/postgresql/<version>/bin). Overridable only so that tests can see a machine
# without them.
chromium="${SYSTEM_DEPS_CHROMIUM:-/usr/bin/chromium}"
font="${SYSTEM_DEPS_FONT:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}"
postgresql="${SYSTEM_DEPS_POSTGRESQL:-/usr/lib/postgresql}"

missing=""
[ -x "$chromium" ] || missing="$missing chromium"
[ -e "$font" ] || missing="$missing fonts-dejavu-core"
ls "$postgresql"/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
[ -z "$missing" ] && exit 0

command="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "make test: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    # An image without package lists (fresh containers) cannot install anything.
    if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
        apt-get update -q
    fi
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing || {
        apt-get update -q && apt-get install -y -q --no-install-recommends $missing
    }
    exit 0
fi

echo "make test needs these system packages:$missing" >&2
if command -v apt-get >/dev/null 2>&1; then
    echo "Install them with:  sudo apt-get update && sudo $command" >&2
else
    echo "Install the equivalents of$missing with your system's package manager" >&2
fi
exit 1
