// SPDX-License-Identifier: GPL-2.0
/* Traffic generator run with BPF_PROG_RUN in live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES).
 *
 * The kernel hands this program copies of one template frame, as if they had arrived on
 * the interface; XDP_TX sends each straight back out of it, with no socket and no copy
 * through the AF_XDP TX path. When gen_state.seq_offset is set, each frame gets the next
 * sequence number and a transmit time (CLOCK_REALTIME, from the monotonic clock plus an
 * offset Python keeps current) in xsk's 18-byte payload layout: "XK", seq, time.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct gen_state {
	__u32 seq_offset;  /* frame offset of the 18-byte sequence payload, 0: constant frames */
	__u32 stream;      /* top 8 bits of the sequence number */
	__u64 next_seq;    /* counter, advanced atomically */
	__u64 realtime_offset; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_state);
} gen_state SEC(".maps");

static __always_inline void put_be64(__u8 *p, __u64 v)
{
#pragma unroll
	for (int i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

SEC("xdp")
int xsk_gen(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct gen_state *st = bpf_map_lookup_elem(&gen_state, &zero);
	__u8 buf[18];

	if (!st || !st->seq_offset)
		return XDP_TX;
	__u64 seq = __sync_fetch_and_add(&st->next_seq, 1);
	buf[0] = 'X';
	buf[1] = 'K';
	put_be64(buf + 2, ((__u64)(st->stream & 0xff) << 56) | (seq & ((1ULL << 56) - 1)));
	put_be64(buf + 10, bpf_ktime_get_ns() + st->realtime_offset);
	/* bounds-checked by the helper: a frame too short for the payload is sent unchanged */
	bpf_xdp_store_bytes(ctx, st->seq_offset, buf, sizeof(buf));
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
