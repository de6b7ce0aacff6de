#!/usr/bin/env bash
# Runs docker-balancer from source with the permissions of the compiled
# binary, after installing what is missing. Arguments go to docker-balancer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node_modules/.bin/deno task balancer "$@"
