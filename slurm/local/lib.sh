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

# wait_for SECONDS CMD...: poll CMD every 0.2 s; 1 on timeout.
slurm_wait_for() {
  local n=$(( $1 * 5 )); shift
  while [ "$n" -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; n=$((n - 1)); done
  return 1
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

# Print every daemon log (the tail), for a failing test.
slurm_print_logs() {
  local f
  for f in "$SLURM_LOG_DIR"/slurmctld.log "$SLURM_LOG_DIR"/slurmd-*.log /var/log/munge/munged.log; do
    [ -r "$f" ] || continue
    echo "===== $f (last ${1:-60} lines)"
    tail -n "${1:-60}" "$f"
  done
}
