/* The generator's patcher (xsk.traffic.packet, and each frame the scheduler in mix.c fills): a
 * template's varying fields, sequence header (stream, counter, transmit time), lengths and
 * checksums written into frames, the checksums from the template's base sums plus the words
 * written (RFC 1624), with no pass over the rest of the frame. Callers pass frames they own.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_PATCH_H
#define XSK_PATCH_H

#include <stdint.h>
#include <string.h>

/* XSK_CDEF_BEGIN */
#define XSK_PATCH_MAX_FIELDS 8
#define XSK_PATCH_IP_SUM 1
#define XSK_PATCH_L4_SUM 2

struct xsk_patch_field {
	uint32_t offset; /* in the frame */
	uint32_t width;  /* bytes; even when it is summed */
	uint32_t count;  /* rows in values */
	uint32_t flags;  /* XSK_PATCH_IP_SUM | XSK_PATCH_L4_SUM */
	const uint8_t *values; /* count rows of width bytes */
};

struct xsk_patch_plan {
	uint32_t nfields;
	struct xsk_patch_field fields[XSK_PATCH_MAX_FIELDS];
	int32_t seq_at;     /* offset of the 16-byte sequence number + timestamp, or -1 */
	int32_t ip_csum_at; /* offset of the IPv4 header checksum to recompute, or -1 */
	int32_t l4_csum_at; /* offset of the UDP/TCP checksum to recompute, or -1 */
	uint32_t zero_as_ffff; /* UDP: a computed 0 is sent as 0xffff */
	uint64_t base_ip;   /* unfolded sums of the template with the varying parts zeroed */
	uint64_t base_l4;
	uint32_t random;    /* draw rows at random instead of in order */
	uint64_t rng;       /* xorshift64 state, never 0 */
	/* Frames of several lengths from one template (padded with zeros to the largest): with
	 * ip_len_at >= 0 the base sums leave out the length fields and the pseudo-header length,
	 * and xsk_pkt_patch_one writes them for each frame's length. */
	int32_t ip_len_at;  /* IPv4 total length or IPv6 payload length, or -1 */
	int32_t ip_len_sub; /* that field = frame length - ip_len_sub */
	int32_t ip_len_summed; /* IPv4: the field is in the header checksum */
	int32_t udp_len_at; /* UDP length (= frame length - l4_at), or -1 */
	int32_t l4_at;      /* where the UDP/TCP header starts: pseudo-header length = frame length - l4_at */
};

/* Write packet index0+i's varying fields, sequence number (stream << 56 | counter) and
 * transmit time into the frame at addrs[i], and fix its checksums. */
void xsk_pkt_patch(struct xsk_patch_plan *p, uint8_t *area, const uint64_t *addrs, uint32_t n,
		   uint64_t index0, uint32_t stream, uint64_t ts_ns);
/* The same for one frame f of length len (used when p->ip_len_at >= 0) as packet `index`. */
void xsk_pkt_patch_one(struct xsk_patch_plan *p, uint8_t *f, uint32_t len, uint64_t index, uint32_t stream,
		       uint64_t ts_ns);
/* XSK_CDEF_END */

#endif
