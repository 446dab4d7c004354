#!/bin/sh
# Import cronwatch's Kibana saved objects (dashboards/kibana/*.ndjson: data view, saved searches,
# visualizations, dashboard) with Kibana's saved objects import API. Idempotent (overwrite=true).
#
#   KIBANA_URL=http://localhost:5601 KIBANA_USERNAME=elastic KIBANA_PASSWORD_FILE=/path/to/file \
#     dashboards/import.sh
#
# KIBANA_PASSWORD may be given instead of KIBANA_PASSWORD_FILE; KIBANA_CA_FILE verifies a
# Kibana served over TLS with a private CA; KIBANA_SPACE imports into that space;
# KIBANA_WAIT_TRIES (90) and KIBANA_WAIT_INTERVAL (2 s) bound the wait for Kibana to be available.
# POSIX sh + curl only: docker compose runs it in the kibana-init service.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
url=${KIBANA_URL:-http://localhost:5601}
url=${url%/}
api=$url
if [ -n "${KIBANA_SPACE:-}" ]; then api="$url/s/$KIBANA_SPACE"; fi

umask 077
auth=$(mktemp)
out=$(mktemp)
trap 'rm -f "$auth" "$out"' EXIT
: > "$auth"
if [ -n "${KIBANA_USERNAME:-}" ]; then
  if [ -n "${KIBANA_PASSWORD_FILE:-}" ]; then
    password=$(tr -d '\r\n' < "$KIBANA_PASSWORD_FILE")
  else
    password=${KIBANA_PASSWORD:-}
  fi
  # credentials go through a private curl config file, never the command line
  printf 'user = "%s:%s"\n' "$KIBANA_USERNAME" "$password" > "$auth"
fi
set -- -sS -K "$auth"
if [ -n "${KIBANA_CA_FILE:-}" ]; then set -- "$@" --cacert "$KIBANA_CA_FILE"; fi

echo "waiting for Kibana at $url"
i=0
until curl "$@" -o "$out" -w '%{http_code}' "$url/api/status" 2>/dev/null | grep -q '^200$' \
    && grep -q '"level": *"available"' "$out"; do
  i=$((i + 1))
  if [ "$i" -ge "${KIBANA_WAIT_TRIES:-90}" ]; then
    echo "import.sh: Kibana at $url is not available" >&2
    exit 1
  fi
  sleep "${KIBANA_WAIT_INTERVAL:-2}"
done

status=0
for file in "$here"/kibana/*.ndjson; do
  code=$(curl "$@" -o "$out" -w '%{http_code}' -X POST "$api/api/saved_objects/_import?overwrite=true" \
    -H 'kbn-xsrf: cronwatch' --form "file=@$file")
  if [ "$code" = 200 ] && grep -q '"success": *true' "$out"; then
    echo "imported $(basename "$file")"
  else
    echo "import.sh: $(basename "$file") failed (HTTP $code): $(head -c 2000 "$out")" >&2
    status=1
  fi
done
exit "$status"
