#!/usr/bin/env bash
# Attaches containers started with `--network none` to an Open vSwitch bridge
# through ovs-docker, and detaches them when they stop. Needs ovs-docker and
# ovs-vsctl (openvswitch-switch); on a userspace bridge (datapath_type=netdev)
# also nsenter and ethtool.
#
# docker-glue runs it as:  ovs-handler.sh <ini file> <event> <container id>
#
# [params] of the INI file:
#   bridge     OVS bridge to attach to (default: br0)
#   interface  interface name inside the container (default: eth0)
# Container labels:
#   glue_ovs_ip       address with prefix length, e.g. 10.10.0.5/24 (optional)
#   glue_ovs_gateway  default gateway inside the container (optional)
#   glue_ovs_bridge   bridge for this container, overriding [params] bridge
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "usage: $(basename "$0") INI_FILE EVENT CONTAINER_ID" >&2
  exit 2
fi
ini_file=$1
event=$2
container_id=$3

# Nothing to do for the synthetic event.
[ -n "$container_id" ] || exit 0

ini_get() {
  local key=$1 default=$2 value=""
  if command -v crudini >/dev/null 2>&1; then
    value=$(crudini --get "$ini_file" params "$key" 2>/dev/null || true)
  else
    value=$(awk -v key="$key" '
      /^[[:space:]]*\[/ { inside = ($0 ~ /^[[:space:]]*\[params\]/); next }
      inside && index($0, "=") {
        k = substr($0, 1, index($0, "=") - 1); v = substr($0, index($0, "=") + 1)
        gsub(/^[[:space:]]+|[[:space:]]+$/, "", k); gsub(/^[[:space:]]+|[[:space:]]+$/, "", v)
        if (k == key) { print v; exit }
      }' "$ini_file")
  fi
  printf '%s' "${value:-$default}"
}

label() {
  docker inspect --format "{{ index .Config.Labels \"$1\" }}" "$container_id" 2>/dev/null || true
}

bridge=$(ini_get bridge br0)
interface=$(ini_get interface eth0)

case "$event" in
  start)
    mode=$(docker inspect --format '{{ .HostConfig.NetworkMode }}' "$container_id")
    [ "$mode" = "none" ] || exit 0
    custom_bridge=$(label glue_ovs_bridge)
    bridge=${custom_bridge:-$bridge}
    args=(add-port "$bridge" "$interface" "$container_id")
    ip=$(label glue_ovs_ip)
    gateway=$(label glue_ovs_gateway)
    [ -z "$ip" ] || args+=("--ipaddress=$ip")
    [ -z "$gateway" ] || args+=("--gateway=$gateway")
    ovs-docker "${args[@]}"
    # A bridge on the userspace datapath (datapath_type=netdev, no kernel
    # module) forwards what the veth hands it as is: with the container
    # leaving TCP checksums to an offload that never runs, every TCP segment
    # arrives with a bad checksum and is dropped (ARP and ping still work).
    if [ "$(ovs-vsctl get bridge "$bridge" datapath_type 2>/dev/null)" = "netdev" ]; then
      pid=$(docker inspect --format '{{ .State.Pid }}' "$container_id")
      if ! nsenter -t "$pid" -n ethtool -K "$interface" tx off >/dev/null; then
        echo "ovs-handler: cannot turn off checksum offload on $interface of $container_id (needs nsenter and ethtool); TCP over the userspace bridge $bridge will fail" >&2
        exit 1
      fi
    fi
    ;;
  die | stop | destroy)
    custom_bridge=$(label glue_ovs_bridge)
    bridge=${custom_bridge:-$bridge}
    # The port may already be gone (die then stop); that is fine.
    ovs-docker del-port "$bridge" "$interface" "$container_id" || true
    ;;
  *) ;;
esac
