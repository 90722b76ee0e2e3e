/* The sink's sequence statistics (xsk.traffic.seqstats): per stream, the sequence payloads
 * ("XK", u64 stream << 56 | counter, u64 transmit ns) of received frames read in place, for
 * loss, duplicates, reordering, a one-way latency histogram and RFC 3550 jitter.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_SEQSTATS_H
#define XSK_SEQSTATS_H

#include <stdint.h>
#include <string.h>

#include "parse.h"

/* XSK_CDEF_BEGIN */
/* One-way latency histogram, log-linear as HDR histograms are: values below 256 ns have a
 * bucket each, above that 128 buckets per power of two (each at most 1/128 = 0.8% wide);
 * values from 2^42 ns (~73 minutes) on share the last bucket. */
#define XSK_HIST_SUB 128
#define XSK_HIST_BUCKETS 4608
struct xsk_seqwin {
	uint8_t *bits;    /* mask + 1 entries: bits[c & mask] set when counter c was seen */
	uint64_t mask;
	int64_t highest, lowest; /* lowest < 0: nothing seen yet */
	uint64_t unique, duplicates, reordered, too_late;
	uint64_t packets, bytes; /* frames that carried this stream's header, and their lengths */
	uint64_t *hist;          /* XSK_HIST_BUCKETS counters of one-way latency in ns */
	uint64_t timed;          /* frames with a latency (transmit time not after arrival) */
	int64_t lat_min, lat_max;  /* ns */
	double lat_sum;            /* ns */
	double jitter;             /* ns: RFC 3550 interarrival jitter, J += (|D| - J) / 16 */
	int64_t last_transit;      /* ns; meaningless until timed > 0 */
	int64_t first_ns, last_ns; /* arrival times of the first and the latest frame */
};
struct xsk_seqstats {
	struct xsk_seqwin *streams[256];
	uint64_t with_seq;
};
/* The histogram bucket of a latency of v ns (exposed for the tests). */
uint32_t xsk_hist_index(uint64_t v);
/* Frames start..n of a batch, read in place; stops at the first frame of a stream with no
 * window yet (*missing = its number, the return value its index) so Python can make one. */
uint32_t xsk_seq_batch(struct xsk_seqstats *st, const uint8_t *area, const uint64_t *addrs,
		       const uint32_t *lens, uint32_t n, uint32_t frame_size, int64_t now_ns,
		       uint32_t start, int32_t *missing);
/* Flow counting, for streams sent without a sequence header (xsk.traffic._flows): a frame
 * belongs to the first flow whose every field matches (ranges inclusive; a wildcard is the
 * whole range). Addresses are big-endian, IPv4 in the first 4 bytes. */
struct xsk_flow {
	uint8_t ip_version; /* 4 or 6 */
	uint8_t proto;      /* 17, 6...; 0: any */
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	uint8_t src_lo[16], src_hi[16], dst_lo[16], dst_hi[16];
	uint64_t packets, bytes; /* the frames that matched, and their lengths */
};
/* Count the frames of a batch, read in place, by flow; frames carrying a sequence header
 * (counted by xsk_seq_batch) and frames no flow matches are left out. Returns how many matched. */
uint32_t xsk_flow_batch(struct xsk_flow *flows, uint32_t nflows, const uint8_t *area, const uint64_t *addrs,
			const uint32_t *lens, uint32_t n, uint32_t frame_size);
/* XSK_CDEF_END */

#endif
