#!/usr/bin/env bash
# stop.sh - stop what start.sh started, each daemon by the pid in its pid file (never by name):
# every slurmd, slurmctld, then munged. Nothing running is fine (exit 0). State in
# /var/spool/slurmctld is kept, so the next start.sh resumes it; logs stay in /var/log/slurm/.
# Usage: slurm/local/stop.sh [--keep-munge]
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
KEEP_MUNGE=0
case "${1:-}" in
  "") ;;
  --keep-munge) KEEP_MUNGE=1 ;;
  *) echo "stop.sh: unknown option '$1' (--keep-munge)" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "stop.sh: must run as root" >&2; exit 1; }
for f in /run/slurmd-*.pid; do if [ -e "$f" ]; then slurm_stop_pid "$f" slurmd; fi; done
slurm_stop_pid "$CTLD_PID" slurmctld
[ "$KEEP_MUNGE" = 1 ] || slurm_stop_pid "$MUNGE_PID" munged
exit 0
