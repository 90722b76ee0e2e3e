/* The header parser (see parse.h). */
#include "parse.h"

static inline uint32_t rd16(const uint8_t *p, uint32_t at, uint32_t lim)
{
	return at + 2 <= lim ? (uint32_t)p[at] << 8 | p[at + 1] : 0;
}

void xsk_parse_frame_general(const uint8_t *p, uint32_t len, uint32_t lim, struct xsk_hdr *h)
{
	uint32_t at = 12, et;
	int is4, is6;

	h->l4 = h->payload = -1;
	for (int t = 0; t < 2; t++) {
		et = rd16(p, at, lim);
		if ((et == 0x8100 || et == 0x88A8) && at + 6 <= len) {
			if (h->vlan < 0)
				h->vlan = rd16(p, at + 2, lim) & 0x0FFF;
			at += 4;
		}
	}
	h->ethertype = rd16(p, at, lim);
	h->l3 = (int32_t)(at + 2);
	is4 = h->ethertype == 0x0800 && at + 2 + 20 <= len && at + 2 + 20 <= lim;
	is6 = h->ethertype == 0x86DD && at + 2 + 40 <= len && at + 2 + 40 <= lim;
	if (is4) {
		const uint8_t *ip = p + h->l3;
		uint32_t ihl = (ip[0] & 0x0F) * 4;
		h->ip_version = 4;
		h->proto = ip[9];
		h->src_ip4 = (uint32_t)ip[12] << 24 | ip[13] << 16 | ip[14] << 8 | ip[15];
		h->dst_ip4 = (uint32_t)ip[16] << 24 | ip[17] << 16 | ip[18] << 8 | ip[19];
		if (ihl >= 20)
			h->l4 = h->l3 + ihl;
	} else if (is6) {
		const uint8_t *ip = p + h->l3;
		h->ip_version = 6;
		h->proto = ip[6];
		memcpy(h->src_ip6, ip + 8, 16);
		memcpy(h->dst_ip6, ip + 24, 16);
		h->l4 = h->l3 + 40;
	}
	if ((h->proto == 17 || h->proto == 6) && h->l4 >= 0 && (uint32_t)h->l4 + 8 <= len &&
	    (uint32_t)h->l4 + 4 <= XSK_PKT_HEAD) {
		h->src_port = rd16(p, h->l4, lim);
		h->dst_port = rd16(p, h->l4 + 2, lim);
		if (h->proto == 17) {
			h->payload = h->l4 + 8;
			h->udp_len = rd16(p, h->l4 + 4, lim);
		} else
			h->payload = h->l4 + ((uint32_t)h->l4 + 12 < lim ? (p[h->l4 + 12] >> 4) * 4 : 0);
		if ((uint32_t)h->payload > len)
			h->payload = -1;
	}
	h->udp = h->proto == 17 && h->l4 >= 0;
	h->tcp = h->proto == 6 && h->l4 >= 0;
}

void xsk_parse_frame(const uint8_t *p, uint32_t len, uint32_t room, struct xsk_hdr *h)
{
	xsk_parse_frame_inline(p, len, room, h);
}

void xsk_pkt_parse(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
		   uint32_t frame_size, struct xsk_hdr *out)
{
	for (uint32_t i = 0; i < n; i++)
		xsk_parse_frame_inline(area + addrs[i], lens[i], frame_size - xsk_frame_offset(addrs[i], frame_size),
				       &out[i]);
}
