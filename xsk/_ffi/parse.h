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
 * units parse with (checksums, rewrites, sequence statistics, TX metadata, the forwarder). */
void xsk_parse_frame(const uint8_t *p, uint32_t len, uint32_t room, struct xsk_hdr *h);

/* addr's offset in its UMEM frame: a mask for the power-of-two sizes of aligned mode, where a
 * 64-bit division per frame would cost more than the frame's parse. */
static inline uint32_t xsk_frame_offset(uint64_t addr, uint32_t frame_size)
{
	if (!(frame_size & (frame_size - 1)))
		return (uint32_t)(addr & (frame_size - 1));
	return (uint32_t)(addr % frame_size);
}

#endif
