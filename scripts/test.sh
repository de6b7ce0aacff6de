#!/usr/bin/env bash
# Runs every test: installs what is missing (scripts/setup.sh), then the
# static checks and the whole test suite. Arguments go to `deno test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH" NO_COLOR=1
deno task check
deno task test "$@"
