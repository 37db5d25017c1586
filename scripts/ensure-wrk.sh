#!/usr/bin/env bash
# Make sure the wrk HTTP load generator (Debian package `wrk`) is installed; print its path.
# bench/api.py drives the API with it (a Python client would be the bottleneck, not byok).
# Installs with apt-get when missing (as root; retries while another apt holds the lock).
set -u
if command -v wrk >/dev/null 2>&1; then command -v wrk; exit 0; fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
for attempt in 1 2 3 4 5 6; do
  if $SUDO apt-get update -qq >&2 && \
     DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >&2; then
    break
  fi
  echo "ensure-wrk: apt-get failed (attempt $attempt; the apt lock may be held), retrying" >&2
  sleep 10
done
command -v wrk >/dev/null 2>&1 || { echo "ensure-wrk: could not install wrk" >&2; exit 1; }
command -v wrk
