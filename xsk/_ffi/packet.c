/* Packet work on UMEM frames (see packet.h): patching, parsing, MAC swaps, sequence statistics. */
#include "packet.h"

/* addr's offset in its UMEM frame: a mask for the power-of-two sizes of aligned mode, where a
 * 64-bit division per frame would cost more than the frame's parse. */
static inline uint32_t frame_offset(uint64_t addr, uint32_t frame_size)
{
	if (!(frame_size & (frame_size - 1)))
		return (uint32_t)(addr & (frame_size - 1));
	return (uint32_t)(addr % frame_size);
}

/* --- the generator's patcher ------------------------------------------------------------------ */

static uint64_t sum_words(const uint8_t *b, uint32_t width)
{
	uint64_t s = 0;
	for (uint32_t i = 0; i + 1 < width; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	return s;
}

static uint16_t fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put_be64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = v & 0xff;
}

/* The checksums are the template's base sums plus the words of the fields written
 * (RFC 1624): no pass over the rest of the frame. */
static inline void patch_frame(struct xsk_patch_plan *p, uint8_t *f, uint32_t len, uint64_t index,
			       uint32_t stream, uint64_t ts_ns)
{
	uint64_t ip = p->base_ip, l4 = p->base_l4;
	for (uint32_t k = 0; k < p->nfields; k++) {
		const struct xsk_patch_field *fd = &p->fields[k];
		uint64_t row;
		if (p->random) {
			p->rng ^= p->rng << 13;
			p->rng ^= p->rng >> 7;
			p->rng ^= p->rng << 17;
			row = p->rng % fd->count;
		} else {
			row = index % fd->count;
		}
		const uint8_t *v = fd->values + row * fd->width;
		memcpy(f + fd->offset, v, fd->width);
		if (fd->flags) {
			uint64_t s = sum_words(v, fd->width);
			if (fd->flags & XSK_PATCH_IP_SUM)
				ip += s;
			if (fd->flags & XSK_PATCH_L4_SUM)
				l4 += s;
		}
	}
	if (p->ip_len_at >= 0) {
		uint32_t v = len - (uint32_t)p->ip_len_sub, seg = len - (uint32_t)p->l4_at;
		f[p->ip_len_at] = (uint8_t)(v >> 8);
		f[p->ip_len_at + 1] = v & 0xff;
		if (p->ip_len_summed)
			ip += v;
		l4 += seg; /* the pseudo-header's length */
		if (p->udp_len_at >= 0) {
			f[p->udp_len_at] = (uint8_t)(seg >> 8);
			f[p->udp_len_at + 1] = seg & 0xff;
			l4 += seg;
		}
	}
	if (p->seq_at >= 0) {
		uint8_t *q = f + p->seq_at;
		uint64_t seq = ((uint64_t)(stream & 0xff) << 56) | (index & ((1ULL << 56) - 1));
		put_be64(q, seq);
		put_be64(q + 8, ts_ns);
		l4 += sum_words(q, 16);
	}
	if (p->ip_csum_at >= 0) {
		uint16_t c = fold(ip);
		f[p->ip_csum_at] = c >> 8;
		f[p->ip_csum_at + 1] = c & 0xff;
	}
	if (p->l4_csum_at >= 0) {
		uint16_t c = fold(l4);
		if (c == 0 && p->zero_as_ffff)
			c = 0xffff;
		f[p->l4_csum_at] = c >> 8;
		f[p->l4_csum_at + 1] = c & 0xff;
	}
}

void xsk_pkt_patch_one(struct xsk_patch_plan *p, uint8_t *f, uint32_t len, uint64_t index, uint32_t stream,
		       uint64_t ts_ns)
{
	patch_frame(p, f, len, index, stream, ts_ns);
}

void xsk_pkt_patch(struct xsk_patch_plan *p, uint8_t *area, const uint64_t *addrs, uint32_t n,
		   uint64_t index0, uint32_t stream, uint64_t ts_ns)
{
	for (uint32_t i = 0; i < n; i++)
		patch_frame(p, area + addrs[i], 0, index0 + i, stream, ts_ns);
}

/* --- the header parser: the C twin of xsk.headers.parse_rows (same rules) ------------------------ */

static inline uint32_t rd16(const uint8_t *p, uint32_t at, uint32_t lim)
{
	return at + 2 <= lim ? (uint32_t)p[at] << 8 | p[at + 1] : 0;
}

void xsk_parse_frame(const uint8_t *p, uint32_t len, uint32_t room, struct xsk_hdr *h)
{
	uint32_t lim = len < room ? len : room, at = 12, et;
	int is4, is6;

	if (lim > XSK_PKT_HEAD)
		lim = XSK_PKT_HEAD;
	memset(h, 0, sizeof(*h));
	h->vlan = -1;
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
		if (h->proto == 17)
			h->payload = h->l4 + 8;
		else
			h->payload = h->l4 + ((uint32_t)h->l4 + 12 < lim ? (p[h->l4 + 12] >> 4) * 4 : 0);
		if ((uint32_t)h->payload > len)
			h->payload = -1;
	}
	h->udp = h->proto == 17 && h->l4 >= 0;
	h->tcp = h->proto == 6 && h->l4 >= 0;
}

void xsk_pkt_parse(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
		   uint32_t frame_size, struct xsk_hdr *out)
{
	for (uint32_t i = 0; i < n; i++)
		xsk_parse_frame(area + addrs[i], lens[i], frame_size - frame_offset(addrs[i], frame_size), &out[i]);
}

/* --- L4 checksums ----------------------------------------------------------------------------- */

/* The one's-complement sum of len bytes at src in native order, added to acc (RFC 1071: the sum
 * does not depend on byte order, so it is taken in the machine's and swapped once at the end);
 * with dst, the bytes are copied there on the way (the kernel's csum_and_copy: one pass over a
 * payload instead of a copy and a sum; dst and src must not overlap). Always inlined, so the
 * copy disappears where dst is NULL. */
static inline __attribute__((always_inline)) uint64_t sum_copy(uint8_t *dst, const uint8_t *src, uint32_t len,
								uint64_t acc)
{
	while (len >= 8) { /* two 32-bit words a load; a datagram adds < 2^46 before any fold */
		uint64_t w;
		memcpy(&w, src, 8);
		if (dst) {
			memcpy(dst, &w, 8);
			dst += 8;
		}
		acc += (w & 0xffffffffu) + (w >> 32);
		src += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;
		memcpy(&w, src, 4);
		if (dst) {
			memcpy(dst, &w, 4);
			dst += 4;
		}
		acc += w;
		src += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, src, 2);
		if (dst) {
			memcpy(dst, &w, 2);
			dst += 2;
		}
		acc += w;
		src += 2;
		len -= 2;
	}
	if (len) { /* the last odd byte is the high-order byte of a big-endian word */
		uint8_t last[2] = {src[0], 0};
		uint16_t w;
		if (dst)
			dst[0] = src[0];
		memcpy(&w, last, 2);
		acc += w;
	}
	return acc;
}

static uint64_t sum_native(const uint8_t *p, uint32_t len, uint64_t acc)
{
	return sum_copy(NULL, p, len, acc);
}

/* acc folded to 16 bits, as a big-endian (network order) value. */
static uint16_t fold_be(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	uint16_t v = (uint16_t)acc;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = (uint16_t)(v << 8 | v >> 8);
#endif
	return v;
}

static inline uint16_t be16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A big-endian 16-bit word of value v as sum_native would read it from memory. */
static inline uint64_t native16(uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (uint16_t)(v << 8 | (v & 0xffff) >> 8);
#else
	return v & 0xffff;
#endif
}

static inline void put_be16(uint8_t *p, uint32_t v)
{
	uint16_t w = (uint16_t)native16(v);
	memcpy(p, &w, 2);
}

/* Where frame i's L4 checksum lives: 0 and *l4len, *csum_at (offset in the frame) and *pseudo
 * (native sum of the pseudo-header), or XSK_CSUM_NONE / XSK_CSUM_BAD. The pseudo-header is
 * summed from the frame's own address fields: copying it to a buffer first costs a stalled
 * store-to-load forward per frame. */
static int l4_extent(const uint8_t *f, uint32_t room, const struct xsk_hdr *h, uint32_t *l4len,
		     uint32_t *csum_at, uint64_t *pseudo)
{
	if (h->l4 < 0 || h->l3 < 0 || (h->proto != 17 && h->proto != 6))
		return XSK_CSUM_NONE;
	uint32_t l3 = (uint32_t)h->l3, l4 = (uint32_t)h->l4;
	uint32_t len;
	uint64_t ph;
	if (h->ip_version == 4) {
		if (l3 + 20 > room)
			return XSK_CSUM_BAD;
		uint32_t total = be16_at(f + l3 + 2);
		if (total < l4 - l3)
			return XSK_CSUM_BAD;
		len = total - (l4 - l3);
		ph = sum_native(f + l3 + 12, 8, native16(h->proto) + native16(len));
	} else if (h->ip_version == 6) {
		if (l3 + 40 > room)
			return XSK_CSUM_BAD;
		len = be16_at(f + l3 + 4);
		ph = sum_native(f + l3 + 8, 32, native16(h->proto) + native16(len));
	} else {
		return XSK_CSUM_NONE;
	}
	uint32_t at = l4 + (h->proto == 17 ? 6 : 16);
	if (len < (h->proto == 17 ? 8u : 20u) || l4 + len > room)
		return XSK_CSUM_BAD;
	*l4len = len;
	*csum_at = at;
	*pseudo = ph;
	return XSK_CSUM_OK;
}

/* The XSK_CSUM_* state of the frame at addr with headers h (see xsk_pkt_parse_verified). */
static int l4_state(const uint8_t *area, uint64_t addr, uint32_t len, const struct xsk_hdr *h,
		    uint64_t area_size, uint32_t frame_size)
{
	uint32_t room, l4len, at;
	uint64_t pseudo;
	if (addr >= area_size)
		return XSK_CSUM_BAD;
	room = frame_size - frame_offset(addr, frame_size);
	if (len < room)
		room = len;
	const uint8_t *f = area + addr;
	int state = l4_extent(f, room, h, &l4len, &at, &pseudo);
	if (state != XSK_CSUM_OK)
		return state;
	uint16_t field = be16_at(f + at);
	if (field == 0 && h->proto == 17 && h->ip_version == 4)
		return XSK_CSUM_NONE;
	if (fold_be(sum_native(f + h->l4, l4len, pseudo)) == 0xffff)
		return XSK_CSUM_OK;
	return field == fold_be(pseudo) ? XSK_CSUM_PARTIAL : XSK_CSUM_BAD;
}

void xsk_pkt_parse_verified(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
			    uint64_t area_size, uint32_t frame_size, struct xsk_hdr *out)
{
	for (uint32_t i = 0; i < n; i++) {
		xsk_parse_frame(area + addrs[i], lens[i], frame_size - frame_offset(addrs[i], frame_size), &out[i]);
		out[i].l4_csum = (uint8_t)l4_state(area, addrs[i], lens[i], &out[i], area_size, frame_size);
	}
}

void xsk_pkt_l4_csum_count(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
			   uint64_t area_size, uint32_t frame_size, uint64_t counts[4])
{
	struct xsk_hdr h;
	for (uint32_t i = 0; i < n; i++) {
		if (addrs[i] >= area_size) {
			counts[XSK_CSUM_BAD]++;
			continue;
		}
		xsk_parse_frame(area + addrs[i], lens[i], frame_size - frame_offset(addrs[i], frame_size), &h);
		counts[l4_state(area, addrs[i], lens[i], &h, area_size, frame_size)]++;
	}
}

int xsk_pkt_l4_csum_fix(uint8_t *area, const uint64_t *addrs, const uint32_t *lens, const struct xsk_hdr *h,
			const uint8_t *where, int state, uint32_t n, uint64_t area_size, uint32_t frame_size)
{
	int fixed = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t room, l4len, at;
		uint64_t pseudo;
		if ((where && !where[i]) || (state >= 0 && h[i].l4_csum != state) || addrs[i] >= area_size)
			continue;
		room = frame_size - frame_offset(addrs[i], frame_size);
		if (lens[i] < room)
			room = lens[i];
		uint8_t *f = area + addrs[i];
		if (l4_extent(f, room, &h[i], &l4len, &at, &pseudo) != XSK_CSUM_OK)
			continue;
		/* The sum over the datagram as it is, less its old checksum field (+ its complement):
		 * zeroing the field first would make the sum's load wait on that store. */
		uint16_t old;
		memcpy(&old, f + at, 2);
		uint16_t sum = (uint16_t)~fold_be(sum_native(f + h[i].l4, l4len, pseudo + (uint16_t)~old));
		if (sum == 0 && h[i].proto == 17)
			sum = 0xffff; /* UDP: 0 means "no checksum" */
		put_be16(f + at, sum);
		fixed++;
	}
	return fixed;
}

static int payload_fits(uint64_t addr, const struct xsk_hdr *h, uint32_t size, uint64_t area_size,
			uint32_t frame_size)
{
	if (addr >= area_size || h->payload < 0 || h->l4 < 0 || h->l3 < 0 || (h->proto != 17 && h->proto != 6))
		return 0;
	if (h->ip_version == 4) {
		if (h->l4 - h->l3 < 20)
			return 0;
	} else if (h->ip_version != 6 || h->l4 - h->l3 != 40) {
		return 0; /* IPv6 extension headers: not rewritten */
	}
	if (h->payload - h->l4 < (h->proto == 17 ? 8 : 20))
		return 0; /* a TCP data offset below 5: the checksum field would be payload */
	uint64_t room = frame_size - frame_offset(addr, frame_size);
	return (uint64_t)h->payload + size <= room && (uint64_t)h->payload - h->l3 + size <= 0xffff;
}

static inline __attribute__((always_inline)) int
set_payloads(uint8_t *area, const uint64_t *addrs, uint32_t *lens, struct xsk_hdr *h, const uint8_t *where,
	     uint32_t n, const uint8_t *data, uint64_t data_len, const uint32_t *sizes, uint32_t width,
	     uint64_t area_size, uint32_t frame_size)
{
	uint32_t k = 0;
	uint64_t total = 0;
	int64_t bad = -1;
	for (uint32_t i = 0; i < n; i++) { /* all checked before any frame changes */
		if (where && !where[i])
			continue;
		uint32_t size = sizes ? sizes[k] : width;
		if (bad < 0 && !payload_fits(addrs[i], &h[i], size, area_size, frame_size))
			bad = i;
		total += size;
		k++;
	}
	if (total != data_len) /* sizes first: no payload is read from outside data */
		return XSK_PAYLOAD_SIZES_WRONG;
	if (bad >= 0)
		return -1 - (int)bad;
	k = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (where && !where[i])
			continue;
		/* Every sum is taken before any write to the frame, from the fields as they are less
		 * the ones that change, and the payload's from its source: a sum that loads bytes just
		 * stored waits for each store to drain. */
		uint8_t *f = area + addrs[i];
		uint32_t l3 = (uint32_t)h[i].l3, l4 = (uint32_t)h[i].l4, pay = (uint32_t)h[i].payload;
		uint32_t size = sizes ? sizes[k] : width;
		const uint8_t *src = data;
		data += size;
		k++;
		uint32_t l4len = pay - l4 + size, total = pay - l3 + size, udp = h[i].proto == 17;
		uint32_t csum_at = l4 + (udp ? 6 : 16);
		int v4 = h[i].ip_version == 4;
		/* The addresses are summed once, for the pseudo-header and the IPv4 header alike. */
		uint64_t addrs_sum = v4 ? sum_native(f + l3 + 12, 8, 0) : sum_native(f + l3 + 8, 32, 0);
		uint64_t l4sum = addrs_sum + native16(h[i].proto) + native16(l4len), ipsum = 0;
		uint16_t old_csum, ports_lo, ports_hi, old_total, old_ip_csum;
		if (udp) { /* ports, then the new length twice (UDP header and pseudo-header) */
			memcpy(&ports_lo, f + l4, 2);
			memcpy(&ports_hi, f + l4 + 2, 2);
			l4sum += (uint64_t)ports_lo + ports_hi + native16(l4len);
		} else { /* the TCP header as it is, less its old checksum */
			memcpy(&old_csum, f + csum_at, 2);
			l4sum = sum_native(f + l4, pay - l4, l4sum + (uint16_t)~old_csum);
		}
		if (v4) { /* the header as it is, less its old total length and checksum */
			memcpy(&old_total, f + l3 + 2, 2);
			memcpy(&old_ip_csum, f + l3 + 10, 2);
			ipsum = sum_native(f + l3, 12, addrs_sum + (uint16_t)~old_total + (uint16_t)~old_ip_csum
							   + native16(total));
			if (l4 - l3 > 20)
				ipsum = sum_native(f + l3 + 20, l4 - l3 - 20, ipsum);
		}
		if (src + size <= f + pay || f + pay + size <= src) {
			l4sum = sum_copy(f + pay, src, size, l4sum);
		} else { /* a payload taken from this very frame */
			l4sum = sum_native(src, size, l4sum);
			memmove(f + pay, src, size);
		}
		uint16_t l4c = (uint16_t)~fold_be(l4sum);
		if (l4c == 0 && udp)
			l4c = 0xffff; /* UDP: 0 means "no checksum" */
		if (v4) {
			put_be16(f + l3 + 2, total);
			put_be16(f + l3 + 10, (uint16_t)~fold_be(ipsum));
		} else {
			put_be16(f + l3 + 4, l4len);
		}
		if (udp)
			put_be16(f + l4 + 4, l4len);
		put_be16(f + csum_at, l4c);
		lens[i] = pay + size;
		h[i].l4_csum = XSK_CSUM_OK;
	}
	return 0;
}

int xsk_pkt_set_payload(uint8_t *area, const uint64_t *addrs, uint32_t *lens, struct xsk_hdr *h,
			const uint8_t *where, uint32_t n, const uint8_t *data, uint64_t data_len,
			const uint32_t *sizes, uint32_t width, uint64_t area_size, uint32_t frame_size)
{
	if (!where && !sizes) /* every frame, rows of one width: a loop with neither test in it */
		return set_payloads(area, addrs, lens, h, NULL, n, data, data_len, NULL, width, area_size,
				    frame_size);
	return set_payloads(area, addrs, lens, h, where, n, data, data_len, sizes, width, area_size, frame_size);
}

/* --- in-place rewrites -------------------------------------------------------------------------- */

int xsk_pkt_swap_macs(uint8_t *area, const uint64_t *addrs, uint32_t n, uint64_t area_size,
		      uint32_t frame_size)
{
	for (uint32_t i = 0; i < n; i++) /* all checked before any frame changes */
		if (addrs[i] >= area_size || frame_offset(addrs[i], frame_size) + 12 > frame_size)
			return -1;
	for (uint32_t i = 0; i < n; i++)
		xsk_swap_halves(area + addrs[i], 6);
	return 0;
}

/* Does [off, off + width) lie inside the room of the frame at addr (from it to its UMEM frame's end)? */
static int fits(uint64_t addr, int64_t off, uint32_t width, uint64_t area_size, uint32_t frame_size)
{
	return addr < area_size && off >= 0 && (uint64_t)off + width <= frame_size - frame_offset(addr, frame_size);
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

/* --- sequence statistics ------------------------------------------------------------------------- */

/* Per stream a window of the last mask+1 counters below the highest gives exact duplicates in
 * fixed memory; latency goes to log buckets. */
static void seq_one(struct xsk_seqwin *w, int64_t c)
{
	int64_t prior = w->highest;
	if (c > w->highest) {
		if (w->lowest < 0 || (uint64_t)(c - w->highest) > w->mask)
			memset(w->bits, 0, w->mask + 1);
		else
			for (int64_t k = w->highest + 1; k <= c; k++)
				w->bits[k & w->mask] = 0;
		w->highest = c;
	}
	if (w->lowest < 0 || c < w->lowest)
		w->lowest = c;
	if (c + (int64_t)w->mask < w->highest) { /* fell behind the window */
		w->too_late++;
		w->reordered++;
		w->unique++;
		return;
	}
	if (w->bits[c & w->mask]) {
		w->duplicates++;
		return;
	}
	w->bits[c & w->mask] = 1;
	w->unique++;
	if (c < prior)
		w->reordered++;
}

uint32_t xsk_hist_index(uint64_t v)
{
	if (v < 2 * XSK_HIST_SUB)
		return (uint32_t)v;
	uint32_t e = 63 - (uint32_t)__builtin_clzll(v) - 7; /* v >> e is in [128, 256) */
	uint32_t i = e * XSK_HIST_SUB + (uint32_t)(v >> e);
	return i < XSK_HIST_BUCKETS ? i : XSK_HIST_BUCKETS - 1;
}

static void add_latency(struct xsk_seqwin *w, int64_t arrival_ns, int64_t sent_ns)
{
	int64_t transit = arrival_ns - sent_ns;
	if (w->timed) {
		int64_t d = transit - w->last_transit;
		w->jitter += ((double)(d < 0 ? -d : d) - w->jitter) / 16.0;
	}
	w->last_transit = transit;
	w->hist[xsk_hist_index((uint64_t)transit)]++;
	if (!w->timed || transit < w->lat_min)
		w->lat_min = transit;
	if (!w->timed || transit > w->lat_max)
		w->lat_max = transit;
	w->lat_sum += (double)transit;
	w->timed++;
}

uint32_t xsk_seq_batch(struct xsk_seqstats *st, const uint8_t *area, const uint64_t *addrs,
		       const uint32_t *lens, uint32_t n, uint32_t frame_size, int64_t now_ns,
		       uint32_t start, int32_t *missing)
{
	*missing = -1;
	for (uint32_t i = start; i < n; i++) {
		struct xsk_hdr h;
		const uint8_t *p = area + addrs[i];
		uint32_t room = frame_size - frame_offset(addrs[i], frame_size);
		uint32_t lim = lens[i] < room ? lens[i] : room;
		uint64_t seq = 0, sent = 0;

		xsk_parse_frame(p, lens[i], room, &h);
		if (h.payload < 0 || (uint32_t)h.payload + 18 > lim || (uint32_t)h.payload + 18 > XSK_PKT_HEAD)
			continue;
		p += h.payload;
		if (p[0] != 'X' || p[1] != 'K')
			continue;
		for (int k = 0; k < 8; k++) {
			seq = seq << 8 | p[2 + k];
			sent = sent << 8 | p[10 + k];
		}
		if (!st->streams[seq >> 56]) {
			*missing = (int32_t)(seq >> 56);
			return i;
		}
		struct xsk_seqwin *w = st->streams[seq >> 56];
		st->with_seq++;
		if (!w->packets)
			w->first_ns = now_ns;
		w->last_ns = now_ns;
		w->packets++;
		w->bytes += lens[i];
		seq_one(w, (int64_t)(seq & (((uint64_t)1 << 56) - 1)));
		if ((int64_t)sent <= now_ns)
			add_latency(w, now_ns, (int64_t)sent);
	}
	return n;
}
