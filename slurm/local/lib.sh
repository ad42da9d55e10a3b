# shellcheck shell=bash disable=SC2034
# lib.sh - paths and helpers shared by start.sh, stop.sh and tests/slurm/ (sourced, not run).
# Paths match slurm.conf.template; daemons are found by their pid files, never by name.
SLURM_CONF_FILE=/etc/slurm/slurm.conf
SLURM_LOG_DIR=/var/log/slurm
MUNGE_PID=/run/munge/munged.pid
CTLD_PID=/run/slurmctld.pid

# alive PIDFILE COMM: 0 if the pid in PIDFILE is a live COMM. A killed daemon can stay a zombie
# for a while (PID 1 here reaps late), so state Z/X counts as dead.
slurm_alive() {
  local pid st
  [ -s "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
  st=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$pid/stat" 2>/dev/null)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_for SECONDS CMD...: poll CMD every 0.2 s; 1 after SECONDS of wall time (not a count of
# polls: on a loaded machine each poll of scontrol itself takes a while).
slurm_wait_for() {
  local end=$(( EPOCHSECONDS + $1 )); shift
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    [ "$EPOCHSECONDS" -lt "$end" ] || return 1
    sleep 0.2
  done
}

# stop PIDFILE COMM: TERM, wait up to 15 s, then KILL; removes the pid file (slurmd and slurmctld
# leave theirs behind). A pid file whose pid is not COMM is stale and only removed.
slurm_stop_pid() {
  local f=$1 comm=$2 pid
  [ -e "$f" ] || return 0
  if ! slurm_alive "$f" "$comm"; then rm -f "$f"; return 0; fi
  pid=$(cat "$f")
  kill -TERM "$pid" 2>/dev/null || true
  if slurm_wait_for 15 slurm_dead "$pid"; then echo "slurm-local: $comm (pid $pid) stopped"
  else kill -KILL "$pid" 2>/dev/null || true; echo "slurm-local: $comm (pid $pid) killed after 15 s"; fi
  rm -f "$f"
}
slurm_dead() { ! kill -0 "$1" 2>/dev/null || [ "$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

SLURM_LOGS() { ls "$SLURM_LOG_DIR"/slurmctld.log "$SLURM_LOG_DIR"/slurmd-*.log /var/log/munge/munged.log 2>/dev/null; }

# mark_logs FILE: remember each log's size, so that print_logs shows only what came after.
slurm_mark_logs() {
  local f; for f in $(SLURM_LOGS); do echo "$(stat -c %s "$f") $f"; done > "$1"
}

# print_logs LINES [MARKFILE]: the last LINES lines of each daemon log (since the mark, if given),
# for a failing start or test.
slurm_print_logs() {
  local f off
  for f in $(SLURM_LOGS); do
    off=0; [ -n "${2:-}" ] && off=$(awk -v f="$f" '$2 == f {print $1}' "$2" 2>/dev/null)
    [ "$(stat -c %s "$f")" -gt "${off:-0}" ] || continue
    echo "===== $f (last ${1} lines${2:+ written during the test})"
    tail -c +$(( ${off:-0} + 1 )) "$f" | tail -n "$1"
  done
}
