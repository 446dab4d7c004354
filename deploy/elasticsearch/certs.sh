#!/bin/bash
# One-shot (docker compose service `certs`): create a CA and a certificate for the
# elasticsearch service with the tools of the Elasticsearch image, once, into /certs.
# Kibana and the shipper verify Elasticsearch's certificate against /certs/ca/ca.crt.
set -euo pipefail
cd /usr/share/elasticsearch
if [ -f /certs/elasticsearch/elasticsearch.crt ]; then
  echo "certificates already exist"
  exit 0
fi
bin/elasticsearch-certutil ca --silent --pem --out /certs/ca.zip
unzip -oq /certs/ca.zip -d /certs
cat > /certs/instances.yml <<'YML'
instances:
  - name: elasticsearch
    dns: [elasticsearch, localhost]
    ip: [127.0.0.1]
YML
bin/elasticsearch-certutil cert --silent --pem --in /certs/instances.yml --out /certs/certs.zip \
  --ca-cert /certs/ca/ca.crt --ca-key /certs/ca/ca.key
unzip -oq /certs/certs.zip -d /certs
rm -f /certs/ca.zip /certs/certs.zip
# The CA key stays only in this volume; everything is readable by the Elasticsearch user (uid 1000)
# and the CA certificate by everyone (Kibana, the shipper).
chown -R 1000:0 /certs
find /certs -type d -exec chmod 755 {} +
find /certs -type f -exec chmod 640 {} +
chmod 644 /certs/ca/ca.crt
echo "certificates created"
