#!/usr/bin/env bash
# The kernel tests on a machine as busy as a shared CI runner:
#
#   * CPU hogs: `stress-ng --cpu N`, N = twice the cores;
#   * another AF_XDP job: `xsk gen` unpaced (full speed) into `xsk sink` on a veth pair of its
#     own (`xsk veth up`), restarted in a loop for the whole run, so its programs attach and
#     detach and its UMEMs come and go as a neighbour's tests would;
#   * another process holding half of the free hugepages (free minus reserved), touched.
#
#     bash tools/loaded.sh [PYTEST_ARGS...]      (make test-loaded PYTEST_ARGS=...)
#
# Prints the load it started, runs `python -m pytest tests/kernel "$@"` (PY, default
# .venv/bin/python), and exits with pytest's status. Everything it started (the hogs, the
# AF_XDP loop and its processes, the hugepage holder, the veth pair and its namespaces) is
# torn down on exit, on failure, and on SIGINT/SIGTERM (which first stop pytest with SIGINT,
# so its fixtures remove their own pairs).
set -uo pipefail
# Job control: every background job in a process group of its own (killed as one, children
# included), and SIGINT not ignored in them (a non-interactive shell's background jobs start
# with it ignored, and Python then never raises KeyboardInterrupt: pytest could not be stopped;
# when this script itself started with it ignored, see pytest's start below).
set -m

cd "$(dirname "$0")/.." || exit 2
PY=${PY:-.venv/bin/python}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
CORES=$(nproc)
HOGS=${LOADED_CPU_HOGS:-$((2 * CORES))}
NAME=xl$(($$ % 100000))  # the neighbour's veth pair: namespaces and interfaces $NAME-a, $NAME-b
HP=/sys/kernel/mm/hugepages/hugepages-2048kB

log() { echo "loaded: $*" >&2; }

for tool in stress-ng ip; do
    command -v "$tool" >/dev/null || { log "$tool is not installed (make apt installs it)"; exit 2; }
done
[[ -x $PY ]] || { log "no python at $PY (make setup, or PY=...)"; exit 2; }
[[ $(id -u) -eq 0 ]] || { log "needs root (veth pairs, AF_XDP, hugepages)"; exit 2; }

jobs_started=()   # process-group leaders of the load
pytest_pid=
pair_up=

teardown() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $pytest_pid ]] && kill -0 "$pytest_pid" 2>/dev/null; then
        log "stopping pytest (SIGINT, so its fixtures clean up)"
        kill -INT "$pytest_pid" 2>/dev/null
        for _ in $(seq 60); do kill -0 "$pytest_pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pytest_pid" 2>/dev/null
    fi
    for pgid in "${jobs_started[@]}"; do
        kill -TERM -- "-$pgid" 2>/dev/null
    done
    for pgid in "${jobs_started[@]}"; do
        for _ in $(seq 20); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.25; done
        kill -KILL -- "-$pgid" 2>/dev/null
    done
    if [[ -n $pair_up ]]; then
        "$PY" -m xsk.cli veth down "$NAME" >/dev/null 2>&1 || ip netns del "$NAME-a" 2>/dev/null
        ip netns del "$NAME-b" 2>/dev/null
        ip netns list | grep -q "^$NAME-" && log "could not remove namespaces $NAME-a/$NAME-b"
    fi
    log "load torn down"
    exit "$rc"
}
# The last background job as part of the load: its process group is killed at the end. Disowned,
# so the shell prints no job notices for it (teardown waits for it by polling).
started() {
    local pgid=$!
    jobs_started+=("$pgid")
    disown "$pgid"
    log "started $1 (process group $pgid)"
}

trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. CPU hogs
stress-ng --cpu "$HOGS" --quiet >/dev/null 2>&1 &
started "stress-ng --cpu $HOGS ($CORES cores)"

# 2. hugepages: half of what is really free (free minus reserved: reserved ones are promised to
# mappings that exist already), mapped and touched by a process that holds them until killed
free_pages=0
if [[ -r $HP/free_hugepages ]]; then
    free_pages=$(( $(cat $HP/free_hugepages) - $(cat $HP/resv_hugepages) ))
fi
hold=$(( free_pages / 2 ))
if (( hold > 0 )); then
    "$PY" - "$hold" <<'EOF' &
import mmap, signal, sys
pages = int(sys.argv[1])
MAP_HUGETLB = 0x40000  # not in Python 3.11's mmap module
while pages:  # the pool is shared: if others took some meanwhile, ask for fewer
    try:
        area = mmap.mmap(-1, pages << 21, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_HUGETLB)
        break
    except OSError:
        pages //= 2
for off in range(0, pages << 21, 1 << 21):
    area[off] = 1  # touched: really allocated, not just reserved
print(f"loaded: holding {pages} hugepages ({pages * 2} MiB)", file=sys.stderr, flush=True)
signal.pause()
EOF
    started "a hugepage holder for $hold of $free_pages free 2 MiB pages"
else
    log "no free hugepages: none held"
fi

# 3. another AF_XDP job at full speed on its own veth pair
if ! info=$("$PY" -m xsk.cli veth up "$NAME" --json); then
    log "could not make the neighbour's veth pair $NAME"
    exit 2
fi
pair_up=1
b_mac=$("$PY" -c 'import json, sys; print(json.loads(sys.argv[1])["b"]["mac"])' "$info")
(
    while :; do
        "$PY" -m xsk.cli sink "$NAME-b" --netns "$NAME-b" --duration 32 >/dev/null 2>&1 &
        sleep 2
        "$PY" -m xsk.cli gen "$NAME-a" --netns "$NAME-a" --dst-mac "$b_mac" --duration 30 >/dev/null 2>&1
        wait
    done
) &
started "xsk gen (unpaced) -> xsk sink in a loop on its own veth pair $NAME ($NAME-a -> $NAME-b)"

sleep 3  # the load up and running before the first test
# tests/kernel, unless the arguments name test paths of their own
paths=(tests/kernel)
for arg in "$@"; do
    [[ $arg != -* && -e ${arg%%::*} ]] && { paths=(); break; }
done
log "running: $PY -m pytest ${paths[*]} $*"
start=$SECONDS
# pytest with SIGINT at its default, however this script was started: a background job of a
# shell without job control (`loaded.sh &` in a script, a CI step run so) inherits SIGINT
# ignored, `set -m` does not undo that, and a Python started so never raises KeyboardInterrupt.
# Every sink, gen and fwd the tests stop with Ctrl-C would then run on to its --duration.
"$PY" -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
    "$PY" -m pytest "${paths[@]}" "$@" &
pytest_pid=$!
wait "$pytest_pid"
rc=$?
pytest_pid=
log "pytest exited $rc after $((SECONDS - start)) s under load"
exit "$rc"
