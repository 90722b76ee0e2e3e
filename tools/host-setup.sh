#!/usr/bin/env bash
# Host set-up for AF_XDP work: bpffs mounted, hugepages reserved. Idempotent; needs root.
set -euo pipefail
WANT_HUGEPAGES=${XSK_HUGEPAGES:-256}   # 2 MiB each: 512 MiB by default

if [[ $(id -u) -ne 0 ]]; then
    echo "host-setup: not root; skipping bpffs and hugepages (AF_XDP needs root or CAP_NET_RAW/NET_ADMIN/BPF)" >&2
    exit 0
fi
if ! mount | grep -q ' /sys/fs/bpf type bpf '; then
    mount -t bpf bpf /sys/fs/bpf && echo "host-setup: mounted bpffs on /sys/fs/bpf"
fi
hp=/sys/kernel/mm/hugepages/hugepages-2048kB
if [[ -d $hp ]]; then
    free=$(cat $hp/free_hugepages)
    if (( free < WANT_HUGEPAGES / 2 )); then
        total=$(cat $hp/nr_hugepages)
        echo $(( total + WANT_HUGEPAGES - free )) > /proc/sys/vm/nr_hugepages
        echo "host-setup: hugepages free: $(cat $hp/free_hugepages) (of $(cat $hp/nr_hugepages))"
    fi
fi
