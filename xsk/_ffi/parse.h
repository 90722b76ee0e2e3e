/* The header parser: where a frame's Ethernet, VLAN, IPv4/IPv6 and UDP/TCP headers start and
 * what they say (xsk.headers reads the records as columns; the C twin of xsk.headers.parse_rows).
 * The checksum, rewrite, sequence-statistics, TX-metadata and forwarding code parse with it.
 * Nothing here touches the ledger or the rings: callers pass frames they own.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_PARSE_H
#define XSK_PARSE_H

#include <stdint.h>
#include <string.h>

/* XSK_CDEF_BEGIN */
/* The header fields of one frame (xsk.headers.Headers holds an array of these). */
struct xsk_hdr {
	int32_t l3, l4, payload; /* offsets from the frame's data start; -1 if absent */
	int32_t vlan;            /* outer VLAN id, -1 if untagged */
	uint32_t src_ip4, dst_ip4; /* host order; 0 unless IPv4 */
	uint16_t ethertype, src_port, dst_port;
	uint16_t udp_len;        /* the UDP header's length field (header + payload); 0 unless UDP */
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
/* XSK_CDEF_END */

/* The headers of the frame at p (len bytes, room bytes to its UMEM frame's end): what the other
 * units parse with (checksums, rewrites, sequence statistics, TX metadata, the forwarder).
 * xsk_parse_frame_inline is the same, for per-frame loops: the common frame's parse is inlined
 * there, the rest is a call. */
void xsk_parse_frame(const uint8_t *p, uint32_t len, uint32_t room, struct xsk_hdr *h);

/* Any frame: the part of xsk_parse_frame after the fast path (h zeroed, vlan -1; lim: the bytes
 * in reach, at most XSK_PKT_HEAD). */
void xsk_parse_frame_general(const uint8_t *p, uint32_t len, uint32_t lim, struct xsk_hdr *h);

static inline uint32_t xsk_be16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return __builtin_bswap16(v);
}

static inline uint32_t xsk_be32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return __builtin_bswap32(v);
}

/* The frame most requests are: untagged IPv4 without options carrying UDP or TCP, its first
 * XSK_FAST_HEAD bytes in reach. Then every header read is in bounds without a check, and the
 * fields come out as the general parse gives them (tests/unit/test_headers.py compares the
 * C parse with the numpy one over random frames). 0: not such a frame, h untouched. */
#define XSK_FAST_HEAD (14 + 20 + 20)
static inline int xsk_parse_ip4_fast(const uint8_t *p, uint32_t len, uint32_t lim, struct xsk_hdr *h)
{
	const uint8_t *ip = p + 14;
	if (lim < XSK_FAST_HEAD || xsk_be16(p + 12) != 0x0800 || ip[0] != 0x45 || (ip[9] != 17 && ip[9] != 6))
		return 0;
	h->ethertype = 0x0800;
	h->l3 = 14;
	h->ip_version = 4;
	h->proto = ip[9];
	h->src_ip4 = xsk_be32(ip + 12);
	h->dst_ip4 = xsk_be32(ip + 16);
	h->l4 = 34;
	h->src_port = (uint16_t)xsk_be16(p + 34);
	h->dst_port = (uint16_t)xsk_be16(p + 36);
	if (h->proto == 17) {
		h->payload = 42;
		h->udp_len = (uint16_t)xsk_be16(p + 38);
		h->udp = 1;
	} else {
		h->payload = 34 + (p[46] >> 4) * 4;
		if ((uint32_t)h->payload > len)
			h->payload = -1;
		h->tcp = 1;
	}
	return 1;
}

static inline void xsk_parse_frame_inline(const uint8_t *p, uint32_t len, uint32_t room, struct xsk_hdr *h)
{
	uint32_t lim = len < room ? len : room;
	if (lim > XSK_PKT_HEAD)
		lim = XSK_PKT_HEAD;
	memset(h, 0, sizeof(*h));
	h->vlan = -1;
	if (!xsk_parse_ip4_fast(p, len, lim, h))
		xsk_parse_frame_general(p, len, lim, h);
}

/* addr's offset in its UMEM frame: a mask for the power-of-two sizes of aligned mode, where a
 * 64-bit division per frame would cost more than the frame's parse. */
static inline uint32_t xsk_frame_offset(uint64_t addr, uint32_t frame_size)
{
	if (!(frame_size & (frame_size - 1)))
		return (uint32_t)(addr & (frame_size - 1));
	return (uint32_t)(addr % frame_size);
}

#endif
