/* The generator's patcher (see patch.h). */
#include "patch.h"

static uint64_t sum_words(const uint8_t *b, uint32_t width)
{
	uint64_t s = 0;
	for (uint32_t i = 0; i + 1 < width; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	return s;
}

static inline uint64_t next_rng(struct xsk_patch_plan *p)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return p->rng;
}

/* Big-endian words of 1..8 bytes at any alignment; 1, 2, 4 and 8 bytes as one byte-swapped
 * access on a little-endian machine (x86 here; a big-endian one takes the byte loops). */
static inline uint64_t load_be(const uint8_t *b, uint32_t width)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint16_t h;
	uint32_t w;
	uint64_t q;
	switch (width) {
	case 1:
		return b[0];
	case 2:
		memcpy(&h, b, 2);
		return __builtin_bswap16(h);
	case 4:
		memcpy(&w, b, 4);
		return __builtin_bswap32(w);
	case 8:
		memcpy(&q, b, 8);
		return __builtin_bswap64(q);
	}
#endif
	uint64_t v = 0;
	for (uint32_t i = 0; i < width; i++)
		v = v << 8 | b[i];
	return v;
}

static inline void store_be(uint8_t *b, uint32_t width, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint16_t h;
	uint32_t w;
	switch (width) {
	case 1:
		b[0] = (uint8_t)v;
		return;
	case 2:
		h = __builtin_bswap16((uint16_t)v);
		memcpy(b, &h, 2);
		return;
	case 4:
		w = __builtin_bswap32((uint32_t)v);
		memcpy(b, &w, 4);
		return;
	case 8:
		v = __builtin_bswap64(v);
		memcpy(b, &v, 8);
		return;
	}
#endif
	for (uint32_t i = width; i > 0; i--, v >>= 8)
		b[i - 1] = v & 0xff;
}

/* A counter's value for this packet, written; returns its share of a checksum (unfolded). */
static inline uint64_t put_counter(struct xsk_patch_plan *p, const struct xsk_patch_field *fd, uint8_t *f,
				   uint64_t index, const int list)
{
	uint64_t r = (fd->flags & XSK_PATCH_RANDOM) ? next_rng(p) : index;
	/* n a power of two (a whole field: 256, 65536...; 0 is 2^64) needs no division */
	r = (fd->n & (fd->n - 1)) == 0 ? r & (fd->n - 1) : r % fd->n;
	uint64_t x = list ? fd->list[r] : fd->start + fd->step * r;
	uint64_t v = (x << fd->shift) & fd->mask;
	uint8_t *d = f + fd->offset;
	store_be(d, fd->width, (fd->flags & XSK_PATCH_MASKED) ? v | (load_be(d, fd->width) & ~fd->mask) : v);
	return ((v & 0xffffffff) + (v >> 32)) << fd->sum_shift;
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

/* The out-of-line part of a frame's patch (p->extra, chosen by xsk_patch_ready): counters, lists
 * and a payload drawn per frame written into frame f, their shares of the two checksums returned
 * by value, so that plans without them keep patch_frame's sums in registers, as they were. */
struct counter_sums {
	uint64_t ip, l4;
};

static inline void add_share(struct counter_sums *sums, const struct xsk_patch_field *fd, uint64_t s)
{
	if (fd->flags & XSK_PATCH_IP_SUM)
		sums->ip += s;
	if (fd->flags & XSK_PATCH_L4_SUM)
		sums->l4 += s;
}

/* Counters only (no list, no payload drawn per frame): the common case, one loop. */
static __attribute__((noinline)) struct counter_sums put_counters(struct xsk_patch_plan *p, uint8_t *f,
								  uint32_t len, uint64_t index)
{
	(void)len;
	struct counter_sums sums = {0, 0};
	const struct xsk_patch_field *fd = &p->fields[p->nfields], *end = fd + p->ncounters;
	for (; fd < end; fd++)
		add_share(&sums, fd, put_counter(p, fd, f, index, 0));
	return sums;
}

/* Counters, then lists (they come last), then the payload drawn per frame. */
static __attribute__((noinline)) struct counter_sums put_all(struct xsk_patch_plan *p, uint8_t *f, uint32_t len,
							     uint64_t index)
{
	struct counter_sums sums = {0, 0};
	const struct xsk_patch_field *fd = &p->fields[p->nfields], *end = fd + p->ncounters;
	const struct xsk_patch_field *lists = end - p->nlists;
	for (; fd < lists; fd++)
		add_share(&sums, fd, put_counter(p, fd, f, index, 0));
	for (; fd < end; fd++)
		add_share(&sums, fd, put_counter(p, fd, f, index, 1));
	if (p->ring) {
		uint32_t row = (uint32_t)(next_rng(p) & (p->ring_n - 1));
		uint32_t n = len ? (len > p->ring_at ? len - p->ring_at : 0) : p->ring_len;
		if (n > p->ring_len)
			n = p->ring_len;
		memcpy(f + p->ring_at, p->ring + (uint64_t)row * p->ring_len, n);
		sums.l4 += p->ring_sums[(uint64_t)row * (p->ring_len + 1) + n];
	}
	return sums;
}

typedef struct counter_sums (*extra_fn)(struct xsk_patch_plan *, uint8_t *, uint32_t, uint64_t);

void xsk_patch_ready(struct xsk_patch_plan *p)
{
	p->extra = NULL;
	if (p->nlists || p->ring)
		p->extra = (void *)(extra_fn)put_all;
	else if (p->ncounters)
		p->extra = (void *)(extra_fn)put_counters;
}

/* The checksums are the template's base sums plus the words of the fields written
 * (RFC 1624): no pass over the rest of the frame. */
static inline void patch_frame(struct xsk_patch_plan *p, uint8_t *f, uint32_t len, uint64_t index,
			       uint32_t stream, uint64_t ts_ns)
{
	uint64_t ip = p->base_ip, l4 = p->base_l4;
	for (uint32_t k = 0; k < p->nfields; k++) {
		const struct xsk_patch_field *fd = &p->fields[k];
		uint64_t row = (p->random ? next_rng(p) : index) % fd->count;
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
	if (p->extra) {
		struct counter_sums c = ((extra_fn)p->extra)(p, f, len, index);
		ip += c.ip;
		l4 += c.l4;
	}
	if (p->ip_len_at >= 0) {
		uint32_t v = len - (uint32_t)p->ip_len_sub, seg = len - (uint32_t)p->l4_at;
		f[p->ip_len_at] = (uint8_t)(v >> 8);
		f[p->ip_len_at + 1] = v & 0xff;
		if (p->ip_len_summed)
			ip += v;
		l4 += seg; /* the pseudo-header's length */
		if (p->len_sums && len < p->len_sums_n)
			l4 += p->len_sums[len];
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
