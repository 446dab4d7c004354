#!/usr/bin/env bash
# Install the Debian packages cronwatch's tests and demo run against, when they are missing.
# Idempotent: does nothing when every binary is already there.
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ "${1:-}" = "--demo" ]; then
  need=()
  command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
fi
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packages start system services on some machines; cronwatch runs its own instances.
for svc in prometheus prometheus-alertmanager redis-server; do
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
