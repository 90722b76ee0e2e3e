/* The stand-in kernel and the C benchmark loop (see standin.h): tests' and benchmarks' business. */
#include <errno.h>

#include "standin.h"

int xsk_standin_ring(void *ring_struct, uint32_t *producer, uint32_t *consumer, uint32_t *flags,
		     void *descs, uint32_t size, int producer_side)
{
	struct xsk_ring_prod *r = ring_struct;
	if (size == 0 || (size & (size - 1)))
		return -EINVAL;
	r->mask = size - 1;
	r->size = size;
	r->producer = producer;
	r->consumer = consumer;
	r->flags = flags;
	r->ring = descs;
	r->cached_prod = *producer;
	r->cached_cons = *consumer + (producer_side ? size : 0);
	return 0;
}

uint32_t xsk_standin_run(struct xsk_ring_prod *tx, struct xsk_ring_cons *cq, struct xsk_ring_prod *fq,
			 struct xsk_ring_cons *rx, uint32_t max, uint32_t rx_len, uint32_t headroom)
{
	uint32_t moved = 0;
	if (tx && cq) {
		uint32_t tp = __atomic_load_n(tx->producer, __ATOMIC_ACQUIRE), tc = *tx->consumer;
		uint32_t cp = *cq->producer, cc = __atomic_load_n(cq->consumer, __ATOMIC_ACQUIRE);
		uint32_t n = tp - tc, room = cq->size - (cp - cc);
		if (n > room)
			n = room;
		if (n > max)
			n = max;
		const struct xdp_desc *restrict descs = tx->ring;
		uint64_t *restrict comp = cq->ring;
		for (uint32_t i = 0; i < n; i++)
			comp[(cp + i) & cq->mask] = descs[(tc + i) & tx->mask].addr;
		__atomic_store_n(tx->consumer, tc + n, __ATOMIC_RELEASE);
		__atomic_store_n(cq->producer, cp + n, __ATOMIC_RELEASE);
		moved += n;
	}
	if (fq && rx) {
		uint32_t fp = __atomic_load_n(fq->producer, __ATOMIC_ACQUIRE), fc = *fq->consumer;
		uint32_t rp = *rx->producer, rc = __atomic_load_n(rx->consumer, __ATOMIC_ACQUIRE);
		uint32_t n = fp - fc, room = rx->size - (rp - rc);
		if (n > room)
			n = room;
		if (n > max)
			n = max;
		struct xdp_desc *restrict descs = rx->ring;
		const uint64_t *restrict fill = fq->ring;
		for (uint32_t i = 0; i < n; i++) {
			struct xdp_desc *d = &descs[(rp + i) & rx->mask];
			d->addr = fill[(fc + i) & fq->mask] + headroom;
			d->len = rx_len;
			d->options = 0;
		}
		__atomic_store_n(fq->consumer, fc + n, __ATOMIC_RELEASE);
		__atomic_store_n(rx->producer, rp + n, __ATOMIC_RELEASE);
		moved += n;
	}
	return moved;
}

int xsk_standin_wake(struct xsk_path *p)
{
	const struct xsk_standin *k = p->wake_ctx;
	if (p->q->txmd && p->tx) /* a UMEM with TX metadata: serve the requests as copy mode does */
		xsk_txmd_standin_tx(p->tx, p->q->txmd);
	xsk_standin_run(p->tx, p->q->cq, p->q->fq, p->rx, UINT32_MAX, k->rx_len, k->headroom);
	return 0;
}

uint64_t xsk_standin_bench(struct xsk_path *p, uint32_t batch, uint64_t iterations)
{
	uint64_t addrs[4096];
	uint32_t lens[4096], bad;
	uint64_t moved = 0;
	if (batch > 4096)
		batch = 4096;
	for (uint64_t it = 0; it < iterations; it++) {
		uint32_t token = 0xfffffff0u;
		uint32_t n = xsk_ledger_take(p->l, addrs, lens, batch, token, 60);
		int k = xsk_path_send(p, addrs, lens, NULL, n, token, 1);
		if (k < 0)
			return 0;
		if ((uint32_t)k < n)
			xsk_ledger_release(p->l, addrs + k, n - (uint32_t)k, token, &bad);
		moved += (uint32_t)k;
		token = 0xfffffff1u;
		uint32_t r = xsk_path_recv(p, addrs, lens, NULL, batch, token);
		if (xsk_path_fill(p, addrs, r, token, 1) < 0)
			return 0;
		moved += r;
	}
	return moved;
}
