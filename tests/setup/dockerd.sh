#!/usr/bin/env bash
# Starts, stops or restarts the Docker engine for the tests.
#   start    start dockerd unless an engine already answers
#   restart  restart the engine, only if `start` started it
#   started  exit 0 if `start` started the running engine
# An engine started here records its pid in $STATE/dockerd.pid; an engine
# that was already running (a developer's laptop) is never touched.
set -euo pipefail

STATE=/run/docker-glue-test
PIDFILE=$STATE/dockerd.pid
LOG=/var/log/docker-glue-test-dockerd.log

log() { printf 'dockerd.sh: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

answers() { docker info >/dev/null 2>&1; }

wait_ready() {
  for _ in $(seq 1 120); do
    answers && return 0
    sleep 0.5
  done
  log "Docker did not answer within 60 s; last lines of $LOG:"
  tail -n 20 "$LOG" >&2 || true
  return 1
}

ours() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

# An engine stopping (Ctrl-C reached it, or systemd stops it) still holds its
# pid file until it has stopped its containers: wait for it, or dockerd would
# refuse to start ("pid file found, ensure docker is not running").
wait_stopped() {
  local pid
  pid=$(cat /var/run/docker.pid 2>/dev/null) || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  log "an engine (pid $pid) is still stopping; waiting for it"
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  log "the engine $pid did not stop within 60 s"
  return 1
}

start() {
  answers && return 0
  wait_stopped
  if [ -d /run/systemd/system ] && systemctl cat docker.service >/dev/null 2>&1; then
    log "starting docker.service"
    as_root systemctl start docker.service
    wait_ready
    return
  fi
  log "starting dockerd (log: $LOG)"
  as_root mkdir -p "$STATE"
  # A session of its own: Ctrl-C in the terminal that ran the set-up (the
  # balancer's or the tests' command) must not reach the engine and every
  # container with it.
  as_root sh -c "setsid nohup dockerd >>'$LOG' 2>&1 </dev/null & echo \$! > '$PIDFILE'"
  wait_ready
}

stop_ours() {
  local pid
  pid=$(cat "$PIDFILE")
  as_root kill -TERM "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  log "dockerd $pid did not stop within 20 s"
  return 1
}

case "${1:-}" in
  start) start ;;
  started) ours ;;
  restart)
    if ! ours; then log "the running engine was not started here; not restarting it"; exit 1; fi
    stop_ours
    start
    ;;
  *) echo "usage: $0 start|restart|started" >&2; exit 2 ;;
esac
