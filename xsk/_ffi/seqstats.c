/* Sequence statistics (see seqstats.h). */
#include "seqstats.h"

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
		uint32_t room = frame_size - xsk_frame_offset(addrs[i], frame_size);
		uint32_t lim = lens[i] < room ? lens[i] : room;
		uint64_t seq = 0, sent = 0;

		xsk_parse_frame_inline(p, lens[i], room, &h);
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

static int in_range(const uint8_t *v, const uint8_t *lo, const uint8_t *hi, size_t n)
{
	return memcmp(v, lo, n) >= 0 && memcmp(v, hi, n) <= 0;
}

static void be32(uint8_t *out, uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

uint32_t xsk_flow_batch(struct xsk_flow *flows, uint32_t nflows, const uint8_t *area, const uint64_t *addrs,
			const uint32_t *lens, uint32_t n, uint32_t frame_size)
{
	uint32_t matched = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct xsk_hdr h;
		const uint8_t *p = area + addrs[i];
		uint32_t room = frame_size - xsk_frame_offset(addrs[i], frame_size);
		uint32_t lim = lens[i] < room ? lens[i] : room;
		uint8_t src[16], dst[16];
		size_t alen;

		xsk_parse_frame_inline(p, lens[i], room, &h);
		if (h.ip_version != 4 && h.ip_version != 6)
			continue;
		if (h.payload >= 0 && (uint32_t)h.payload + 2 <= lim && p[h.payload] == 'X' && p[h.payload + 1] == 'K')
			continue; /* a sequence header: xsk_seq_batch counts it */
		if (h.ip_version == 4) {
			be32(src, h.src_ip4);
			be32(dst, h.dst_ip4);
			alen = 4;
		} else {
			memcpy(src, h.src_ip6, 16);
			memcpy(dst, h.dst_ip6, 16);
			alen = 16;
		}
		for (uint32_t k = 0; k < nflows; k++) {
			struct xsk_flow *f = &flows[k];
			if (f->ip_version != h.ip_version || (f->proto && f->proto != h.proto))
				continue;
			if (h.src_port < f->sport_lo || h.src_port > f->sport_hi || h.dst_port < f->dport_lo ||
			    h.dst_port > f->dport_hi)
				continue;
			if (!in_range(src, f->src_lo, f->src_hi, alen) || !in_range(dst, f->dst_lo, f->dst_hi, alen))
				continue;
			f->packets++;
			f->bytes += lens[i];
			matched++;
			break;
		}
	}
	return matched;
}
