// SPDX-License-Identifier: GPL-2.0
/* Conformance test program (xskxceiver's XDP_METADATA_COPY): put a 4-byte count of the
 * frames seen so far in front of each frame with bpf_xdp_adjust_meta, then redirect it to
 * xsks_map[RX queue]. The receiver reads it from the bytes just before the frame's data. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} seen SEC(".maps");

/* xdp.frags: also for multi-buffer frames (the metadata goes in front of the first buffer) */
SEC("xdp.frags")
int xdp_meta(struct xdp_md *ctx)
{
	__u32 zero = 0, *n = bpf_map_lookup_elem(&seen, &zero);
	void *data, *meta;

	if (!n || bpf_xdp_adjust_meta(ctx, -(int)sizeof(__u32)))
		return XDP_PASS;
	data = (void *)(long)ctx->data;
	meta = (void *)(long)ctx->data_meta;
	if (meta + sizeof(__u32) > data)
		return XDP_PASS;
	*(__u32 *)meta = (*n)++; /* one RX queue: one CPU at a time */
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
