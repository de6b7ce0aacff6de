#!/usr/bin/env bash
# Installs and starts what docker-glue and its tests need on a Debian host:
# Deno (pinned below, from the npm package `deno`), Debian's docker.io, haproxy,
# busybox-static, etcd-server, etcd-client (etcdctl, the tests' independent
# etcd reader), systemd (for systemd-analyze), openssl, curl and pebble (a real
# ACME server, with pebble-challtestsrv as its DNS), wrk (load for the
# benchmarks), and a running Docker engine. Safe to run
# again: it only does what is missing, and never starts a second engine.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else log "need root to run: $*"; exit 1
  fi
}

# --- Deno ---------------------------------------------------------------
# Installed without a package.json: Deno would read one as its own
# dependency list and try to resolve the `deno` package's other platforms.
DENO_VERSION=2.9.6
if ! node_modules/.bin/deno --version 2>/dev/null | grep -q "^deno ${DENO_VERSION} "; then
  log "installing Deno ${DENO_VERSION} from npm"
  npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    --prefix . "deno@${DENO_VERSION}"
fi

# --- Debian packages ----------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# The HTTPS tests: certificates made with openssl, a real ACME server.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v pebble >/dev/null 2>&1 || missing+=(pebble)
# The --diff test applies what it prints with patch(1).
command -v patch >/dev/null 2>&1 || missing+=(patch)
# The Podman test: a rootful Podman API service.
command -v podman >/dev/null 2>&1 || missing+=(podman)
# The Open vSwitch test: OVS on the userspace datapath, ethtool for the handler.
command -v ovs-vsctl >/dev/null 2>&1 || missing+=(openvswitch-switch)
command -v ethtool >/dev/null 2>&1 || missing+=(ethtool)
# The status page test: a real browser, headless.
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The forward-auth benchmark's load generator.
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -q \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Podman -------------------------------------------------------------
# Containers here may not raise their rlimits: podman run fails with "error
# setting rlimit type 6/7: operation not permitted" unless Podman leaves the
# default ulimits alone.
if command -v podman >/dev/null 2>&1 &&
  ! grep -qs '^default_ulimits = \[\]' /etc/containers/containers.conf; then
  log "setting default_ulimits = [] in /etc/containers/containers.conf"
  as_root mkdir -p /etc/containers
  if grep -qs '^\[containers\]' /etc/containers/containers.conf; then
    as_root sed -i '/^\[containers\]/a default_ulimits = []' \
      /etc/containers/containers.conf
  else
    printf '[containers]\ndefault_ulimits = []\n' |
      as_root tee -a /etc/containers/containers.conf >/dev/null
  fi
fi

# --- Docker engine ------------------------------------------------------
bash tests/setup/dockerd.sh start
