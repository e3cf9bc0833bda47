#!/usr/bin/env bash
# Debian's Chromium for the portal's browser tests (Playwright drives it; browser downloads are not
# possible on our machines). Idempotent: does nothing when a Chromium is already there.
set -euo pipefail
CHROMIUM="${LOCALBATCH_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "==> browser for the portal tests: $CHROMIUM ($("$CHROMIUM" --version 2>/dev/null || echo present))"
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> browser for the portal tests: installing Debian's chromium (apt-get)"
  start=$SECONDS
  for attempt in 1 2 3; do
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
      echo "    installed $("$CHROMIUM" --version 2>/dev/null) in $((SECONDS - start))s"
      exit 0
    fi
    echo "    attempt $attempt failed; retrying" >&2
    sleep $((attempt * 3))
  done
  echo "could not install chromium with apt-get" >&2
  exit 1
fi
echo "==> browser for the portal tests: no Chromium at $CHROMIUM and no root apt-get to install it."
echo "    Install it (Debian/Ubuntu: sudo apt-get install chromium) or set LOCALBATCH_CHROMIUM;"
echo "    without it the portal's browser tests are skipped locally and fail in CI."
