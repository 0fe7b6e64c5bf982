# Shared by scripts/slurm-up, slurm-down and slurm-node (sourced, not run).
# The test cluster's layout in one place; docs/SLURM.md describes it.
# shellcheck shell=bash disable=SC2034

NODES=(n1 n2)
declare -A PORT=([n1]=6821 [n2]=6822)
declare -A BRIDGE_NET=([n1]=10.213.1.1/24 [n2]=10.213.2.1/24)
CONF=/etc/slurm/slurm.conf         # the default path: sbatch & co need no SLURM_CONF
ETC=/etc/repro-slurm               # per-node env files, node engines' daemon.json
LIB=/var/lib/repro-slurm           # slurmctld state (jobs, next job id)
LOG=/var/log/repro-slurm
RUN=/run/repro-slurm               # our pid files (host pids)

log() { echo "$(basename "$0"): $*" >&2; }
die() { log "$*"; exit 1; }
# The pid in file $1 runs (a zombie, not yet reaped by pid 1, does not count).
alive() {
    local p
    [ -s "$1" ] && p=$(cat "$1") && kill -0 "$p" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]
}
need_root() { [ "$(id -u)" -eq 0 ] || die "run as root"; }
# One of slurm-up/down/node at a time (two munged or slurmctld would clash).
# Every daemon is started with 9>&- so that none inherits the lock.
lock_cluster() {
    mkdir -p "$RUN"
    exec 9>"$RUN/lock"
    flock -w 120 9 || die "another slurm-up/down/node still runs after 120 s"
}
is_node() { local n; for n in "${NODES[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }

node_sock() { echo "/run/repro-docker-$1.sock"; }
docker_up() { docker -H "unix://$(node_sock "$1")" version >/dev/null 2>&1; }

# Each slurmd runs under tini as pid 1 of its own pid namespace: tini reaps
# the orphaned slurmstepds, and when the namespace's pid 1 dies the kernel
# kills everything in it (slurmd, slurmstepds, job processes), like a real
# node loss. $RUN/slurmd-N.pid holds the host pid of `unshare`; with
# --kill-child its death takes the namespace along. --mount-proc needs a
# mount namespace too; "slave" lets the engines' unmounts (container
# overlays) reach it, so no container filesystem stays mounted in there.
start_slurmd() {
    local n=$1 pidf=$RUN/slurmd-$1.pid
    mkdir -p "/var/spool/slurmd/$n" "$RUN" "$LOG"
    log "starting slurmd $n (log: $LOG/slurmd-$n.log)"
    # shellcheck disable=SC2016  # $$ and $1 are the inner sh's
    setsid -f sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pidf" \
        unshare --pid --fork --kill-child --mount-proc --propagation slave \
        tini -- slurmd -D -N "$n" >>"$LOG/slurmd-$n-stdout.log" 2>&1 </dev/null 9>&-
    for _ in $(seq 50); do [ -s "$pidf" ] && break; sleep 0.1; done
    STARTED_AT[$n]=$(date +%s)
}
declare -A STARTED_AT=()   # node -> when this run started its slurmd

# Node N's slurmd has registered since we started it. Until then slurmctld
# may still show the state it saved before a restart ("idle").
registered() {
    local since=${STARTED_AT[$1]:-0} t
    [ "$since" = 0 ] && return 0
    t=$(scontrol show node "$1" -o 2>/dev/null | tr ' ' '\n' | sed -n 's/^SlurmdStartTime=//p')
    [ -n "$t" ] && [ "$t" != None ] && [ "$(date -d "$t" +%s 2>/dev/null || echo 0)" -ge $(( since - 1 )) ]
}

# Stop node N's slurmd: SIGTERM to the namespace's tini, which passes it to
# slurmd (unshare itself ignores SIGTERM); when slurmd is gone the namespace
# and any job processes in it go too. SIGKILL after 10 s.
stop_slurmd() {
    local pidf=$RUN/slurmd-$1.pid init
    alive "$pidf" || { rm -f "$pidf"; return 0; }
    log "stopping slurmd $1"
    init=$(pgrep -P "$(cat "$pidf")" | head -1) || true
    [ -z "$init" ] || kill -TERM "$init" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pidf" || break; sleep 0.1; done
    alive "$pidf" && kill -9 "$(cat "$pidf")" 2>/dev/null
    for _ in $(seq 50); do alive "$pidf" || break; sleep 0.1; done
    rm -f "$pidf"
}

# Host pids of every process in node N's pid namespace (none if it is down).
node_pids() {
    local u init ns p
    u=$(cat "$RUN/slurmd-$1.pid" 2>/dev/null) || return 0
    init=$(pgrep -P "$u" 2>/dev/null | head -1) || return 0
    [ -n "$init" ] || return 0
    ns=$(readlink "/proc/$init/ns/pid" 2>/dev/null) || return 0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] && echo "${p#/proc/}"
    done
    return 0
}

# Wait (bounded) until every named node is usable: idle, or busy with jobs.
# "*" = not responding yet. A node that answers but is down or drained
# (after a node loss, or a failed job kill) is resumed once.
wait_nodes() {
    local n st ok deadline=$(( SECONDS + ${WAIT_S:-60} ))
    local -A resumed=()
    while :; do
        ok=1
        for n in "$@"; do
            st=$(sinfo -h -N -n "$n" -o %T 2>/dev/null | head -1)
            case "$st" in
                idle|allocated|mixed|completing) registered "$n" || ok=0 ;;
                down|drained|draining|drain|fail|failing)
                    ok=0
                    if [ -z "${resumed[$n]:-}" ]; then
                        log "node $n is $st: resuming it"
                        scontrol update NodeName="$n" State=RESUME || true
                        resumed[$n]=1
                    fi ;;
                *) ok=0 ;;
            esac
        done
        [ "$ok" = 1 ] && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            sinfo -N >&2 || true
            for n in "$@"; do log "tail of $LOG/slurmd-$n.log:"; tail -5 "$LOG/slurmd-$n.log" >&2 || true; done
            log "tail of $LOG/slurmctld.log:"; tail -5 "$LOG/slurmctld.log" >&2 || true
            die "nodes $* not up after ${WAIT_S:-60} s"
        fi
        sleep 0.5
    done
}
