#!/usr/bin/env bash
# Installs docker-glue under a root directory (default /):
#   <root>/usr/bin/docker-glue, docker-balancer       the binaries (from dist/)
#   <root>/etc/systemd/system/*.service                the systemd units
#   <root>/etc/docker-glue.d/*.ini.example             example handler files
#   <root>/usr/libexec/docker-glue/*.sh                handler scripts
#   <root>/etc/docker-glue/templates/*.njk             with --templates only
# These are the places the binaries look in. Existing *.ini files are never
# touched. A binary that changes is kept as <name>.previous for a roll-back.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 [--root DIR] [--bin-dir DIR] [--templates] [--no-binaries]"
}

root=/
bin_dir=dist
templates=0
binaries=1
while [ "$#" -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift 2 ;;
    --templates) templates=1; shift ;;
    --no-binaries) binaries=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
root=${root%/}

if [ "$binaries" -eq 1 ]; then
  for name in docker-glue docker-balancer; do
    if [ ! -x "$bin_dir/$name" ]; then
      echo "install.sh: $bin_dir/$name not found; build it with 'deno task compile' or pass --no-binaries" >&2
      exit 1
    fi
  done
fi

install -d -m 0755 "$root/usr/bin" "$root/etc/systemd/system" \
  "$root/etc/docker-glue.d" "$root/usr/libexec/docker-glue"

if [ "$binaries" -eq 1 ]; then
  for name in docker-glue docker-balancer; do
    target="$root/usr/bin/$name"
    if [ -e "$target" ] && ! cmp -s "$bin_dir/$name" "$target"; then
      cp -p "$target" "$target.previous"
    fi
    # Copy then rename, so a running service never sees a half-written file.
    install -m 0755 "$bin_dir/$name" "$target.new"
    mv -f "$target.new" "$target"
  done
fi
install -m 0644 systemd/docker-glue.service systemd/docker-balancer.service \
  "$root/etc/systemd/system/"
install -m 0644 docker-glue.d/*.ini.example "$root/etc/docker-glue.d/"
install -m 0755 handler-scripts/*.sh "$root/usr/libexec/docker-glue/"
if [ "$templates" -eq 1 ]; then
  install -d -m 0755 "$root/etc/docker-glue/templates"
  install -m 0644 templates/*.njk "$root/etc/docker-glue/templates/"
fi
echo "installed docker-glue under ${root:-/}" >&2
