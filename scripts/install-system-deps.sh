#!/usr/bin/env bash
# Install the Debian packages cronwatch's tests and demo run against, when they are missing.
# Idempotent: does nothing when every binary is already there.
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# a C compiler, zlib's and Python's headers build shipper/_speedups.c and alerter/_speedups.c
# (without them the install skips them and the same work runs in Python, slower; their tests fail)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
[ -e /usr/include/zlib.h ] || need+=(zlib1g-dev)
py="${PYTHON:-python3}"
if command -v "$py" >/dev/null 2>&1 && ! "$py" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
  need+=(python3-dev)
fi
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
