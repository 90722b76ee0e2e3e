// SPDX-License-Identifier: GPL-2.0
/* Conformance test program (xskxceiver's XDP_ADJUST_TAIL_*): grow or shrink every frame's tail
 * by adjust[0] bytes with bpf_xdp_adjust_tail, then redirect it to xsks_map[RX queue].
 * adjust[1] reports what happened: 0, or the helper's -errno (for -EOPNOTSUPP the frame goes on
 * unchanged, as xskxceiver's program does, so the test can tell "not supported" from a bug). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define EOPNOTSUPP 95

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __s32);
} adjust SEC(".maps");

SEC("xdp.frags")
int xdp_adjust_tail(struct xdp_md *ctx)
{
	__u32 zero = 0, one = 1;
	__s32 *by = bpf_map_lookup_elem(&adjust, &zero), *status = bpf_map_lookup_elem(&adjust, &one);
	int len = bpf_xdp_get_buff_len(ctx), rc;

	if (!by || !status || !len)
		return XDP_DROP;
	rc = bpf_xdp_adjust_tail(ctx, *by);
	if (rc) {
		*status = rc;
		return rc == -EOPNOTSUPP ? bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_DROP) : XDP_DROP;
	}
	if (bpf_xdp_get_buff_len(ctx) != len + *by) {
		*status = -1;
		return XDP_DROP;
	}
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_DROP);
}

char _license[] SEC("license") = "GPL";
