#!/usr/bin/env bash
# Lists, one per line and sorted, what the tests make and must remove again:
# containers, networks, services and a swarm; Podman containers and networks;
# HAProxy, etcd, Pebble, Podman's service, docker-balancer and docker-glue
# processes; the tests' directories under /etc/haproxy and /tmp; sockets in
# /run/haproxy; blackhole routes; Open vSwitch bridges.
#
# scripts/test.sh runs it before and after the suite: whatever the second
# list has that the first had not, a test left behind.
set -uo pipefail

label=docker-glue-test

{
  docker ps -a --filter "label=$label" --format 'container {{.Names}}' 2>/dev/null
  docker network ls --filter "label=$label" --format 'network {{.Name}}' 2>/dev/null
  docker network ls --filter name=dg- --format 'network {{.Name}}' 2>/dev/null
  if [ "$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ]; then
    echo "swarm active"
    docker service ls --format 'service {{.Name}}' 2>/dev/null
  fi
  if command -v podman >/dev/null 2>&1; then
    podman ps -a --filter "label=$label" --format 'podman-container {{.Names}}' 2>/dev/null
    podman network ls --format '{{.Name}}' 2>/dev/null | grep '^dg-' | sed 's/^/podman-network /'
  fi
  # Processes by program and arguments (not pid), so one that ran before the
  # suite and still runs is no leftover.
  ps -eo args= | grep -E \
    '^(\S*/)?(haproxy|etcd|pebble|pebble-challtestsrv|ovs-vswitchd|ovsdb-server) |^podman system service|^sleep 600|(balancer|main)\.ts' |
    sed 's/^/process /'
  for path in /etc/haproxy/docker-glue-test-* /tmp/docker-glue-* /run/haproxy/*.sock; do
    [ -e "$path" ] && echo "file $path"
  done
  ip route show type blackhole 2>/dev/null | sed 's/^/route /'
  if ovs-vsctl --timeout=2 list-br >/dev/null 2>&1; then
    ovs-vsctl --timeout=2 list-br | sed 's/^/ovs-bridge /'
  fi
} | sort -u
