/* One socket's data path (see datapath.h): the batch <-> ring moves, each checked against the
 * ledger and committed in one pass, and the xsk_path_* entry points built from them. */
#include <errno.h>
#include <sys/socket.h>

#include "datapath.h"
#include "parse.h"
#include "rewrite.h"

/* In unaligned mode the kernel returns RX addresses as chunk base | data offset << 48. */
static inline uint64_t kernel_addr(uint32_t unaligned, uint64_t a)
{
	return unaligned ? (a & XSK_UNALIGNED_BUF_ADDR_MASK) + (a >> XSK_UNALIGNED_BUF_OFFSET_SHIFT) : a;
}

/* The frame a descriptor from the kernel names, if the kernel held it in state `expect` (FILL
 * for RX, TX for completions): its index, with the plain address in *a. Anything else counts
 * as a kernel error and gives NO_FRAME. */
#define NO_FRAME UINT32_MAX
static inline uint32_t kernel_frame(struct xsk_ledger *l, const struct xsk_frames *fr, uint64_t raw,
				    uint32_t expect, uint64_t *a)
{
	uint64_t x = kernel_addr(fr->unaligned, raw);
	uint32_t f;
	if (x >= fr->size || XSK_WORD_STATE(fr->word[f = xsk_frame_at(x, fr->shift, fr->fsize)]) != expect) {
		l->kernel_errors++;
		return NO_FRAME;
	}
	*a = x;
	return f;
}

/* libxdp's reserve is all-or-nothing; a partial batch is backpressure, so reserve what fits. */
static uint32_t reserve_upto(struct xsk_ring_prod *r, uint32_t n, uint32_t *idx)
{
	uint32_t free = xsk_prod_nb_free(r, n);
	if (n > free)
		n = free;
	return n ? xsk_ring_prod__reserve(r, n, idx) : 0;
}

/* --- batch <-> ring, lock held --------------------------------------------------------------- */

/* USER -> FILL for as many of the checked batch as fit; the rest stays the caller's. */
static int ring_fill(struct xsk_ledger *l, struct xsk_ring_prod *fq, const uint64_t *restrict addrs,
		     uint32_t n, uint32_t token, uint32_t ring_owner, uint32_t *bad)
{
	uint32_t idx, k;
	int err = xsk_ledger_check_batch(l, addrs, NULL, n, token, bad);
	if (err)
		return err;
	k = reserve_upto(fq, n, &idx);
	{
		struct xsk_frames fr = xsk_frames_of(l);
		const uint64_t theirs = XSK_WORD(XSK_FILL, ring_owner);
		uint64_t *restrict ring = fq->ring;
		const uint32_t mask = fq->mask;
		for (uint32_t i = 0; i < k; i++) {
			uint32_t f = xsk_frame_at(addrs[i], fr.shift, fr.fsize);
			/* The kernel wants the frame's start; it adds the headroom itself. */
			ring[(idx + i) & mask] = (uint64_t)f * fr.fsize;
			fr.word[f] = theirs;
		}
	}
	xsk_unmark(l, addrs + k, n - k); /* what did not fit stays the caller's */
	l->counts[XSK_USER] -= k;
	l->counts[XSK_FILL] += k;
	xsk_ring_prod__submit(fq, k);
	return (int)k;
}

/* POOL -> FILL for up to n frames. */
static uint32_t ring_fill_from_pool(struct xsk_ledger *l, struct xsk_ring_prod *fq, uint32_t n,
				    uint32_t ring_owner)
{
	uint32_t idx, k;
	if (n > l->pool_len)
		n = l->pool_len;
	k = reserve_upto(fq, n, &idx);
	{
		struct xsk_frames fr = xsk_frames_of(l);
		const uint64_t theirs = XSK_WORD(XSK_FILL, ring_owner);
		const uint32_t *restrict pool = l->pool;
		uint64_t *restrict ring = fq->ring;
		const uint32_t mask = fq->mask;
		uint32_t top = l->pool_len;
		for (uint32_t i = 0; i < k; i++) {
			uint32_t f = pool[--top];
			ring[(idx + i) & mask] = (uint64_t)f * fr.fsize;
			fr.word[f] = theirs;
		}
		l->pool_len = top;
	}
	l->counts[XSK_POOL] -= k;
	l->counts[XSK_FILL] += k;
	xsk_ring_prod__submit(fq, k);
	return k;
}

/* USER -> TX for as many of the checked batch as fit (whole packets only with opts, unless
 * the first one alone is longer than the free room); the rest stays the caller's. md: the
 * queue's TX metadata log, or NULL; always inlined, so the NULL copy (every UMEM without TX
 * metadata) has none of its work: descriptors must then also start md->md_len bytes into their
 * frames, and the frames of those with XDP_TX_METADATA are marked for the completion side. */
static inline __attribute__((always_inline)) int
ring_tx(struct xsk_ledger *l, struct xsk_ring_prod *tx, const uint64_t *restrict addrs,
	const uint32_t *restrict lens, const uint32_t *restrict opts, uint32_t n, uint32_t token,
	uint32_t ring_owner, int check_bounds, struct xsk_txmd_log *md, uint32_t *bad)
{
	uint32_t idx, k, want = n;
	int err = xsk_ledger_check_batch_lo(l, addrs, check_bounds ? lens : NULL, n, token, md ? md->md_len : 0, bad);
	if (err)
		return err;
	if (opts) {
		uint32_t room = xsk_prod_nb_free(tx, n);
		if (room < n) {
			want = room;
			while (want && (opts[want - 1] & XDP_PKT_CONTD))
				want--;
			if (!want)
				want = room;
		}
	}
	k = reserve_upto(tx, want, &idx);
	{
		struct xsk_frames fr = xsk_frames_of(l);
		const uint64_t theirs = XSK_WORD(XSK_TX, ring_owner);
		struct xdp_desc *restrict ring = tx->ring;
		const uint32_t mask = tx->mask;
		for (uint32_t i = 0; i < k; i++) {
			struct xdp_desc *d = &ring[(idx + i) & mask];
			uint64_t a = addrs[i];
			uint32_t f = xsk_frame_at(a, fr.shift, fr.fsize);
			d->addr = a;
			d->len = lens[i];
			d->options = opts ? opts[i] : 0;
			fr.word[f] = theirs;
			/* only where the metadata lies in the frame (check_bounds=False lets others by) */
			if (md && opts && (opts[i] & XDP_TX_METADATA) && a - (uint64_t)f * fr.fsize >= md->md_len)
				md->requested[f] = 1;
		}
	}
	xsk_unmark(l, addrs + k, n - k); /* what did not fit stays the caller's */
	l->counts[XSK_USER] -= k;
	l->counts[XSK_TX] += k;
	xsk_ring_prod__submit(tx, k);
	return (int)k;
}

/* FILL -> USER (token) for up to max received frames. opts != NULL (multi-buffer): also
 * return each descriptor's options, and take only whole packets (up to the last descriptor
 * without XDP_PKT_CONTD), unless a packet has more fragments than max: then max of them,
 * the rest with the next call. */
static uint32_t ring_rx(struct xsk_ledger *l, struct xsk_ring_cons *rx, uint64_t *restrict addrs,
			uint32_t *restrict lens, uint32_t *restrict opts, uint32_t max, uint32_t token)
{
	uint32_t idx, n, k = 0;
	/* libxdp re-reads the producer index only when its cached entries run out; a packet's
	 * tail left behind below must not hide the fragments the kernel has added since. */
	if (opts)
		rx->cached_prod = __atomic_load_n(rx->producer, __ATOMIC_ACQUIRE);
	n = xsk_ring_cons__peek(rx, max, &idx);
	if (opts && n) {
		uint32_t whole = n;
		while (whole && (xsk_ring_cons__rx_desc(rx, idx + whole - 1)->options & XDP_PKT_CONTD))
			whole--;
		if (whole || n < max) {
			xsk_ring_cons__cancel(rx, n - whole);
			n = whole;
		}
	}
	{
		struct xsk_frames fr = xsk_frames_of(l);
		const uint64_t mine = XSK_WORD(XSK_USER, token);
		const struct xdp_desc *restrict ring = rx->ring;
		const uint32_t mask = rx->mask;
		for (uint32_t i = 0; i < n; i++) {
			const struct xdp_desc *d = &ring[(idx + i) & mask];
			uint64_t a;
			uint32_t f = kernel_frame(l, &fr, d->addr, XSK_FILL, &a);
			if (f == NO_FRAME)
				continue;
			fr.word[f] = mine;
			addrs[k] = a;
			lens[k] = d->len;
			if (opts)
				opts[k] = d->options;
			k++;
		}
	}
	l->counts[XSK_FILL] -= k;
	l->counts[XSK_USER] += k;
	xsk_ring_cons__release(rx, n);
	return k;
}

/* TX -> POOL for up to max completions; returns the completions read. */
static uint32_t ring_complete(struct xsk_ledger *l, struct xsk_ring_cons *cq, uint32_t max)
{
	uint32_t idx, n = xsk_ring_cons__peek(cq, max, &idx), k = 0;
	{
		struct xsk_frames fr = xsk_frames_of(l);
		uint32_t *restrict pool = l->pool;
		const uint64_t *restrict ring = cq->ring;
		const uint32_t mask = cq->mask;
		uint32_t top = l->pool_len;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t a;
			uint32_t f = kernel_frame(l, &fr, ring[(idx + i) & mask], XSK_TX, &a);
			if (f == NO_FRAME)
				continue;
			fr.word[f] = XSK_WORD(XSK_POOL, 0);
			pool[top++] = f;
			k++;
		}
		l->pool_len = top;
	}
	l->counts[XSK_TX] -= k;
	l->counts[XSK_POOL] += k;
	xsk_ring_cons__release(cq, n);
	return n;
}

/* ring_complete for a UMEM with TX metadata: also, before a frame that went out with
 * XDP_TX_METADATA returns to the pool (where it may be taken again), its completion timestamp
 * goes to the queue's log (see xsk_txmd_completed). */
static uint32_t ring_complete_md(struct xsk_ledger *l, struct xsk_ring_cons *cq, struct xsk_txmd_log *log,
				 uint32_t max)
{
	uint32_t idx, n = xsk_ring_cons__peek(cq, max, &idx), k = 0;
	struct xsk_frames fr = xsk_frames_of(l);
	uint8_t *requested = log->requested;
	const uint64_t *ring = cq->ring;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a;
		uint32_t f = kernel_frame(l, &fr, ring[(idx + i) & cq->mask], XSK_TX, &a);
		if (f == NO_FRAME)
			continue;
		if (requested[f]) {
			requested[f] = 0;
			if (a - (uint64_t)f * fr.fsize >= log->md_len)
				xsk_txmd_completed(log, a);
		}
		fr.word[f] = XSK_WORD(XSK_POOL, 0);
		l->pool[l->pool_len++] = f;
		k++;
	}
	l->counts[XSK_TX] -= k;
	l->counts[XSK_POOL] += k;
	xsk_ring_cons__release(cq, n);
	return n;
}

/* The queue's completions -> pool: the one branch TX metadata costs a UMEM without it, per call. */
static inline uint32_t reap(struct xsk_ledger *l, struct xsk_fillq *q, uint32_t max)
{
	if (__builtin_expect(q->txmd != NULL, 0))
		return ring_complete_md(l, q->cq, q->txmd, max);
	return ring_complete(l, q->cq, max);
}

/* --- the path, lock held ----------------------------------------------------------------------- */

static uint32_t refill(struct xsk_path *p)
{
	struct xsk_fillq *q = p->q;
	uint32_t k = 0;
	if (p->rx && q->in_fill < p->fill_target)
		k = ring_fill_from_pool(p->l, q->fq, p->fill_target - q->in_fill, q->owner);
	q->in_fill += k;
	return k;
}

static int send_batch(struct xsk_path *p, const uint64_t *addrs, const uint32_t *lens, const uint32_t *opts,
		      uint32_t n, uint32_t token, int check_bounds)
{
	struct xsk_txmd_log *md = p->q->txmd;
	int k = __builtin_expect(md != NULL, 0)
			? ring_tx(p->l, p->tx, addrs, lens, opts, n, token, p->q->owner, check_bounds, md, &p->bad)
			: ring_tx(p->l, p->tx, addrs, lens, opts, n, token, p->q->owner, check_bounds, NULL, &p->bad);
	if (k >= 0)
		reap(p->l, p->q, p->comp_size);
	return k;
}

static uint32_t recv_batch(struct xsk_path *p, uint64_t *addrs, uint32_t *lens, uint32_t *opts, uint32_t max,
			   uint32_t token)
{
	uint32_t n = ring_rx(p->l, p->rx, addrs, lens, opts, max, token);
	p->q->in_fill -= n;
	refill(p);
	if (p->tx)
		reap(p->l, p->q, p->comp_size);
	return n;
}

static int fill_batch(struct xsk_path *p, const uint64_t *addrs, uint32_t n, uint32_t token, int to_pool)
{
	int k = 0;
	if (p->rx) {
		k = ring_fill(p->l, p->q->fq, addrs, n, token, p->q->owner, &p->bad);
		if (k > 0)
			p->q->in_fill += (uint32_t)k;
	} else if (to_pool) {
		k = xsk_ledger_check_batch(p->l, addrs, NULL, n, token, &p->bad); /* pushed below: no unmark */
	}
	/* ring_fill checked the whole batch before committing any of it */
	if (k >= 0 && to_pool)
		xsk_pool_push_checked(p->l, addrs + k, n - (uint32_t)k);
	return k;
}

static uint32_t complete(struct xsk_path *p)
{
	return reap(p->l, p->q, p->comp_size);
}

static uint32_t drain_rx(struct xsk_path *p)
{
	uint64_t addrs[256];
	uint32_t lens[256], n, total = 0;
	while ((n = ring_rx(p->l, p->rx, addrs, lens, NULL, 256, 0xffffffffu))) {
		p->q->in_fill -= n;
		xsk_pool_push_checked(p->l, addrs, n);
		total += n;
	}
	return total;
}

/* --- entry points -------------------------------------------------------------------------------- */

int xsk_path_send(struct xsk_path *p, const uint64_t *addrs, const uint32_t *lens,
		  const uint32_t *opts, uint32_t n, uint32_t token, int check_bounds)
{
	int k = XSK_LOCKED(p->l, send_batch(p, addrs, lens, opts, n, token, check_bounds));
	p->kick_err = k >= 0 ? xsk_path_kick(p) : 0; /* also when the ring was full: it drains only when woken */
	return k;
}

uint32_t xsk_path_recv(struct xsk_path *p, uint64_t *addrs, uint32_t *lens, uint32_t *opts,
		       uint32_t max, uint32_t token)
{
	return XSK_LOCKED(p->l, recv_batch(p, addrs, lens, opts, max, token));
}

int xsk_path_fill(struct xsk_path *p, const uint64_t *addrs, uint32_t n, uint32_t token, int to_pool)
{
	return XSK_LOCKED(p->l, fill_batch(p, addrs, n, token, to_pool));
}

uint32_t xsk_path_refill(struct xsk_path *p)
{
	return XSK_LOCKED(p->l, refill(p));
}

uint32_t xsk_path_complete(struct xsk_path *p)
{
	return p->tx ? XSK_LOCKED(p->l, complete(p)) : 0;
}

uint32_t xsk_path_drain_rx(struct xsk_path *p)
{
	return p->rx ? XSK_LOCKED(p->l, drain_rx(p)) : 0;
}

int xsk_path_fill_needs_wakeup(const struct xsk_path *p)
{
	return xsk_ring_prod__needs_wakeup(p->q->fq);
}

/* Copy-mode TX moves at most 32 descriptors per sendto(), so a large batch needs several
 * kicks. Kick (reaping completions in between, so the completion ring never blocks the
 * kernel) until the kernel has taken every descriptor, no wakeup is needed any more, or
 * max_kicks is reached. EAGAIN, EBUSY and ENOBUFS only mean "try again later". */
static int tx_drain(struct xsk_path *p)
{
	struct xsk_ring_prod *tx = p->tx;
	for (uint32_t i = 0; i < p->max_kicks; i++) {
		uint32_t consumed = __atomic_load_n(tx->consumer, __ATOMIC_ACQUIRE);
		if (consumed == *tx->producer)
			break;
		if (p->need_wakeup && !xsk_ring_prod__needs_wakeup(tx))
			break;
		if (sendto(p->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN && errno != EBUSY &&
		    errno != ENOBUFS)
			return -errno;
		XSK_LOCKED(p->l, reap(p->l, p->q, p->q->cq->size));
	}
	return 0;
}

int xsk_path_kick(struct xsk_path *p)
{
	if (p->wake)
		return p->wake(p);
	if (p->fd < 0 || !p->tx)
		return 0;
	return tx_drain(p);
}

/* A reply's addresses, in place (see xsk.replies; one's-complement checksums don't depend on
 * the order of the words they sum, so every checksum stays valid). */
static void swap_addresses(uint8_t *p, uint32_t len, uint32_t room, uint32_t flags)
{
	struct xsk_hdr h;
	if ((flags & XSK_FWD_SWAP_MACS) && len >= 12)
		xsk_swap_halves(p, 6);
	if (!(flags & (XSK_FWD_SWAP_IPS | XSK_FWD_SWAP_PORTS)))
		return;
	xsk_parse_frame_inline(p, len, room, &h); /* offsets it gives are within len and room */
	if (flags & XSK_FWD_SWAP_IPS) {
		if (h.ip_version == 4)
			xsk_swap_halves(p + h.l3 + 12, 4);
		else if (h.ip_version == 6)
			xsk_swap_halves(p + h.l3 + 8, 16);
	}
	if ((flags & XSK_FWD_SWAP_PORTS) && (h.src_port || h.dst_port))
		xsk_swap_halves(p + h.l4, 2);
}

/* Frames go FILL -> TX under the ledger's lock: at no moment does user space own them. */
static uint32_t forward(struct xsk_path *in, struct xsk_path *out, uint8_t *area, uint32_t max, uint32_t flags)
{
	struct xsk_ledger *l = in->l;
	uint32_t ridx, tidx, n, k = 0, room;

	room = xsk_prod_nb_free(out->tx, max);
	in->tx_full = room == 0;
	n = xsk_ring_cons__peek(in->rx, max < room ? max : room, &ridx);
	if (n && xsk_ring_prod__reserve(out->tx, n, &tidx) != n) { /* cannot happen: room was counted */
		xsk_ring_cons__cancel(in->rx, n);
		n = 0;
	}
	if (n) {
		struct xsk_frames fr = xsk_frames_of(l);
		const uint32_t fsize = fr.fsize;
		const uint64_t theirs = XSK_WORD(XSK_TX, out->q->owner);
		uint32_t *restrict pool = l->pool;
		const struct xdp_desc *restrict rring = in->rx->ring;
		struct xdp_desc *restrict tring = out->tx->ring;
		const uint32_t rmask = in->rx->mask, tmask = out->tx->mask;
		uint32_t top = l->pool_len, back = 0;
		for (uint32_t i = 0; i < n; i++) {
			const struct xdp_desc *d = &rring[(ridx + i) & rmask];
			uint64_t a, off;
			uint32_t f = kernel_frame(l, &fr, d->addr, XSK_FILL, &a);
			if (f == NO_FRAME)
				continue;
			off = a - (uint64_t)f * fsize;
			if (d->len == 0 || off + d->len > fsize) { /* not a frame to send: FILL -> POOL */
				l->kernel_errors++;
				fr.word[f] = XSK_WORD(XSK_POOL, 0);
				pool[top++] = f;
				back++;
				continue;
			}
			if (flags)
				swap_addresses(area + a, d->len, fsize - (uint32_t)off, flags);
			fr.word[f] = theirs;
			tring[(tidx + k) & tmask] = (struct xdp_desc){.addr = a, .len = d->len, .options = 0};
			k++;
		}
		l->pool_len = top;
		l->counts[XSK_POOL] += back;
		l->counts[XSK_FILL] -= k + back;
		l->counts[XSK_TX] += k;
		xsk_ring_cons__release(in->rx, n);
		in->q->in_fill -= k + back;
		/* reserved n, filled k: hand the kernel only what was written */
		out->tx->cached_prod -= n - k;
		xsk_ring_prod__submit(out->tx, k);
	}
	refill(in);
	reap(l, out->q, out->comp_size);
	return k;
}

uint32_t xsk_path_forward(struct xsk_path *in, struct xsk_path *out, uint8_t *area, uint32_t max,
			  uint32_t flags)
{
	uint32_t k = XSK_LOCKED(in->l, forward(in, out, area, max, flags));
	in->kick_err = xsk_path_kick(out); /* also with nothing new: a full ring drains only when woken */
	return k;
}
