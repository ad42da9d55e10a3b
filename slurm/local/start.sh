#!/usr/bin/env bash
# start.sh - start a one-machine Slurm for mmcollab's tests and CI: munged, slurmctld and one
# slurmd per node, all on 127.0.0.1. Idempotent: running daemons are left alone (a second start
# takes well under a second); a changed slurm.conf restarts slurmctld and slurmd; stale pid files
# and sockets from a kill -9 are cleaned up. Needs root (installs with scripts/deps.sh slurm).
#
# Usage: slurm/local/start.sh [--nodes N] [--cpus C]
#   --nodes N  0 (default): one node named after the host; N >= 1: emulated nodes n1..nN, one
#              slurmd each (slurmd -N nI, port 17000+I), so that ranks on "different nodes" talk TCP
#   --cpus C   CPUs declared in total (default 8, split evenly over nodes). More than the cores:
#              jobs of 3-5 ranks run without --overcommit, oversubscribed as mpirun --oversubscribe.
# Env: MMC_SLURM_NODES, MMC_SLURM_CPUS: defaults for the two options;
#      MMC_SLURM_CRED_EXPIRE (default 10 s): how long a requeued job waits before it restarts.
# Files: /etc/slurm/slurm.conf (generated from slurm.conf.template), logs /var/log/slurm/,
# state /var/spool/slurmctld and /var/spool/slurmd/<node>, pids /run/slurmctld.pid,
# /run/slurmd-<node>.pid, /run/munge/munged.pid. stop.sh ends them by pid.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

NODES=${MMC_SLURM_NODES:-0}; CPUS=${MMC_SLURM_CPUS:-8}
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) NODES=$2; shift 2 ;;
    --cpus) CPUS=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "start.sh: unknown option '$1' (--nodes N, --cpus C)" >&2; exit 2 ;;
  esac
done
case "$NODES$CPUS" in *[!0-9]*) echo "start.sh: --nodes and --cpus take integers (got $NODES, $CPUS)" >&2; exit 2 ;; esac
[ "$CPUS" -ge 1 ] || { echo "start.sh: --cpus must be >= 1 (got $CPUS)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "start.sh: must run as root (daemons, /etc/slurm, /run)" >&2; exit 1; }
T0=${EPOCHREALTIME/./}
say() { local us=$(( ${EPOCHREALTIME/./} - T0 )); printf 'slurm-local [%d.%01ds] %s\n' $((us / 1000000)) $((us / 100000 % 10)) "$*"; }

"$ROOT/scripts/deps.sh" slurm

# ---- munge: the postinst does not start it (policy-rc.d, no systemd) and /run/munge is missing
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/log/munge /etc/munge
install -d -o munge -g munge -m 0711 /var/lib/munge
if [ ! -s /etc/munge/munge.key ]; then
  runuser -u munge -- /usr/sbin/mungekey --create --keyfile=/etc/munge/munge.key
  say "created /etc/munge/munge.key"
fi
chown munge:munge /etc/munge/munge.key; chmod 0600 /etc/munge/munge.key
munge_ok() { munge -n | unmunge; }
if slurm_alive "$MUNGE_PID" munged && munge_ok >/dev/null 2>&1; then
  say "munged already running (pid $(cat "$MUNGE_PID"))"
else
  slurm_stop_pid "$MUNGE_PID" munged   # alive but not answering: replace it
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  runuser -u munge -- /usr/sbin/munged
  slurm_wait_for 10 munge_ok || { echo "start.sh: munged did not answer; see /var/log/munge/munged.log" >&2; exit 1; }
  say "munged started (pid $(cat "$MUNGE_PID"))"
fi

# ---- slurm.conf
HOST=$(hostname -s)
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)  # 90%: no "Low RealMemory" drain
if [ "$NODES" -ge 1 ]; then
  per=$(( CPUS / NODES )); [ "$per" -ge 1 ] || per=1
  NODE_LINES=""; NODE_NAMES=""
  for i in $(seq 1 "$NODES"); do
    NODE_LINES+="NodeName=n$i NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$((17000 + i)) CPUs=$per"
    NODE_LINES+=" Boards=1 SocketsPerBoard=1 CoresPerSocket=$per ThreadsPerCore=1 RealMemory=$(( MEM_MB / NODES )) State=UNKNOWN"$'\n'
    NODE_NAMES+="n$i "
  done
  PART_NODES="n[1-$NODES]"
else
  NODE_LINES="NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEM_MB State=UNKNOWN"
  NODE_NAMES=$HOST; PART_NODES=$HOST
fi
conf=$(cat "$HERE/slurm.conf.template")
conf=${conf//@HOST@/$HOST}
conf=${conf//@NODE_LINES@/$NODE_LINES}
conf=${conf//@PART_NODES@/$PART_NODES}
conf=${conf//@CRED_EXPIRE@/${MMC_SLURM_CRED_EXPIRE:-10}}
mkdir -p /etc/slurm
CHANGED=0
if ! printf '%s\n' "$conf" | cmp -s - "$SLURM_CONF_FILE"; then
  printf '%s\n' "$conf" > "$SLURM_CONF_FILE.new" && mv "$SLURM_CONF_FILE.new" "$SLURM_CONF_FILE"
  CHANGED=1; say "wrote $SLURM_CONF_FILE (nodes $PART_NODES, $CPUS CPUs, cred_expire ${MMC_SLURM_CRED_EXPIRE:-10} s)"
fi
chmod 0644 "$SLURM_CONF_FILE"
install -d -o slurm -g slurm -m 0755 /var/spool/slurmctld "$SLURM_LOG_DIR"
for n in $NODE_NAMES; do install -d -m 0755 "/var/spool/slurmd/$n"; install -d -m 1777 "/var/spool/slurmd/$n/tmp"; done

# ---- slurmctld and slurmd(s); a changed config (nodes, ports, cred_expire) needs a restart
if [ "$CHANGED" = 1 ]; then
  for f in /run/slurmd-*.pid; do if [ -e "$f" ]; then slurm_stop_pid "$f" slurmd; fi; done
  slurm_stop_pid "$CTLD_PID" slurmctld
fi
if slurm_alive "$CTLD_PID" slurmctld; then
  say "slurmctld already running (pid $(cat "$CTLD_PID"))"
else
  rm -f "$CTLD_PID"
  slurmctld
  slurm_wait_for 30 scontrol ping || { slurm_print_logs 40 >&2; echo "start.sh: slurmctld did not answer; see $SLURM_LOG_DIR/slurmctld.log" >&2; exit 1; }
  say "slurmctld started (pid $(cat "$CTLD_PID"))"
fi
for n in $NODE_NAMES; do
  f=/run/slurmd-$n.pid
  if slurm_alive "$f" slurmd; then say "slurmd $n already running (pid $(cat "$f"))"; continue; fi
  rm -f "$f"
  if [ "$n" = "$HOST" ]; then slurmd; else slurmd -N "$n"; fi
  slurm_wait_for 10 slurm_alive "$f" slurmd || { slurm_print_logs 40 >&2; echo "start.sh: slurmd $n did not start; see $SLURM_LOG_DIR/slurmd-$n.log" >&2; exit 1; }
  say "slurmd $n started (pid $(cat "$f"))"
done
# Nodes of an earlier configuration (e.g. n1 n2 after --nodes 0) stay in the state as DOWN but
# outside the partition; only the partition's nodes must be up. DOWN/DRAIN ones are resumed.
nodes_ok() {
  local bad b
  bad=$(sinfo -h -N -p debug -o '%N %T' | awk '$2 !~ /^(idle|mixed|allocated|completing)$/ {print $1}')
  [ -z "$bad" ] && return 0
  for b in $bad; do
    case "$(sinfo -h -n "$b" -o %T)" in
      down*|drain*|fail*) scontrol update nodename="$b" state=resume >/dev/null 2>&1 || true ;;
    esac
  done
  return 1
}
slurm_wait_for 30 nodes_ok || { sinfo -N -l >&2; slurm_print_logs 40 >&2; echo "start.sh: nodes not idle after 30 s" >&2; exit 1; }
say "up: $(sinfo -h -o '%P %a %D %T %N %c' | tr '\n' ' ')"
say "pids: munged=$(cat "$MUNGE_PID") slurmctld=$(cat "$CTLD_PID")$(for n in $NODE_NAMES; do printf ' slurmd-%s=%s' "$n" "$(cat "/run/slurmd-$n.pid")"; done); logs: $SLURM_LOG_DIR/"
