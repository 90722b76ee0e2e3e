/* L4 checksums (see csum.h). */
#include "csum.h"

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
static inline __attribute__((always_inline)) int l4_extent(const uint8_t *f, uint32_t room, const struct xsk_hdr *h, uint32_t *l4len,
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
static inline __attribute__((always_inline)) int l4_state(const uint8_t *area, uint64_t addr, uint32_t len, const struct xsk_hdr *h,
		    uint64_t area_size, uint32_t frame_size)
{
	uint32_t room, l4len, at;
	uint64_t pseudo;
	if (addr >= area_size)
		return XSK_CSUM_BAD;
	room = frame_size - xsk_frame_offset(addr, frame_size);
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

/* l4_state for a frame xsk_parse_ip4_fast took (IPv4 at 14 without options, UDP or TCP at 34),
 * from locals: the general one re-reads each header field it stored through h, as the frame's
 * bytes might alias them. Same states, same order of tests. */
static inline __attribute__((always_inline)) int l4_state_ip4(const uint8_t *f, uint32_t room, uint8_t proto)
{
	const uint32_t total = be16_at(f + 16);
	const int udp = proto == 17;
	if (total < 20)
		return XSK_CSUM_BAD;
	const uint32_t len = total - 20;
	if (len < (udp ? 8u : 20u) || 34 + len > room)
		return XSK_CSUM_BAD;
	const uint64_t pseudo = sum_native(f + 26, 8, native16(proto) + native16(len));
	const uint16_t field = be16_at(f + 34 + (udp ? 6 : 16));
	if (field == 0 && udp)
		return XSK_CSUM_NONE;
	if (fold_be(sum_native(f + 34, len, pseudo)) == 0xffff)
		return XSK_CSUM_OK;
	return field == fold_be(pseudo) ? XSK_CSUM_PARTIAL : XSK_CSUM_BAD;
}

void xsk_pkt_parse_verified(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
			    uint64_t area_size, uint32_t frame_size, struct xsk_hdr *out)
{
	for (uint32_t i = 0; i < n; i++) {
		const uint64_t addr = addrs[i];
		const uint32_t len = lens[i], room = frame_size - xsk_frame_offset(addr, frame_size);
		const uint32_t lim = len < room ? len : room;
		const uint8_t *f = area + addr;
		struct xsk_hdr *h = &out[i];
		if (addr >= area_size) { /* not a frame of this UMEM: nothing read from it */
			memset(h, 0, sizeof(*h));
			h->vlan = h->l3 = h->l4 = h->payload = -1;
			h->l4_csum = XSK_CSUM_BAD;
			continue;
		}
		memset(h, 0, sizeof(*h));
		h->vlan = -1;
		if (xsk_parse_ip4_fast(f, len, lim < XSK_PKT_HEAD ? lim : XSK_PKT_HEAD, h)) {
			h->l4_csum = (uint8_t)l4_state_ip4(f, lim, f[23]);
			continue;
		}
		xsk_parse_frame_general(f, len, lim < XSK_PKT_HEAD ? lim : XSK_PKT_HEAD, h);
		h->l4_csum = (uint8_t)l4_state(area, addr, len, h, area_size, frame_size);
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
		xsk_parse_frame(area + addrs[i], lens[i], frame_size - xsk_frame_offset(addrs[i], frame_size), &h);
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
		room = frame_size - xsk_frame_offset(addrs[i], frame_size);
		if (lens[i] < room)
			room = lens[i];
		uint8_t *f = area + addrs[i];
		if (l4_extent(f, room, &h[i], &l4len, &at, &pseudo) != XSK_CSUM_OK)
			continue;
		/* The sum over the datagram as it is, less its old checksum field (+ its complement):
		 * zeroing the field first would make the sum's load wait on that store. */
		uint16_t old;
		memcpy(&old, f + at, 2);
		if (state == XSK_FIX_LOOKS_PARTIAL &&
		    (be16_at(f + at) != fold_be(pseudo) || (old == 0 && h[i].proto == 17 && h[i].ip_version == 4)))
			continue; /* a finished checksum (or none): the datagram need not be summed */
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
	uint64_t room = frame_size - xsk_frame_offset(addr, frame_size);
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
