#!/usr/bin/env bash
# Make sure Debian's Chromium and its driver are installed for the console's browser tests
# (tests/console/test_console_browser.py drives /usr/bin/chromium with Playwright).
# Installs the `chromium` and `chromium-driver` packages with apt-get when missing and this
# runs as root (CI on a fresh machine); otherwise says why and exits 0: the browser tests
# then skip with that reason. Never downloads a browser build of its own.
set -u
CHROMIUM=${BYOK_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM missing and cannot apt-get install it (not root or no apt)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3 4 5 6; do
  # Another apt may hold the lock for a while: retry rather than fail.
  if apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2; then
    break
  fi
  echo "ensure-chromium: apt-get failed (attempt $attempt), retrying in 10 s" >&2
  sleep 10
done
[ -x "$CHROMIUM" ] || echo "ensure-chromium: chromium could not be installed" >&2
exit 0
