// SPDX-License-Identifier: GPL-2.0
/* Count every frame by the RX queue it arrived on, then XDP_DROP it: what a test reads to see
 * which queues carried traffic (arrived[queue], one counter per possible CPU). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} arrived SEC(".maps");

SEC("xdp")
int xdp_count_queues(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;
	__u64 *n = bpf_map_lookup_elem(&arrived, &queue);

	if (n)
		(*n)++;
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
