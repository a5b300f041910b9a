#!/usr/bin/env bash
# One-time, idempotent set-up on Debian/Ubuntu: system packages and the project's venv.
# Quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(prometheus prometheus-alertmanager redis-server postgresql docker-compose python3-venv)
VENV=${VENV:-.venv}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# headless Chromium for the report tests: `chromium` on Debian, `chromium-browser` on Ubuntu
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(BROWSER)
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log=$(mktemp)
  $SUDO apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
  if [[ " ${missing[*]} " == *" BROWSER "* ]]; then
    browser=chromium
    apt-cache show chromium >/dev/null 2>&1 || browser=chromium-browser
    missing=("${missing[@]/BROWSER/$browser}")
  fi
  echo "setup: installing system packages: ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
       >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
  # the packages start their services where systemd runs; the harness runs its own
  for svc in prometheus prometheus-alertmanager redis-server postgresql; do
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  done
fi

stamp="$VENV/.installed"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  python3 -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing the project into $VENV"
  log=$(mktemp)
  if ! { "$VENV/bin/python" -m pip install -q --upgrade pip && \
         "$VENV/bin/python" -m pip install -q -e '.[dev]'; } >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
  touch "$stamp"
fi
