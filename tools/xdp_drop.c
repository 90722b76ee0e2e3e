// SPDX-License-Identifier: GPL-2.0
/* Count every frame, then XDP_DROP it: the cheapest receiver, so tools/bench's queue-scaling
 * run measures the senders, by what actually arrived (veth drops what its 256-entry queue
 * can't take, and a sender's own count would include those). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} arrived SEC(".maps");

SEC("xdp")
int xdp_count_drop(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&arrived, &zero);

	if (n)
		(*n)++;
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
