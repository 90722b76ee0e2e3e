// SPDX-License-Identifier: GPL-2.0
/* Conformance test program (xskxceiver's XDP_ADJUST_TAIL_*): grow or shrink every frame's tail
 * by adjust[0] bytes with bpf_xdp_adjust_tail, then redirect it to xsks_map[RX queue].
 * adjust[1] reports the last outcome: 0, or the helper's -errno. Every frame is counted by its
 * outcome: adjust[2] moved, adjust[3] refused with -EINVAL (dropped), adjust[4] refused with
 * -EOPNOTSUPP (goes on unchanged, as xskxceiver's program does), adjust[5] anything else
 * (dropped), so the test can account for each frame sent, not only for those that arrived. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define EINVAL 22
#define EOPNOTSUPP 95

enum { BY, STATUS, MOVED, REFUSED_EINVAL, REFUSED_EOPNOTSUPP, OTHER };

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 6);
	__type(key, __u32);
	__type(value, __s32);
} adjust SEC(".maps");

static __always_inline void count(__u32 outcome)
{
	__s32 *n = bpf_map_lookup_elem(&adjust, &outcome);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp.frags")
int xdp_adjust_tail(struct xdp_md *ctx)
{
	__u32 by_key = BY, status_key = STATUS;
	__s32 *by = bpf_map_lookup_elem(&adjust, &by_key), *status = bpf_map_lookup_elem(&adjust, &status_key);
	int len = bpf_xdp_get_buff_len(ctx), rc;

	if (!by || !status || !len)
		return XDP_DROP;
	rc = bpf_xdp_adjust_tail(ctx, *by);
	if (rc) {
		*status = rc;
		if (rc == -EOPNOTSUPP) {
			count(REFUSED_EOPNOTSUPP);
			return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_DROP);
		}
		count(rc == -EINVAL ? REFUSED_EINVAL : OTHER);
		return XDP_DROP;
	}
	if (bpf_xdp_get_buff_len(ctx) != len + *by) {
		*status = -1;
		count(OTHER);
		return XDP_DROP;
	}
	count(MOVED);
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_DROP);
}

char _license[] SEC("license") = "GPL";
