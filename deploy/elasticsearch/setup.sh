#!/bin/bash
# One-shot (docker compose service `es-setup`), after Elasticsearch is healthy:
#  - sets the password of the built-in kibana_system user (Kibana's connection to Elasticsearch);
#  - creates the role cronwatch_writer (write cronwatch-* indices and their index template)
#    and the user cronwatch_shipper with it, so the shipper never uses the elastic superuser.
# Passwords come from files under /run/secrets (docker compose secrets from .env); they are
# never printed. Idempotent: running it again updates the passwords.
set -euo pipefail
ES=${ES_URL:-https://elasticsearch:9200}
CA=${ES_CA:-/certs/ca/ca.crt}
PREFIX=${CRONWATCH_INDEX_PREFIX:-cronwatch}
secret() { tr -d '\r\n' < "/run/secrets/$1"; }
# curl reads the credentials from a private config file, so they never appear in a process list.
umask 077
AUTH=$(mktemp)
trap 'rm -f "$AUTH" /tmp/es-response' EXIT
printf 'user = "elastic:%s"\n' "$(secret elastic_password)" > "$AUTH"

call() {  # call METHOD PATH JSON
  local code
  code=$(curl -sS -o /tmp/es-response -w '%{http_code}' --cacert "$CA" -K "$AUTH" \
    -X "$1" "$ES$2" -H 'Content-Type: application/json' --data-binary @-)
  if [ "$code" -lt 200 ] || [ "$code" -ge 300 ]; then
    echo "es-setup: $1 $2 failed with HTTP $code: $(head -c 500 /tmp/es-response)" >&2
    exit 1
  fi
}

for _ in $(seq 1 120); do
  if curl -sSf -o /dev/null --cacert "$CA" -K "$AUTH" "$ES/_cluster/health?wait_for_status=yellow&timeout=5s"; then
    break
  fi
  sleep 2
done

printf '{"password":"%s"}' "$(secret kibana_system_password)" | call POST /_security/user/kibana_system/_password
cat <<JSON | call PUT /_security/role/cronwatch_writer
{"cluster": ["monitor", "manage_index_templates"],
 "indices": [{"names": ["${PREFIX}-*"],
              "privileges": ["create_index", "auto_configure", "write", "view_index_metadata"]}]}
JSON
printf '{"password":"%s","roles":["cronwatch_writer"],"full_name":"cronwatch shipper"}' \
  "$(secret shipper_es_password)" | call PUT /_security/user/cronwatch_shipper
echo "es-setup: kibana_system password set; role cronwatch_writer and user cronwatch_shipper ready"
