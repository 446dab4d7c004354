#!/bin/sh
# Render cronwatch's rule files for one deployment: replace the placeholders __KIBANA_URL__ and
# __RUNBOOK_URL__ in rules/*.rules.yml with real base URLs and write the result to OUT_DIR.
#
#   KIBANA_URL=https://kibana.example.org RUNBOOK_URL=https://wiki.example.org/cronwatch \
#     deploy/prometheus/render-rules.sh rules/ /etc/prometheus/rules/
#
# POSIX sh + sed only, so docker compose runs it in a plain busybox image (service rules-init).
set -eu

src=${1:?usage: render-rules.sh SRC_DIR OUT_DIR}
out=${2:?usage: render-rules.sh SRC_DIR OUT_DIR}
kibana=${KIBANA_URL:?set KIBANA_URL to the Kibana base URL people open in a browser}
runbook=${RUNBOOK_URL:?set RUNBOOK_URL to where rules/RUNBOOK.md is published}

check_url() {
  case "$2" in
    http://*|https://*) ;;
    *) echo "render-rules.sh: $1 must start with http:// or https:// (got: $2)" >&2; exit 2 ;;
  esac
  case "$2" in
    *"'"*|*'"'*|*' '*) echo "render-rules.sh: $1 must not contain quotes or spaces" >&2; exit 2 ;;
  esac
}
check_url KIBANA_URL "$kibana"
check_url RUNBOOK_URL "$runbook"

# Drop one trailing slash; escape what sed's replacement treats specially (\ & and the | delimiter).
escape() { printf '%s' "${1%/}" | sed -e 's/[\\&|]/\\&/g'; }
kibana_e=$(escape "$kibana")
runbook_e=$(escape "$runbook")

mkdir -p "$out"
found=0
for f in "$src"/*.rules.yml; do
  [ -e "$f" ] || continue
  found=1
  name=$(basename "$f")
  # comments keep the placeholder names, so the rendered file still says what was replaced
  sed -e "/^[[:space:]]*#/!s|__KIBANA_URL__|$kibana_e|g" -e "/^[[:space:]]*#/!s|__RUNBOOK_URL__|$runbook_e|g" \
    "$f" > "$out/$name.tmp"
  mv "$out/$name.tmp" "$out/$name"
  echo "rendered $out/$name"
done
if [ "$found" -eq 0 ]; then
  echo "render-rules.sh: no *.rules.yml in $src" >&2
  exit 2
fi
