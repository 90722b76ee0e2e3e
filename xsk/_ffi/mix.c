/* The multi-stream generator's scheduler: see mix.h. */
#include "mix.h"

#include <math.h>
#include <string.h>

static int finished(const struct xsk_mix_stream *s, int64_t now_ns)
{
	return s->sent >= s->limit || now_ns >= s->stop_ns;
}

/* When packet k of s is due (ns on the run's clock). */
static inline double due_at(const struct xsk_mix_stream *s, uint64_t k)
{
	double t = (double)s->start_ns + (double)k * s->interval_ns;
	if (s->burst_len)
		t += (double)(k / s->burst_len) * (double)s->gap_ns;
	return t;
}

/* How many of a multi-burst stream's packets are due by now_ns (out of line: streams without
 * bursts keep the plain division of their spacing in the per-frame path). */
static __attribute__((noinline)) double burst_due(const struct xsk_mix_stream *s, int64_t now_ns)
{
	double e = (double)(now_ns - s->start_ns);
	double len = (double)s->burst_len, period = len * s->interval_ns + (double)s->gap_ns;
	double j = period > 0 ? floor(e / period) : 0.0, r = e - j * period;
	double in = s->interval_ns > 0 ? floor(r / s->interval_ns) + 1.0 : len;
	return j * len + (in < len ? in : len);
}

/* How many of s's packets are due by now_ns (a started, paced or multi-burst stream; fractional
 * for a paced stream without bursts, as the token count is). */
static inline double n_due(const struct xsk_mix_stream *s, int64_t now_ns)
{
	if (s->burst_len)
		return burst_due(s, now_ns);
	return (double)(now_ns - s->start_ns) / s->interval_ns + 1.0;
}

/* A chained stream waiting for its predecessor, which has finished (and it is not held). */
static inline int ready_to_chain(const struct xsk_mix *m, const struct xsk_mix_stream *s, int64_t now_ns)
{
	return s->after >= 0 && !s->held && finished(&m->streams[s->after], now_ns);
}

static void refill(struct xsk_mix_stream *s, int64_t now_ns)
{
	if (s->interval_ns <= 0)
		return;
	s->tokens += (double)(now_ns - s->refilled_ns) * s->catch_up / s->interval_ns;
	if (s->tokens > s->depth)
		s->tokens = s->depth;
	s->refilled_ns = now_ns;
}

/* The stream whose packet goes next at now_ns, or -1: the earliest due paced stream with a
 * token, else the unpaced stream that has sent least. */
static inline __attribute__((always_inline)) int pick(struct xsk_mix *m, int64_t now_ns, const int special)
{
	int best = -1, best_unpaced = -1;
	double best_due = 0;
	uint64_t least = 0;
	for (uint32_t i = 0; i < m->nstreams; i++) {
		const struct xsk_mix_stream *s = &m->streams[i];
		if (finished(s, now_ns) || now_ns < s->start_ns)
			continue;
		if (s->interval_ns <= 0) {
			if (special && s->burst_len && burst_due(s, now_ns) < (double)s->sent + 1.0)
				continue; /* between two bursts */
			if (best_unpaced < 0 || s->sent < least) {
				best_unpaced = (int)i;
				least = s->sent;
			}
			continue;
		}
		/* the same test as xsk_mix_due's count, so fill fills what due promised */
		double done = special && s->burst_len ? burst_due(s, now_ns) - 1.0
						      : (double)(now_ns - s->start_ns) / s->interval_ns;
		if (done < (double)s->sent || s->tokens < 1.0)
			continue;
		double due = due_at(s, s->sent);
		if (best < 0 || due < best_due) {
			best = (int)i;
			best_due = due;
		}
	}
	return best >= 0 ? best : best_unpaced;
}

static void put_be64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = v & 0xff;
}

/* A rows stream's next packet copied into f, its sequence header and checksum written; its length
 * (out of line: the template streams' per-frame path stays as it was). */
static __attribute__((noinline)) uint32_t put_row(struct xsk_mix_stream *s, uint8_t *f, uint64_t ts_ns)
{
	const struct xsk_mix_rows *r = s->rows;
	uint64_t index = s->seq0 + s->sent;
	uint32_t row = (uint32_t)(s->sent % s->nsizes), len = s->sizes[row];
	memcpy(f, r->frames + (uint64_t)row * r->stride, len);
	if (!r->seq_at)
		return len;
	uint8_t *q = f + r->seq_at[row];
	put_be64(q, ((uint64_t)(s->id & 0xff) << 56) | (index & ((1ULL << 56) - 1)));
	put_be64(q + 8, ts_ns);
	int32_t at = r->csum_at[row];
	if (at < 0)
		return len;
	uint64_t sum = r->base[row];
	for (int i = 0; i < 16; i += 2)
		sum += (uint32_t)q[i] << 8 | q[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	if (c == 0 && r->udp[row])
		c = 0xffff;
	f[at] = (uint8_t)(c >> 8);
	f[at + 1] = c & 0xff;
	return len;
}

/* Frame i of the fill is stream k's packet of length len: counted. */
static inline void account(struct xsk_mix *m, struct xsk_mix_stream *s, int k, uint32_t i, uint32_t *lens,
			   uint32_t len, int64_t now_ns)
{
	if (!s->sent)
		s->first_ns = now_ns;
	s->last_ns = now_ns;
	lens[i] = m->lens[i] = len;
	m->which[i] = (uint8_t)k;
	s->sent++;
	s->bytes += len;
	if (s->interval_ns > 0)
		s->tokens -= 1.0;
}

uint32_t xsk_mix_due(struct xsk_mix *m, int64_t now_ns, uint32_t n)
{
	uint64_t due = 0;
	if (m->ctl_version && *m->ctl_version != m->ctl_seen)
		return 0; /* a command first: the caller applies it */
	for (uint32_t i = 0; i < m->nstreams; i++) {
		struct xsk_mix_stream *s = &m->streams[i];
		if (ready_to_chain(m, s, now_ns)) {
			s->start_ns = now_ns + s->delay_ns;
			s->stop_ns = s->length_ns < 0 ? XSK_MIX_NEVER : s->start_ns + s->length_ns;
			s->refilled_ns = now_ns;
			s->after = -1;
		}
	}
	for (uint32_t i = 0; i < m->nstreams && due < n; i++) {
		struct xsk_mix_stream *s = &m->streams[i];
		refill(s, now_ns);
		if (finished(s, now_ns) || now_ns < s->start_ns)
			continue;
		uint64_t left = s->limit - s->sent;
		if (s->interval_ns > 0 || s->burst_len) {
			/* packets k due by now (start + k * interval [+ bursts' gaps] <= now), less those
			 * sent, at most the tokens */
			double k = n_due(s, now_ns) - (double)s->sent;
			if (s->interval_ns > 0 && k > s->tokens)
				k = s->tokens;
			if (k < 1.0)
				continue;
			if ((double)left > k)
				left = (uint64_t)k;
		}
		due += left;
	}
	return due < n ? (uint32_t)due : n;
}

/* The fill loop, made twice by the compiler: with `special` 0 for mixes of template streams only
 * (the per-frame path has no test for captures or bursts), 1 when a stream has either. */
static inline __attribute__((always_inline)) uint32_t fill(struct xsk_mix *m, uint8_t *area, const uint64_t *addrs,
							   uint32_t *lens, uint32_t n, int64_t now_ns, uint64_t ts_ns,
							   const int special)
{
	for (uint32_t i = 0; i < n; i++) {
		int k = pick(m, now_ns, special);
		if (k < 0)
			return i;
		struct xsk_mix_stream *s = &m->streams[k];
		uint64_t frame = addrs[i] / m->frame_size;
		uint8_t *f = area + addrs[i];
		if (special && s->rows) {
			uint32_t len = put_row(s, f, ts_ns);
			if (frame < m->nframes)
				m->tags[frame] = 0; /* holds no template now */
			account(m, s, k, i, lens, len, now_ns);
			continue;
		}
		if (frame < m->nframes && m->tags[frame] != (uint16_t)(k + 1)) {
			memcpy(f, s->frame, s->frame_len);
			m->tags[frame] = (uint16_t)(k + 1);
		}
		uint32_t at;
		if (s->sizes_random) {
			s->rng ^= s->rng << 13;
			s->rng ^= s->rng >> 7;
			s->rng ^= s->rng << 17;
			at = (uint32_t)(s->rng % s->nsizes);
		} else {
			at = (uint32_t)(s->sent % s->nsizes);
		}
		uint32_t len = s->sizes[at];
		xsk_pkt_patch_one(s->plan, f, len, s->seq0 + s->sent, s->id, ts_ns);
		account(m, s, k, i, lens, len, now_ns);
	}
	return n;
}

uint32_t xsk_mix_fill(struct xsk_mix *m, uint8_t *area, const uint64_t *addrs, uint32_t *lens, uint32_t n,
		      int64_t now_ns, uint64_t ts_ns)
{
	int special = 0;
	if (n > m->cap)
		n = m->cap;
	for (uint32_t i = 0; i < m->nstreams; i++) {
		refill(&m->streams[i], now_ns);
		special |= m->streams[i].rows != NULL || m->streams[i].burst_len;
	}
	return special ? fill(m, area, addrs, lens, n, now_ns, ts_ns, 1) : fill(m, area, addrs, lens, n, now_ns, ts_ns, 0);
}

void xsk_mix_unsend(struct xsk_mix *m, uint32_t from, uint32_t n)
{
	for (uint32_t i = n; i > from; i--) {
		struct xsk_mix_stream *s = &m->streams[m->which[i - 1]];
		s->sent--;
		s->bytes -= m->lens[i - 1];
		if (s->interval_ns > 0)
			s->tokens += 1.0;
	}
}

int64_t xsk_mix_next_ns(const struct xsk_mix *m, int64_t now_ns)
{
	int64_t next = -1;
	for (uint32_t i = 0; i < m->nstreams; i++) {
		const struct xsk_mix_stream *s = &m->streams[i];
		if (ready_to_chain(m, s, now_ns))
			return now_ns; /* xsk_mix_due starts it */
		if (finished(s, now_ns))
			continue;
		int64_t at = now_ns;
		if (now_ns < s->start_ns) {
			at = s->start_ns;
		} else if (s->interval_ns > 0 || s->burst_len) {
			double due = due_at(s, s->sent);
			if (s->interval_ns > 0 && s->tokens < 1.0) {
				double ready = (double)s->refilled_ns + (1.0 - s->tokens) * s->interval_ns / s->catch_up;
				if (ready > due)
					due = ready;
			}
			at = due > (double)now_ns ? (int64_t)due : now_ns;
		}
		if (at >= s->stop_ns)
			continue;
		if (next < 0 || at < next)
			next = at;
	}
	return next;
}
