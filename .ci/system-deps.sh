#!/usr/bin/env bash
# System packages the tests use (Debian names). Installs only what is missing; needs root or sudo.
set -euo pipefail
need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
# Chromium for the web page's end-to-end tests (tests/e2e/web/test_web_e2e.py)
[ -x /usr/bin/chromium ] || need+=(chromium)
# PostgreSQL server binaries for tests/e2e/catalog/test_backends.py (the fixture runs initdb/pg_ctl from here)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
# mkfs.ext4 for the loop-mounted drive of tests/e2e/indexers/test_offline.py (setpriv, mount: util-linux, mount)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "missing system packages: ${need[*]} (install them with your package manager)" >&2; exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
