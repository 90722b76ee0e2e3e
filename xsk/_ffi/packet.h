/* Packet work on UMEM frames, a batch per call: the generator's patcher (xsk.traffic.packet),
 * the header parser (xsk.headers), in-place address swaps (xsk.replies) and the sink's
 * sequence statistics (xsk.traffic.seqstats). None of it touches the ledger or the rings:
 * callers pass frames they own.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_PACKET_H
#define XSK_PACKET_H

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

/* The header fields of one frame (xsk.headers.Headers holds an array of these). */
struct xsk_hdr {
	int32_t l3, l4, payload; /* offsets from the frame's data start; -1 if absent */
	int32_t vlan;            /* outer VLAN id, -1 if untagged */
	uint32_t src_ip4, dst_ip4; /* host order; 0 unless IPv4 */
	uint16_t ethertype, src_port, dst_port;
	uint8_t ip_version, proto;
	uint8_t l4_csum;         /* XSK_CSUM_* from xsk_pkt_parse_verified, else XSK_CSUM_NONE */
	uint8_t src_ip6[16], dst_ip6[16];
	_Bool udp, tcp;          /* proto is UDP (TCP) and l4 >= 0: the masks Python reads as columns */
};
/* out[i] = the headers of the frame at addrs[i] of length lens[i]; reads at most
 * XSK_PKT_HEAD bytes of each frame and nothing past its length or its UMEM frame. */
void xsk_pkt_parse(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
		   uint32_t frame_size, struct xsk_hdr *out);
#define XSK_PKT_HEAD 160

/* L4 checksum states (xsk_pkt_parse_verified). */
#define XSK_CSUM_NONE 0    /* no UDP/TCP header, or UDP over IPv4 sent without a checksum (0) */
#define XSK_CSUM_OK 1      /* valid */
#define XSK_CSUM_PARTIAL 2 /* only the pseudo-header sum: the sender left the rest to checksum offload */
#define XSK_CSUM_BAD 3     /* wrong, or the datagram runs past the frame */
/* out[i] = xsk_pkt_parse's record of frame i, with out[i].l4_csum = the XSK_CSUM_* state of its
 * UDP or TCP checksum over IPv4 or IPv6, summed over the length the IP header gives. Frames
 * whose room in the UMEM does not hold that length are XSK_CSUM_BAD; nothing outside a frame's
 * room is read. One pass: each frame is summed while its header is still in cache. */
void xsk_pkt_parse_verified(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
			    uint64_t area_size, uint32_t frame_size, struct xsk_hdr *out);
/* counts[state] += the frames of each XSK_CSUM_* state, parsing each frame's headers on the
 * way (no header records): what a receiver that only counts needs. */
void xsk_pkt_l4_csum_count(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
			   uint64_t area_size, uint32_t frame_size, uint64_t counts[4]);
/* Recompute the UDP/TCP checksum of frame i in place where where[i] (NULL: every frame), and
 * h[i].l4_csum == state unless state < 0, and its datagram lies inside the frame (frames
 * without UDP/TCP are left alone). Returns how many were written. */
int xsk_pkt_l4_csum_fix(uint8_t *area, const uint64_t *addrs, const uint32_t *lens, const struct xsk_hdr *h,
			const uint8_t *where, int state, uint32_t n, uint64_t area_size, uint32_t frame_size);

/* Replace the UDP/TCP payload of the k-th frame where where[i] (NULL: every frame) with the
 * k-th of the payloads that lie back to back in the data_len bytes at data: sizes[k] bytes
 * each, or width bytes each when sizes is NULL (the rows of one array). Make the frame whole
 * again: lens[i], the IPv4 total length and header checksum or the IPv6 payload length, the
 * UDP length, and the UDP/TCP checksum recomputed (h[i].l4_csum becomes XSK_CSUM_OK).
 * Everything is checked first: on failure nothing changed and the result is -1 - i for the
 * first frame that has no UDP/TCP payload, is not IPv4/IPv6, or whose new length does not fit
 * its room, or XSK_PAYLOAD_SIZES_WRONG if the sizes do not add up to data_len. Else 0. */
#define XSK_PAYLOAD_SIZES_WRONG 1
int xsk_pkt_set_payload(uint8_t *area, const uint64_t *addrs, uint32_t *lens, struct xsk_hdr *h,
			const uint8_t *where, uint32_t n, const uint8_t *data, uint64_t data_len,
			const uint32_t *sizes, uint32_t width, uint64_t area_size, uint32_t frame_size);

/* Swap destination and source MAC in place; -1 (nothing changed) if an address is outside the
 * area or within 12 bytes of its frame's end. */
int xsk_pkt_swap_macs(uint8_t *area, const uint64_t *addrs, uint32_t n, uint64_t area_size,
		      uint32_t frame_size);

/* What xsk_pkt_swap exchanges in each frame. */
#define XSK_SWAP_MACS 1
#define XSK_SWAP_IPS 2   /* IPv4 or IPv6 source and destination, by h[i].ip_version at h[i].l3 */
#define XSK_SWAP_PORTS 4 /* UDP/TCP source and destination at h[i].l4, where a port is set */
/* The swaps of `what` in frame i where where[i] (where NULL: every frame), in place; checksums
 * stay valid (their sums don't depend on order). -1, nothing changed, if a header to swap
 * does not lie inside its frame's room in the UMEM. */
int xsk_pkt_swap(uint8_t *area, const uint64_t *addrs, const struct xsk_hdr *h, const uint8_t *where,
		 uint32_t n, uint64_t area_size, uint32_t frame_size, uint32_t what);

/* Set the big-endian 16-bit word at offsets[i] of frame i to words[i] (to word in every frame
 * when words is NULL) and fix the 16-bit one's-complement checksum at csum_offsets[i] for it
 * (RFC 1624 eqn. 3), where where[i] (NULL: all). -1, nothing changed, if an offset lies
 * outside its frame's room. */
int xsk_pkt_update_word(uint8_t *area, const uint64_t *addrs, const int32_t *offsets,
			const int32_t *csum_offsets, const uint16_t *words, uint16_t word,
			const uint8_t *where, uint32_t n, uint64_t area_size, uint32_t frame_size);

/* Sequence payloads ("XK", u64 stream << 56 | counter, u64 transmit ns) of received frames. */
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
/* XSK_CDEF_END */

/* The headers of the frame at p (len bytes, room bytes to its UMEM frame's end): for the
 * forwarder's address swaps (datapath.c). */
void xsk_parse_frame(const uint8_t *p, uint32_t len, uint32_t room, struct xsk_hdr *h);

/* Exchange the w bytes at p with the w bytes after them (w <= 16): two addresses in a header. */
static inline void xsk_swap_halves(uint8_t *p, uint32_t w)
{
	uint8_t tmp[16];
	memcpy(tmp, p, w);
	memmove(p, p + w, w);
	memcpy(p + w, tmp, w);
}

#endif
