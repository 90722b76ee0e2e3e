/* The compiled-handler loop (see jit.h). */
#include <time.h>

#include "csum.h"
#include "jit.h"

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One batch: up to max frames received (0: the RX ring was empty). */
static uint32_t one_batch(struct xsk_jit *j, struct xsk_path *in, struct xsk_path *out, uint8_t *area,
			  uint32_t max, uint32_t token)
{
	uint64_t addrs[XSK_JIT_MAX_BATCH], back[XSK_JIT_MAX_BATCH];
	uint32_t lens[XSK_JIT_MAX_BATCH];
	struct xsk_hdr h[XSK_JIT_MAX_BATCH];
	struct xsk_jit_counts *c = &j->c;
	const uint32_t fsize = in->l->frame_size;
	uint32_t n, ns = 0, nb = 0, sent = 0, tries = 0;
	uint64_t t0;

	n = xsk_path_recv(in, addrs, lens, NULL, max, token);
	if (!n)
		return 0;
	t0 = now_ns();
	if (j->verify)
		xsk_pkt_parse_verified(area, addrs, lens, n, (uint64_t)in->l->nframes * fsize, fsize, h);
	else
		xsk_pkt_parse(area, addrs, lens, n, fsize, h);
	for (uint32_t i = 0; i < n; i++) {
		const uint64_t a = addrs[i];
		const uint32_t room = fsize - xsk_frame_offset(a, fsize);
		const int64_t r = j->fn(area + a, lens[i], room, &h[i], j->state);
		if (r > 0 && r <= (int64_t)room) {
			addrs[ns] = a; /* ns <= i: the answers move to the front, in order */
			lens[ns++] = (uint32_t)r;
			continue;
		}
		if (r == XSK_JIT_SEND) {
			addrs[ns] = a;
			lens[ns++] = lens[i];
			continue;
		}
		back[nb++] = a;
		if (r == XSK_JIT_PASS)
			c->returned++;
		else if (r == XSK_JIT_DROP)
			c->dropped++;
		else if (r == XSK_JIT_RAISED)
			c->raised++;
		else
			c->invalid++;
	}
	while (sent < ns) {
		int k = xsk_path_send(out, addrs + sent, lens + sent, NULL, ns - sent, token, 1);
		if (k < 0) { /* refused whole (cannot happen: the loop owns every frame, lengths checked) */
			j->send_err = k;
			break;
		}
		sent += (uint32_t)k;
		if (sent == ns || out->kick_err || tries++ >= j->send_retries)
			break;
		xsk_path_complete(out);
	}
	c->replied += sent;
	c->tx_dropped += ns - sent;
	for (uint32_t i = sent; i < ns; i++)
		back[nb++] = addrs[i];
	if (nb)
		xsk_path_fill(in, back, nb, token, 1); /* cannot fail: the batch's own frames, to_pool */
	c->received += n;
	c->batches++;
	c->busy_ns += now_ns() - t0;
	return n;
}

uint64_t xsk_jit_run(struct xsk_jit *j, struct xsk_path *in, struct xsk_path *out, uint8_t *area, uint64_t budget,
		     uint64_t spin_ns, uint32_t token)
{
	uint64_t got = 0, idle_since = 0;
	uint32_t batch = j->batch;
	if (batch < 1)
		batch = 1;
	if (batch > XSK_JIT_MAX_BATCH)
		batch = XSK_JIT_MAX_BATCH;
	out->kick_err = 0;
	j->send_err = 0;
	while (got < budget && !j->stop && !out->kick_err && !j->send_err) {
		uint32_t want = budget - got < batch ? (uint32_t)(budget - got) : batch;
		uint32_t n = one_batch(j, in, out, area, want, token);
		got += n;
		if (n) {
			idle_since = 0;
			continue;
		}
		if (in->wake) { /* rings in memory: where a socket would sleep, the stand-in kernel runs */
			xsk_path_kick(in);
		} else if (xsk_path_fill_needs_wakeup(in)) {
			break;
		}
		uint64_t now = now_ns();
		if (!idle_since)
			idle_since = now;
		else if (now - idle_since >= spin_ns)
			break;
	}
	return got;
}
