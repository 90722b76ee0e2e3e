/* The generator's patcher (xsk.traffic._fields, and each frame the scheduler in mix.c fills): a
 * template's varying fields, sequence header (stream, counter, transmit time), lengths and
 * checksums written into frames, the checksums from the template's base sums plus the words
 * written (RFC 1624), with no pass over the rest of the frame. Callers pass frames they own.
 *
 * A field takes its values from a table (rows of bytes: address and port ranges), or computes
 * them (XSK_PATCH_COUNTER: any field of 1..8 bytes, bit fields under a mask): value r of the
 * field is start + step * r (or list[r] with XSK_PATCH_LIST), r = index % n walked in order or
 * drawn at random below n, wrapping at the field's width. Its share of a checksum is the value itself folded to 16 bits (2^16 = 1
 * modulo 0xffff), shifted by 8 when the field ends in the middle of a 16-bit word.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_PATCH_H
#define XSK_PATCH_H

#include <stdint.h>
#include <string.h>

/* XSK_CDEF_BEGIN */
#define XSK_PATCH_MAX_FIELDS 16
#define XSK_PATCH_IP_SUM 1  /* the field is in the IPv4 header checksum */
#define XSK_PATCH_L4_SUM 2  /* ... in the UDP/TCP checksum (pseudo-header included) */
#define XSK_PATCH_RANDOM 4  /* rows or values drawn at random, not in order */
#define XSK_PATCH_COUNTER 8 /* values computed from start, step and n, not read from a table */
#define XSK_PATCH_MASKED 16 /* a counter that owns only the bits of mask: the others are the template's */
#define XSK_PATCH_LIST 32   /* a counter whose value r is list[r], not start + step * r */

struct xsk_patch_field {
	uint32_t offset; /* in the frame */
	uint32_t width;  /* bytes; a table's even when it is summed; a counter's 1..8 */
	uint32_t count;  /* rows in values */
	uint32_t flags;  /* XSK_PATCH_* */
	const uint8_t *values; /* count rows of width bytes (a table) */
	/* a counter: value r = (start + step * r) << shift & mask, written big-endian in width bytes;
	 * r = index % n, or drawn below n (n = 0: 2^64) */
	uint64_t start, step, n, mask;
	uint32_t shift;
	uint32_t sum_shift; /* 8 when the field ends at an odd offset into its checksummed region */
	const uint64_t *list; /* XSK_PATCH_LIST: the n values, in order */
};

struct xsk_patch_plan {
	uint32_t nfields;   /* tables: fields[0, nfields) */
	uint32_t ncounters; /* counters (XSK_PATCH_COUNTER): fields[nfields, nfields + ncounters), those
			     * with XSK_PATCH_LIST (nlists of them) last */
	uint32_t nlists;
	uint32_t random;    /* the tables' rows drawn at random (a counter has its own XSK_PATCH_RANDOM) */
	struct xsk_patch_field fields[XSK_PATCH_MAX_FIELDS];
	int32_t seq_at;     /* offset of the 16-byte sequence number + timestamp, or -1 */
	int32_t ip_csum_at; /* offset of the IPv4 header checksum to recompute, or -1 */
	int32_t l4_csum_at; /* offset of the UDP/TCP checksum to recompute, or -1 */
	uint32_t zero_as_ffff; /* UDP: a computed 0 is sent as 0xffff */
	uint64_t base_ip;   /* unfolded sums of the template with the varying parts zeroed */
	uint64_t base_l4;
	uint64_t rng;       /* xorshift64 state for XSK_PATCH_RANDOM fields, never 0 */
	/* Frames of several lengths from one template (padded with zeros to the largest): with
	 * ip_len_at >= 0 the base sums leave out the length fields and the pseudo-header length,
	 * and xsk_pkt_patch_one writes them for each frame's length. */
	int32_t ip_len_at;  /* IPv4 total length or IPv6 payload length, or -1 */
	int32_t ip_len_sub; /* that field = frame length - ip_len_sub */
	int32_t ip_len_summed; /* IPv4: the field is in the header checksum */
	int32_t udp_len_at; /* UDP length (= frame length - l4_at), or -1 */
	int32_t l4_at;      /* where the UDP/TCP header starts: pseudo-header length = frame length - l4_at */
	/* With varying lengths and a payload that is not zeros: len_sums[len] is the (unfolded) sum
	 * of the template from l4_at to len, fields zeroed, and base_l4 leaves that part out. */
	const uint64_t *len_sums;
	uint32_t len_sums_n; /* entries in len_sums (the template's length + 1) */
	/* A payload drawn per frame: one of ring_n (a power of two) rows of ring_len bytes, picked by
	 * the plan's rng, copied over the frame from ring_at to its end, and its share of the UDP/TCP
	 * checksum added from ring_sums (per row, ring_len + 1 prefix sums: entry j sums the row's
	 * first j bytes as the frame's big-endian words). The template holds zeros there. */
	const uint8_t *ring;
	const uint32_t *ring_sums;
	uint32_t ring_n, ring_len, ring_at;
	/* The out-of-line part patch_frame calls for counters, lists and the payload (NULL: none):
	 * set by xsk_patch_ready once the plan is filled in. */
	void *extra;
};

/* Choose the plan's out-of-line part (p->extra) from its counters, lists and payload; call once the
 * plan is filled in, before patching with it. */
void xsk_patch_ready(struct xsk_patch_plan *p);
/* Write packet index0+i's varying fields, sequence number (stream << 56 | counter) and
 * transmit time into the frame at addrs[i], and fix its checksums. */
void xsk_pkt_patch(struct xsk_patch_plan *p, uint8_t *area, const uint64_t *addrs, uint32_t n,
		   uint64_t index0, uint32_t stream, uint64_t ts_ns);
/* The same for one frame f of length len (used when p->ip_len_at >= 0) as packet `index`. */
void xsk_pkt_patch_one(struct xsk_patch_plan *p, uint8_t *f, uint32_t len, uint64_t index, uint32_t stream,
		       uint64_t ts_ns);
/* XSK_CDEF_END */

#endif
