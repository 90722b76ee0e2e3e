/* In-place rewrites (see rewrite.h). */
#include "rewrite.h"

int xsk_pkt_swap_macs(uint8_t *area, const uint64_t *addrs, uint32_t n, uint64_t area_size,
		      uint32_t frame_size)
{
	for (uint32_t i = 0; i < n; i++) /* all checked before any frame changes */
		if (addrs[i] >= area_size || xsk_frame_offset(addrs[i], frame_size) + 12 > frame_size)
			return -1;
	for (uint32_t i = 0; i < n; i++)
		xsk_swap_halves(area + addrs[i], 6);
	return 0;
}

/* Does [off, off + width) lie inside the room of the frame at addr (from it to its UMEM frame's end)? */
static int fits(uint64_t addr, int64_t off, uint32_t width, uint64_t area_size, uint32_t frame_size)
{
	return addr < area_size && off >= 0 && (uint64_t)off + width <= frame_size - xsk_frame_offset(addr, frame_size);
}

static int swap_fits(uint64_t addr, const struct xsk_hdr *h, uint64_t area_size, uint32_t frame_size,
		     uint32_t what)
{
	if ((what & XSK_SWAP_MACS) && !fits(addr, 0, 12, area_size, frame_size))
		return 0;
	if ((what & XSK_SWAP_IPS) && h->ip_version == 4 && !fits(addr, (int64_t)h->l3 + 12, 8, area_size, frame_size))
		return 0;
	if ((what & XSK_SWAP_IPS) && h->ip_version == 6 && !fits(addr, (int64_t)h->l3 + 8, 32, area_size, frame_size))
		return 0;
	if ((what & XSK_SWAP_PORTS) && (h->src_port || h->dst_port) && !fits(addr, h->l4, 4, area_size, frame_size))
		return 0;
	return 1;
}

int xsk_pkt_swap(uint8_t *area, const uint64_t *addrs, const struct xsk_hdr *h, const uint8_t *where,
		 uint32_t n, uint64_t area_size, uint32_t frame_size, uint32_t what)
{
	for (uint32_t i = 0; i < n; i++) /* all checked before any frame changes */
		if ((!where || where[i]) && !swap_fits(addrs[i], &h[i], area_size, frame_size, what))
			return -1;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *f = area + addrs[i];
		if (where && !where[i])
			continue;
		if (what & XSK_SWAP_MACS)
			xsk_swap_halves(f, 6);
		if (what & XSK_SWAP_IPS) {
			if (h[i].ip_version == 4)
				xsk_swap_halves(f + h[i].l3 + 12, 4);
			else if (h[i].ip_version == 6)
				xsk_swap_halves(f + h[i].l3 + 8, 16);
		}
		if ((what & XSK_SWAP_PORTS) && (h[i].src_port || h[i].dst_port))
			xsk_swap_halves(f + h[i].l4, 2);
	}
	return 0;
}

int xsk_pkt_update_word(uint8_t *area, const uint64_t *addrs, const int32_t *offsets,
			const int32_t *csum_offsets, const uint16_t *words, uint16_t word,
			const uint8_t *where, uint32_t n, uint64_t area_size, uint32_t frame_size)
{
	for (uint32_t i = 0; i < n; i++)
		if ((!where || where[i]) && !(fits(addrs[i], offsets[i], 2, area_size, frame_size)
					      && fits(addrs[i], csum_offsets[i], 2, area_size, frame_size)))
			return -1;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *w, *c;
		uint32_t old, new, hc, sum;
		if (where && !where[i])
			continue;
		w = area + addrs[i] + offsets[i];
		c = area + addrs[i] + csum_offsets[i];
		old = (uint32_t)w[0] << 8 | w[1];
		new = words ? words[i] : word;
		hc = (uint32_t)c[0] << 8 | c[1];
		sum = (~hc & 0xffff) + (~old & 0xffff) + new;
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		w[0] = new >> 8;
		w[1] = new & 0xff;
		sum = ~sum & 0xffff;
		c[0] = sum >> 8;
		c[1] = sum & 0xff;
	}
	return 0;
}
