#!/usr/bin/env bash
# Demo handler script for docker-glue's ScriptHandler.
#
# docker-glue runs it as:  test-handler.sh <ini file> <event> <container id>
# and it appends one line per event to the file named by [params] log-file
# (default /tmp/docker-glue-test.log, as the original's) with the date, the
# container id, the event and the [params] demo-option value of the INI file.
# It reads the INI with crudini when that is installed, and with a small awk
# reader otherwise.
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "usage: $(basename "$0") INI_FILE EVENT CONTAINER_ID" >&2
  exit 2
fi
ini_file=$1
event=$2
container_id=$3

# Prints the value of KEY in SECTION of the INI file, or nothing.
ini_get() {
  local section=$1 key=$2
  if command -v crudini >/dev/null 2>&1; then
    crudini --get "$ini_file" "$section" "$key" 2>/dev/null || true
    return
  fi
  awk -v section="$section" -v key="$key" '
    /^[[:space:]]*[;#]/ { next }
    /^[[:space:]]*\[/ {
      name = $0
      sub(/^[[:space:]]*\[/, "", name); sub(/\][[:space:]]*$/, "", name)
      inside = (name == section)
      next
    }
    inside {
      eq = index($0, "=")
      if (eq == 0) next
      k = substr($0, 1, eq - 1); v = substr($0, eq + 1)
      gsub(/^[[:space:]]+|[[:space:]]+$/, "", k)
      gsub(/^[[:space:]]+|[[:space:]]+$/, "", v)
      if (k == key) { print v; exit }
    }
  ' "$ini_file"
}

demo_option=$(ini_get params demo-option)
log_file=$(ini_get params log-file)
log_file=${log_file:-/tmp/docker-glue-test.log}
printf '%s container_id=[%s] event=[%s] demo-option=[%s]\n' \
  "$(date '+%F %T')" "$container_id" "$event" "$demo_option" >>"$log_file"
