#!/usr/bin/env bash
# The Debian 13 (trixie) leg: the README's `make test`, run from a copy of this checkout inside a
# trixie root on this machine's kernel. Needs root. Usage: tools/debian13.sh [make argument...]
# (default `test`; e.g. `tools/debian13.sh test PYTEST_ARGS=tests/kernel/test_asyncio.py`)
#
# The root is made once with debootstrap and kept (XSK_DEBIAN13_ROOT, default below), so a second
# run only copies the checkout in and runs the suite; `XSK_DEBIAN13_FRESH=1` makes it anew. Every
# mount is made a slave of the host's, so unmounting it on the way out can't reach the host's own
# /dev, /sys or /proc, and everything is unmounted also when the suite fails or is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
ROOT=${XSK_DEBIAN13_ROOT:-/var/cache/xsk/debian13-root}
SUITE=${XSK_DEBIAN13_SUITE:-trixie}
TARGETS=("${@:-test}")

if [[ $(id -u) -ne 0 ]]; then
    echo "debian13: needs root (debootstrap, chroot, mounts)" >&2
    exit 2
fi

# The mirror apt uses here: deb822 sources first, then the one-line format.
mirror() {
    local uri
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [[ -n $uri ]] || uri=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

make_root() {
    command -v debootstrap >/dev/null || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
    }
    local tmp=$ROOT.partial
    rm -rf "$tmp"
    mkdir -p "$(dirname "$ROOT")"
    echo "debian13: debootstrap $SUITE from $(mirror) into $ROOT (once; kept for later runs)"
    # make, git and ca-certificates: what `make test` needs before its own apt step can run
    debootstrap --variant=minbase --include=make,git,ca-certificates,sudo "$SUITE" "$tmp" "$(mirror)" \
        >"$tmp.log" 2>&1 || { tail -20 "$tmp.log" >&2; exit 1; }
    rm -f "$tmp.log"
    mv "$tmp" "$ROOT"
}

if [[ ${XSK_DEBIAN13_FRESH:-0} == 1 ]]; then
    rm -rf "$ROOT"
fi
[[ -x $ROOT/usr/bin/make ]] || make_root

MOUNTS=()
cleanup() {
    local i
    for (( i=${#MOUNTS[@]}-1; i>=0; i-- )); do
        umount -R "${MOUNTS[i]}" 2>/dev/null || umount -R -l "${MOUNTS[i]}" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mount_at() {  # mount_at TARGET mount-args...
    local target=$1; shift
    mkdir -p "$target"
    mount "$@" "$target"
    MOUNTS+=("$target")
}

# The root bound onto itself is a mount point, so `ip netns exec` inside can make / a slave.
mount_at "$ROOT" --bind "$ROOT"
mount --make-private "$ROOT"
mount_at "$ROOT/proc" -t proc proc
mount_at "$ROOT/sys" --rbind /sys
mount --make-rslave "$ROOT/sys"
mount_at "$ROOT/dev" --rbind /dev
mount --make-rslave "$ROOT/dev"
mount_at "$ROOT/run" -t tmpfs -o mode=755 tmpfs
mount_at "$ROOT/sys/fs/bpf" -t bpf bpf   # its own bpffs: no pins shared with the host's

# Name resolution, the host's CA certificates and pip settings, so apt and pip inside reach the
# same mirror and index as the host. Local index folders named by those settings are bound read-only
# (a PEP 503 index's parent, since its simple/ pages point at files beside it).
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
mkdir -p "$ROOT/etc/xsk-host"
cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/xsk-host/ca-certificates.crt"
declare -A BOUND=()
for conf in /etc/pip.conf /etc/xdg/pip /root/.config/pip /root/.pip; do
    [[ -e $conf ]] || continue
    mkdir -p "$ROOT$(dirname "$conf")"
    cp -rL "$conf" "$ROOT$(dirname "$conf")/"
    for dir in $(grep -rhoE '(file://)?/[A-Za-z0-9_./-]+' "$conf" | sed 's|^file://||' | sort -u); do
        [[ $dir == */simple ]] && dir=$(dirname "$dir")   # a local index: its files sit beside simple/
        [[ -d $dir && -z ${BOUND[$dir]:-} ]] || continue
        BOUND[$dir]=1
        mount_at "$ROOT$dir" --bind -o ro "$dir"
    done
done

# The checkout as it is (tracked files and new ones not ignored), never a build output of the host.
# XSK_DEBIAN13_KEEP_VENV=1 keeps the venv of the last run (quicker while iterating; CI starts clean).
WORK=$ROOT/root/xsk
if [[ ${XSK_DEBIAN13_KEEP_VENV:-0} == 1 && -d $WORK/.venv ]]; then
    find "$WORK" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
else
    rm -rf "$WORK"
fi
mkdir -p "$WORK"
git -C "$SRC" ls-files -z --cached --others --exclude-standard \
    | (cd "$SRC" && xargs -0 -r tar --no-recursion -cf - 2>/dev/null) | tar -C "$WORK" -xf -
echo "debian13: $(chroot "$ROOT" sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), kernel $(uname -r)," \
     "checkout copied to ${WORK#"$ROOT"}; make ${TARGETS[*]}"

env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    TERM="${TERM:-dumb}" CI="${CI:-true}" \
    PIP_CERT=/etc/xsk-host/ca-certificates.crt SSL_CERT_FILE=/etc/xsk-host/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/xsk-host/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ${PIP_INDEX_URL:+PIP_INDEX_URL="$PIP_INDEX_URL"} ${PIP_EXTRA_INDEX_URL:+PIP_EXTRA_INDEX_URL="$PIP_EXTRA_INDEX_URL"} \
    ${PIP_FIND_LINKS:+PIP_FIND_LINKS="$PIP_FIND_LINKS"} \
    chroot "$ROOT" /bin/bash -c 'cd /root/xsk && exec make "$@"' make "${TARGETS[@]}"
