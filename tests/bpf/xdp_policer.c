// SPDX-License-Identifier: GPL-2.0
/* A device under test with a known capacity, for the RFC 2544 test: a token-bucket policer that
 * passes RATE_PPS frames a second (DEPTH at once) to the kernel stack and drops the rest. With
 * RATE_PPS 0 it drops one frame in every DROP_EVERY instead (a device that loses at any rate).
 * bucket[0] holds the tokens in millionths of a frame, bucket[1] the last refill (ns), bucket[2]
 * the frames dropped, bucket[3] the frames seen. One RX queue: one CPU at a time. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

volatile const __u64 RATE_PPS = 5000;
volatile const __u64 DEPTH = 256;
volatile const __u64 DROP_EVERY = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} bucket SEC(".maps");

static __always_inline __u64 *slot(__u32 i)
{
	return bpf_map_lookup_elem(&bucket, &i);
}

SEC("xdp")
int xdp_policer(struct xdp_md *ctx)
{
	__u64 *tokens = slot(0), *last = slot(1), *dropped = slot(2), *seen = slot(3);
	__u64 now = bpf_ktime_get_ns(), cap = DEPTH * 1000000;

	if (!tokens || !last || !dropped || !seen)
		return XDP_PASS;
	*seen += 1;
	if (!RATE_PPS) {
		if (DROP_EVERY && *seen % DROP_EVERY == 0) {
			*dropped += 1;
			return XDP_DROP;
		}
		return XDP_PASS;
	}
	if (*last == 0)
		*tokens = cap;
	else
		*tokens += (now - *last) * RATE_PPS / 1000; /* millionths of a frame per ns */
	if (*tokens > cap)
		*tokens = cap;
	*last = now;
	if (*tokens < 1000000) {
		*dropped += 1;
		return XDP_DROP;
	}
	*tokens -= 1000000;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
