#!/usr/bin/env bash
# Runs every test: installs what is missing (scripts/setup.sh), then the
# static checks and the whole test suite. Arguments go to `deno test`.
# Afterwards it fails if the tests left anything behind (a container,
# network, process or file that was not there before them).
set -euo pipefail
cd "$(dirname "$0")/.."
# Ctrl-C stops the run. Deno exits 130 on SIGINT instead of dying of it, and
# bash goes on after a command that merely exited: without this, Ctrl-C
# during the unit tests would start the end-to-end tests.
trap 'exit 130' INT
trap 'exit 143' TERM
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH" NO_COLOR=1
deno task check
before=$(mktemp)
trap 'rm -f "$before"' EXIT
bash tests/setup/leftovers.sh >"$before"
status=0
# The unit tests share nothing and run side by side; the end-to-end tests
# share Docker, HAProxy's sockets and ports, and run one at a time.
deno task test:unit "$@" || status=$?
deno task test:e2e "$@" || status=$?
# Docker can hold a removed container's network endpoint for a while; the
# harness then removes the network in the background: give it a minute.
for attempt in $(seq 1 12); do
  left=$(bash tests/setup/leftovers.sh | comm -13 "$before" -)
  [ -z "$left" ] && break
  [ "$attempt" -lt 12 ] && sleep 5
done
if [ -n "$left" ]; then
  echo "The tests left these behind:" >&2
  printf '%s\n' "$left" | cut -c1-200 >&2
  status=1
fi
exit "$status"
