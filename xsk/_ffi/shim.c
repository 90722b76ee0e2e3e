/* Per-batch helpers: see shim.h for the contract and the memory-ordering notes. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_xdp.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "shim.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

static void move(struct xsk_ledger *l, uint32_t f, uint32_t to, uint32_t owner)
{
	l->counts[XSK_WORD_STATE(l->word[f])]--;
	l->counts[to]++;
	l->word[f] = XSK_WORD(to, owner);
}

int xsk_ledger_init(struct xsk_ledger *l, uint64_t *word, uint32_t *pool, uint32_t nframes,
		    uint32_t frame_size, int unaligned)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	l->word = word;
	l->pool = pool;
	l->nframes = nframes;
	l->frame_size = frame_size;
	l->frame_shift = (frame_size & (frame_size - 1)) ? 0 : (uint32_t)__builtin_ctz(frame_size);
	l->unaligned = unaligned ? 1 : 0;
	/* The stack pops from the end: lay it out so frame 0 is handed out first. */
	for (uint32_t i = 0; i < nframes; i++) {
		word[i] = XSK_WORD(XSK_POOL, 0);
		pool[i] = nframes - 1 - i;
	}
	l->pool_len = nframes;
	l->counts[XSK_POOL] = nframes;
	return 0;
}

/* The hot loops read the ledger's fields into locals once per batch (a store through one of
 * its arrays could otherwise make the compiler reload them for every frame) and settle the
 * per-state counts once per batch. */

/* Frame index of an address: a shift for power-of-two frames, a division otherwise (unaligned
 * chunk mode allows any frame size). The branch is the same for every frame of a batch. */
static inline uint32_t frame_at(uint64_t a, uint32_t shift, uint32_t fsize)
{
	return shift ? (uint32_t)(a >> shift) : (uint32_t)(a / fsize);
}

static inline uint32_t frame_of(const struct xsk_ledger *l, uint64_t a)
{
	return frame_at(a, l->frame_shift, l->frame_size);
}

static inline uint64_t frame_addr(const struct xsk_ledger *l, uint32_t f)
{
	return (uint64_t)f * l->frame_size;
}

/* In unaligned mode the kernel returns RX addresses as chunk base | data offset << 48. */
static inline uint64_t kernel_addr(uint32_t unaligned, uint64_t a)
{
	return unaligned ? (a & XSK_UNALIGNED_BUF_ADDR_MASK) + (a >> XSK_UNALIGNED_BUF_OFFSET_SHIFT) : a;
}

/* What the hot loops need of the ledger, read once per batch. */
struct frames {
	uint64_t *restrict word;
	uint64_t size; /* bytes in the UMEM */
	uint32_t shift, fsize, unaligned;
};

static inline struct frames frames_of(struct xsk_ledger *l)
{
	return (struct frames){.word = l->word, .size = (uint64_t)l->nframes * l->frame_size,
			       .shift = l->frame_shift, .fsize = l->frame_size, .unaligned = l->unaligned};
}

/* The frame a descriptor from the kernel names, if the kernel held it in state `expect` (FILL
 * for RX, TX for completions): its index, with the plain address in *a. Anything else counts
 * as a kernel error and gives NO_FRAME. */
#define NO_FRAME UINT32_MAX
static inline uint32_t kernel_frame(struct xsk_ledger *l, const struct frames *fr, uint64_t raw, uint32_t expect,
				    uint64_t *a)
{
	uint64_t x = kernel_addr(fr->unaligned, raw);
	uint32_t f;
	if (x >= fr->size || XSK_WORD_STATE(fr->word[f = frame_at(x, fr->shift, fr->fsize)]) != expect) {
		l->kernel_errors++;
		return NO_FRAME;
	}
	*a = x;
	return f;
}

static void push_pool(struct xsk_ledger *l, uint32_t f)
{
	move(l, f, XSK_POOL, 0);
	l->pool[l->pool_len++] = f;
}

static uint32_t ledger_take_impl(struct xsk_ledger *l, uint64_t *restrict addrs, uint32_t n, uint32_t token)
{
	struct frames fr = frames_of(l);
	const uint32_t *restrict pool = l->pool;
	const uint64_t mine = XSK_WORD(XSK_USER, token);
	uint32_t top = l->pool_len;
	if (n > top)
		n = top;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t f = pool[--top];
		fr.word[f] = mine;
		addrs[i] = (uint64_t)f * fr.fsize;
	}
	l->pool_len = top;
	l->counts[XSK_POOL] -= n;
	l->counts[XSK_USER] += n;
	return n;
}

/* libxdp's reserve is all-or-nothing; a partial batch is backpressure, so reserve what fits. */
static uint32_t reserve_upto(struct xsk_ring_prod *r, uint32_t n, uint32_t *idx)
{
	uint32_t free = xsk_prod_nb_free(r, n);
	if (n > free)
		n = free;
	return n ? xsk_ring_prod__reserve(r, n, idx) : 0;
}

/* Clear the marks ledger_check_impl set on addrs[0..n) (frames it passed, each once), through
 * the caller's view of the words (a second restrict pointer to them would be undefined). */
static void unmark_frames(const struct frames *fr, const uint64_t *restrict addrs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		fr->word[frame_at(addrs[i], fr->shift, fr->fsize)] &= ~XSK_WORD_SEEN;
}

static void unmark(struct xsk_ledger *l, const uint64_t *restrict addrs, uint32_t n)
{
	struct frames fr = frames_of(l);
	unmark_frames(&fr, addrs, n);
}

/* Why the frame at address a (word w) failed ledger_check_impl. */
static int check_error(uint64_t w, uint64_t a, uint64_t start, uint32_t token)
{
	if (token == 0 && a != start)
		return XSK_ERR_BOUNDARY;
	if (w & XSK_WORD_SEEN)
		return XSK_ERR_DUP;
	if (XSK_WORD_STATE(w) != XSK_USER)
		return XSK_ERR_STATE;
	return XSK_ERR_TOKEN;
}

/* Validate that every address names a distinct frame the caller holds (and, with lens, that
 * every descriptor is non-empty and fits in its frame). token 0 means raw addresses: any USER
 * frame, but each address must be a frame's start. On success every frame of the batch is
 * marked XSK_WORD_SEEN: the caller commits each (a new word clears the mark) or unmarks it.
 * On failure nothing is marked and *bad is the index of the first bad address. */
static int ledger_check_impl(struct xsk_ledger *l, const uint64_t *restrict addrs, const uint32_t *restrict lens,
			     uint32_t n, uint32_t token, uint32_t *bad)
{
	struct frames fr = frames_of(l);
	const uint64_t mine = XSK_WORD(XSK_USER, token);
	int err = XSK_OK;
	uint32_t i;
	for (i = 0; i < n; i++) {
		uint64_t a = addrs[i], start, w;
		uint32_t f;
		if (a >= fr.size) {
			err = XSK_ERR_RANGE;
			break;
		}
		f = frame_at(a, fr.shift, fr.fsize);
		start = (uint64_t)f * fr.fsize;
		w = fr.word[f];
		if (token ? w != mine : (XSK_WORD_STATE(w) != XSK_USER || a != start)) {
			err = check_error(w, a, start, token);
			break;
		}
		if (lens && (lens[i] == 0 || a - start + lens[i] > fr.fsize)) {
			err = XSK_ERR_BOUNDS;
			break;
		}
		fr.word[f] = w | XSK_WORD_SEEN;
	}
	*bad = i;
	if (err)
		unmark_frames(&fr, addrs, i);
	return err;
}

/* Move n checked USER frames to the pool (push_pool for a whole batch). */
static void pool_push_checked(struct xsk_ledger *l, const uint64_t *restrict addrs, uint32_t n)
{
	struct frames fr = frames_of(l);
	uint32_t *restrict pool = l->pool;
	uint32_t top = l->pool_len;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t f = frame_at(addrs[i], fr.shift, fr.fsize);
		fr.word[f] = XSK_WORD(XSK_POOL, 0);
		pool[top++] = f;
	}
	l->pool_len = top;
	l->counts[XSK_USER] -= n;
	l->counts[XSK_POOL] += n;
}

static int ledger_only_check_impl(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
				  uint32_t *bad)
{
	int err = ledger_check_impl(l, addrs, NULL, n, token, bad);
	if (!err)
		unmark(l, addrs, n);
	return err;
}

static int ledger_release_impl(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		       uint32_t *bad)
{
	int err = ledger_check_impl(l, addrs, NULL, n, token, bad);
	if (err)
		return err;
	pool_push_checked(l, addrs, n);
	return XSK_OK;
}

static int ledger_retoken_impl(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		       uint32_t new_token, uint32_t *bad)
{
	int err = ledger_check_impl(l, addrs, NULL, n, token, bad);
	if (err)
		return err;
	for (uint32_t i = 0; i < n; i++)
		l->word[frame_of(l, addrs[i])] = XSK_WORD(XSK_USER, new_token);
	return XSK_OK;
}

/* After a socket is gone the kernel holds none of the frames it was given:
 * its fill ring and TX descriptors (including ones the kernel rejected and
 * will never complete) come back to the pool. */
static uint32_t ledger_reclaim_impl(struct xsk_ledger *l, uint32_t ring_owner)
{
	uint32_t n = 0;
	for (uint32_t f = 0; f < l->nframes; f++) {
		uint64_t w = l->word[f];
		if (w == XSK_WORD(XSK_FILL, ring_owner) || w == XSK_WORD(XSK_TX, ring_owner)) {
			push_pool(l, f);
			n++;
		}
	}
	return n;
}

static int shim_fill_impl(struct xsk_ledger *l, struct xsk_ring_prod *fq, const uint64_t *restrict addrs,
		  uint32_t n, uint32_t token, uint32_t ring_owner, uint32_t *bad)
{
	uint32_t idx, k;
	int err = ledger_check_impl(l, addrs, NULL, n, token, bad);
	if (err)
		return err;
	k = reserve_upto(fq, n, &idx);
	{
		struct frames fr = frames_of(l);
		const uint64_t theirs = XSK_WORD(XSK_FILL, ring_owner);
		uint64_t *restrict ring = fq->ring;
		const uint32_t mask = fq->mask;
		for (uint32_t i = 0; i < k; i++) {
			uint32_t f = frame_at(addrs[i], fr.shift, fr.fsize);
			/* The kernel wants the frame's start; it adds the headroom itself. */
			ring[(idx + i) & mask] = (uint64_t)f * fr.fsize;
			fr.word[f] = theirs;
		}
	}
	unmark(l, addrs + k, n - k); /* what did not fit stays the caller's */
	l->counts[XSK_USER] -= k;
	l->counts[XSK_FILL] += k;
	xsk_ring_prod__submit(fq, k);
	return (int)k;
}

static uint32_t shim_fill_from_pool_impl(struct xsk_ledger *l, struct xsk_ring_prod *fq, uint32_t n,
				 uint32_t ring_owner)
{
	uint32_t idx, k;
	if (n > l->pool_len)
		n = l->pool_len;
	k = reserve_upto(fq, n, &idx);
	{
		struct frames fr = frames_of(l);
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

static int shim_tx_impl(struct xsk_ledger *l, struct xsk_ring_prod *tx, const uint64_t *restrict addrs,
		const uint32_t *restrict lens, const uint32_t *restrict opts, uint32_t n, uint32_t token,
		uint32_t ring_owner, int check_bounds, uint32_t *bad)
{
	uint32_t idx, k, want = n;
	int err = ledger_check_impl(l, addrs, check_bounds ? lens : NULL, n, token, bad);
	if (err)
		return err;
	if (opts) { /* whole packets only, unless the first one alone is longer than the free room */
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
		struct frames fr = frames_of(l);
		const uint64_t theirs = XSK_WORD(XSK_TX, ring_owner);
		struct xdp_desc *restrict ring = tx->ring;
		const uint32_t mask = tx->mask;
		for (uint32_t i = 0; i < k; i++) {
			struct xdp_desc *d = &ring[(idx + i) & mask];
			uint64_t a = addrs[i];
			d->addr = a;
			d->len = lens[i];
			d->options = opts ? opts[i] : 0;
			fr.word[frame_at(a, fr.shift, fr.fsize)] = theirs;
		}
	}
	unmark(l, addrs + k, n - k); /* what did not fit stays the caller's */
	l->counts[XSK_USER] -= k;
	l->counts[XSK_TX] += k;
	xsk_ring_prod__submit(tx, k);
	return (int)k;
}

/* opts != NULL (multi-buffer): also return each descriptor's options, and take only whole
 * packets (up to the last descriptor without XDP_PKT_CONTD), unless a packet has more
 * fragments than max: then max of them, the rest with the next call. */
static uint32_t shim_rx_impl(struct xsk_ledger *l, struct xsk_ring_cons *rx, uint64_t *restrict addrs,
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
		struct frames fr = frames_of(l);
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

static uint32_t shim_complete_impl(struct xsk_ledger *l, struct xsk_ring_cons *cq, uint32_t max)
{
	uint32_t idx, n = xsk_ring_cons__peek(cq, max, &idx), k = 0;
	{
		struct frames fr = frames_of(l);
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


/* Full consistency check of the ledger (the soak's "checking mode"): the per-state counts
 * match the words, the pool stack holds exactly the POOL frames, each once, POOL frames have
 * no owner, and no frame carries a mark outside a call. Returns 0, or which check failed
 * (1, 2, 3), with *frame set. The pool pass marks the frames it meets; the scan clears them. */
static int ledger_verify_impl(struct xsk_ledger *l, uint32_t *frame)
{
	uint32_t counts[4] = {0, 0, 0, 0}, pooled = 0;
	int rc = 0;
	*frame = l->pool_len;
	if (l->pool_len > l->nframes)
		return 2;
	for (uint32_t f = 0; f < l->nframes; f++) /* a stray mark is a broken word */
		if (l->word[f] & XSK_WORD_SEEN) {
			*frame = f;
			return 3;
		}
	for (; pooled < l->pool_len; pooled++) {
		uint32_t f = l->pool[pooled];
		if (f >= l->nframes || l->word[f] != XSK_WORD(XSK_POOL, 0)) { /* a duplicate meets its mark */
			*frame = f;
			rc = 2;
			break;
		}
		l->word[f] = XSK_WORD_SEEN;
	}
	for (uint32_t f = 0; f < l->nframes; f++) {
		uint64_t w = l->word[f];
		if (w == XSK_WORD_SEEN) {
			l->word[f] = XSK_WORD(XSK_POOL, 0);
			counts[XSK_POOL]++;
			continue;
		}
		if (rc)
			continue;
		if (XSK_WORD_STATE(w) > XSK_TX) {
			*frame = f;
			rc = 3;
		} else if (XSK_WORD_STATE(w) == XSK_POOL) { /* not on the pool stack, or with an owner */
			*frame = f;
			rc = 2;
		} else {
			counts[XSK_WORD_STATE(w)]++;
		}
	}
	if (rc)
		return rc;
	*frame = 0;
	return memcmp(counts, l->counts, sizeof(counts)) ? 1 : 0;
}

/* Public entry points: one lock per ledger, so threads sharing a UMEM can't interleave
 * inside a check-then-commit (uncontended, it costs a few tens of ns per batch). */

uint32_t xsk_ledger_take(struct xsk_ledger *l, uint64_t *addrs, uint32_t *lens, uint32_t n, uint32_t token,
			 uint32_t length)
{
	uint32_t rc;
	pthread_mutex_lock(&l->lock);
	rc = ledger_take_impl(l, addrs, n, token);
	pthread_mutex_unlock(&l->lock);
	for (uint32_t i = 0; lens && i < rc; i++)
		lens[i] = length;
	return rc;
}

int xsk_ledger_check(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		     uint32_t *bad)
{
	int rc;
	pthread_mutex_lock(&l->lock);
	rc = ledger_only_check_impl(l, addrs, n, token, bad);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int xsk_ledger_release(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		       uint32_t *bad)
{
	int rc;
	pthread_mutex_lock(&l->lock);
	rc = ledger_release_impl(l, addrs, n, token, bad);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int xsk_ledger_retoken(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		       uint32_t new_token, uint32_t *bad)
{
	int rc;
	pthread_mutex_lock(&l->lock);
	rc = ledger_retoken_impl(l, addrs, n, token, new_token, bad);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int xsk_ledger_verify(struct xsk_ledger *l, uint32_t *frame)
{
	int rc;
	pthread_mutex_lock(&l->lock);
	rc = ledger_verify_impl(l, frame);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

uint32_t xsk_ledger_reclaim(struct xsk_ledger *l, uint32_t ring_owner)
{
	uint32_t rc;
	pthread_mutex_lock(&l->lock);
	rc = ledger_reclaim_impl(l, ring_owner);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int xsk_shim_fill(struct xsk_ledger *l, struct xsk_ring_prod *fq, const uint64_t *addrs,
		  uint32_t n, uint32_t token, uint32_t ring_owner, uint32_t *bad)
{
	int rc;
	pthread_mutex_lock(&l->lock);
	rc = shim_fill_impl(l, fq, addrs, n, token, ring_owner, bad);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

uint32_t xsk_shim_fill_from_pool(struct xsk_ledger *l, struct xsk_ring_prod *fq, uint32_t n,
				 uint32_t ring_owner)
{
	uint32_t rc;
	pthread_mutex_lock(&l->lock);
	rc = shim_fill_from_pool_impl(l, fq, n, ring_owner);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int xsk_shim_tx(struct xsk_ledger *l, struct xsk_ring_prod *tx, const uint64_t *addrs,
		const uint32_t *lens, uint32_t n, uint32_t token, uint32_t ring_owner,
		int check_bounds, uint32_t *bad)
{
	int rc;
	pthread_mutex_lock(&l->lock);
	rc = shim_tx_impl(l, tx, addrs, lens, NULL, n, token, ring_owner, check_bounds, bad);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

uint32_t xsk_shim_rx(struct xsk_ledger *l, struct xsk_ring_cons *rx, uint64_t *addrs,
		     uint32_t *lens, uint32_t max, uint32_t token)
{
	uint32_t rc;
	pthread_mutex_lock(&l->lock);
	rc = shim_rx_impl(l, rx, addrs, lens, NULL, max, token);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int xsk_shim_tx_sg(struct xsk_ledger *l, struct xsk_ring_prod *tx, const uint64_t *addrs,
		   const uint32_t *lens, const uint32_t *opts, uint32_t n, uint32_t token,
		   uint32_t ring_owner, int check_bounds, uint32_t *bad)
{
	int rc;
	pthread_mutex_lock(&l->lock);
	rc = shim_tx_impl(l, tx, addrs, lens, opts, n, token, ring_owner, check_bounds, bad);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

uint32_t xsk_shim_rx_sg(struct xsk_ledger *l, struct xsk_ring_cons *rx, uint64_t *addrs,
			uint32_t *lens, uint32_t *opts, uint32_t max, uint32_t token)
{
	uint32_t rc;
	pthread_mutex_lock(&l->lock);
	rc = shim_rx_impl(l, rx, addrs, lens, opts, max, token);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

uint32_t xsk_shim_complete(struct xsk_ledger *l, struct xsk_ring_cons *cq, uint32_t max)
{
	uint32_t rc;
	pthread_mutex_lock(&l->lock);
	rc = shim_complete_impl(l, cq, max);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int xsk_shim_needs_wakeup(const struct xsk_ring_prod *r)
{
	return xsk_ring_prod__needs_wakeup(r);
}

static uint32_t path_refill_impl(struct xsk_path *p)
{
	struct xsk_fillq *q = p->q;
	uint32_t k = 0;
	if (p->rx && q->in_fill < p->fill_target)
		k = shim_fill_from_pool_impl(p->l, q->fq, p->fill_target - q->in_fill, q->owner);
	q->in_fill += k;
	return k;
}

int xsk_path_send(struct xsk_path *p, const uint64_t *addrs, const uint32_t *lens,
		  const uint32_t *opts, uint32_t n, uint32_t token, int check_bounds)
{
	int k;
	p->kick_err = 0;
	pthread_mutex_lock(&p->l->lock);
	k = shim_tx_impl(p->l, p->tx, addrs, lens, opts, n, token, p->q->owner, check_bounds, &p->bad);
	if (k >= 0)
		shim_complete_impl(p->l, p->q->cq, p->comp_size);
	pthread_mutex_unlock(&p->l->lock);
	if (k >= 0) /* also when the ring was full: the kernel drains it only when woken */
		p->kick_err = xsk_path_kick(p);
	return k;
}

uint32_t xsk_path_recv(struct xsk_path *p, uint64_t *addrs, uint32_t *lens, uint32_t *opts,
		       uint32_t max, uint32_t token)
{
	uint32_t n;
	pthread_mutex_lock(&p->l->lock);
	n = shim_rx_impl(p->l, p->rx, addrs, lens, opts, max, token);
	p->q->in_fill -= n;
	path_refill_impl(p);
	if (p->tx)
		shim_complete_impl(p->l, p->q->cq, p->comp_size);
	pthread_mutex_unlock(&p->l->lock);
	return n;
}

int xsk_path_fill(struct xsk_path *p, const uint64_t *addrs, uint32_t n, uint32_t token, int to_pool)
{
	int k = 0;
	pthread_mutex_lock(&p->l->lock);
	if (p->rx) {
		k = shim_fill_impl(p->l, p->q->fq, addrs, n, token, p->q->owner, &p->bad);
		if (k > 0)
			p->q->in_fill += (uint32_t)k;
	} else if (to_pool) {
		k = ledger_check_impl(p->l, addrs, NULL, n, token, &p->bad); /* pushed below: no unmark */
	}
	/* shim_fill_impl checked the whole batch before committing any of it */
	if (k >= 0 && to_pool)
		pool_push_checked(p->l, addrs + k, n - (uint32_t)k);
	pthread_mutex_unlock(&p->l->lock);
	return k;
}

uint32_t xsk_path_refill(struct xsk_path *p)
{
	uint32_t k;
	pthread_mutex_lock(&p->l->lock);
	k = path_refill_impl(p);
	pthread_mutex_unlock(&p->l->lock);
	return k;
}

uint32_t xsk_path_complete(struct xsk_path *p)
{
	uint32_t k = 0;
	if (!p->tx)
		return 0;
	pthread_mutex_lock(&p->l->lock);
	k = shim_complete_impl(p->l, p->q->cq, p->comp_size);
	pthread_mutex_unlock(&p->l->lock);
	return k;
}

uint32_t xsk_path_drain_rx(struct xsk_path *p)
{
	uint64_t addrs[256];
	uint32_t lens[256], n, total = 0;
	if (!p->rx)
		return 0;
	pthread_mutex_lock(&p->l->lock);
	while ((n = shim_rx_impl(p->l, p->rx, addrs, lens, NULL, 256, 0xffffffffu))) {
		p->q->in_fill -= n;
		pool_push_checked(p->l, addrs, n);
		total += n;
	}
	pthread_mutex_unlock(&p->l->lock);
	return total;
}

/* Exchange the w bytes at p with the w bytes after them (w <= 16): two addresses in a header. */
static inline void swap_halves(uint8_t *p, uint32_t w)
{
	uint8_t tmp[16];
	memcpy(tmp, p, w);
	memmove(p, p + w, w);
	memcpy(p + w, tmp, w);
}

static void parse_one(const uint8_t *p, uint32_t len, uint32_t room, struct xsk_hdr *h);

/* A reply's addresses, in place (see xsk.replies; one's-complement checksums don't depend on
 * the order of the words they sum, so every checksum stays valid). */
static void swap_addresses(uint8_t *p, uint32_t len, uint32_t room, uint32_t flags)
{
	struct xsk_hdr h;
	if ((flags & XSK_FWD_SWAP_MACS) && len >= 12)
		swap_halves(p, 6);
	if (!(flags & (XSK_FWD_SWAP_IPS | XSK_FWD_SWAP_PORTS)))
		return;
	parse_one(p, len, room, &h); /* offsets it gives are within len and room */
	if (flags & XSK_FWD_SWAP_IPS) {
		if (h.ip_version == 4)
			swap_halves(p + h.l3 + 12, 4);
		else if (h.ip_version == 6)
			swap_halves(p + h.l3 + 8, 16);
	}
	if ((flags & XSK_FWD_SWAP_PORTS) && (h.src_port || h.dst_port))
		swap_halves(p + h.l4, 2);
}

/* RX ring of `in` -> TX ring of `out` (the same socket or another on this UMEM), see shim.h.
 * Frames go FILL -> TX under the ledger's lock: at no moment does user space own them. */
uint32_t xsk_path_forward(struct xsk_path *in, struct xsk_path *out, uint8_t *area, uint32_t max,
			  uint32_t flags)
{
	struct xsk_ledger *l = in->l;
	uint32_t ridx, tidx, n, k = 0, room;

	in->kick_err = 0;
	pthread_mutex_lock(&l->lock);
	room = xsk_prod_nb_free(out->tx, max);
	in->tx_full = room == 0;
	n = xsk_ring_cons__peek(in->rx, max < room ? max : room, &ridx);
	if (n && xsk_ring_prod__reserve(out->tx, n, &tidx) != n) { /* cannot happen: room was counted */
		xsk_ring_cons__cancel(in->rx, n);
		n = 0;
	}
	if (n) {
		struct frames fr = frames_of(l);
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
			off = a - frame_addr(l, f);
			if (d->len == 0 || off + d->len > fsize) { /* not a frame to send */
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
	path_refill_impl(in);
	shim_complete_impl(l, out->q->cq, out->comp_size);
	pthread_mutex_unlock(&l->lock);
	in->kick_err = xsk_path_kick(out); /* also with nothing new: a full ring drains only when woken */
	return k;
}

int xsk_path_kick(struct xsk_path *p)
{
	int rc;
	if (p->fake_rx_len) {
		xsk_fake_kernel(p->tx, p->q->cq, p->q->fq, p->rx, UINT32_MAX, p->fake_rx_len, 256);
		return 0;
	}
	if (p->fd < 0 || !p->tx)
		return 0;
	rc = xsk_shim_tx_drain(p->l, p->tx, p->q->cq, p->fd, p->max_kicks, p->need_wakeup);
	return rc < 0 ? rc : 0;
}

/* Returns 0 or -errno; EAGAIN, EBUSY and ENOBUFS only mean "try again later". */
int xsk_shim_kick_rx(int fd)
{
	if (recvfrom(fd, NULL, 0, MSG_DONTWAIT, NULL, NULL) >= 0)
		return 0;
	if (errno == EAGAIN || errno == EBUSY || errno == ENOBUFS)
		return 0;
	return -errno;
}

/* Copy-mode TX moves at most 32 descriptors per sendto(), so a large batch needs several
 * kicks. Kick (reaping completions in between, so the completion ring never blocks the
 * kernel) until the kernel has taken every descriptor, no wakeup is needed any more, or
 * max_kicks is reached. Returns the number of completions reaped, or -errno. */
int xsk_shim_tx_drain(struct xsk_ledger *l, struct xsk_ring_prod *tx, struct xsk_ring_cons *cq,
		      int fd, uint32_t max_kicks, int need_wakeup)
{
	int reaped = 0;
	for (uint32_t i = 0; i < max_kicks; i++) {
		uint32_t consumed = __atomic_load_n(tx->consumer, __ATOMIC_ACQUIRE);
		if (consumed == *tx->producer)
			break;
		if (need_wakeup && !xsk_ring_prod__needs_wakeup(tx))
			break;
		if (sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN && errno != EBUSY &&
		    errno != ENOBUFS)
			return -errno;
		reaped += xsk_shim_complete(l, cq, cq->size);
	}
	return reaped;
}

int xsk_shim_statistics(int fd, uint64_t out[6])
{
	struct xdp_statistics st;
	socklen_t len = sizeof(st);
	memset(&st, 0, sizeof(st));
	if (getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &len))
		return -errno;
	out[0] = st.rx_dropped;
	out[1] = st.rx_invalid_descs;
	out[2] = st.tx_invalid_descs;
	out[3] = st.rx_ring_full;
	out[4] = st.rx_fill_ring_empty_descs;
	out[5] = st.tx_ring_empty_descs;
	return 0;
}

int xsk_shim_options(int fd, uint32_t *flags)
{
	struct xdp_options opts = {0};
	socklen_t len = sizeof(opts);
	if (getsockopt(fd, SOL_XDP, XDP_OPTIONS, &opts, &len))
		return -errno;
	*flags = opts.flags;
	return 0;
}

/* The socket's pending error (SO_ERROR, which reading clears): the kernel sets ENETDOWN
 * when the interface the socket is bound to is unregistered. */
int xsk_shim_sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return errno;
	return err;
}

#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

/* Busy polling: syscalls on the socket run the device's NAPI loop for up to usecs
 * (budget frames per run) instead of waiting for its interrupt. */
int xsk_shim_busy_poll(int fd, int usecs, int budget)
{
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof(usecs)) ||
	    setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget)))
		return -errno;
	return 0;
}

/* A ring's mmap starts at the page holding its lowest field and ends after its descriptors;
 * MADV_DONTFORK on that span keeps a forked child from inheriting the shared ring. */
int xsk_shim_ring_dontfork(const void *ring_struct, uint32_t desc_size)
{
	const struct xsk_ring_prod *r = ring_struct;
	uintptr_t lo = (uintptr_t)r->producer, hi;
	long page = sysconf(_SC_PAGESIZE);
	if ((uintptr_t)r->consumer < lo)
		lo = (uintptr_t)r->consumer;
	if ((uintptr_t)r->flags < lo)
		lo = (uintptr_t)r->flags;
	if ((uintptr_t)r->ring < lo)
		lo = (uintptr_t)r->ring;
	hi = (uintptr_t)r->ring + (uintptr_t)r->size * desc_size;
	lo &= ~(uintptr_t)(page - 1);
	hi = (hi + page - 1) & ~(uintptr_t)(page - 1);
	if (madvise((void *)lo, hi - lo, MADV_DONTFORK))
		return -errno;
	return 0;
}

/* Point a ring struct at ordinary memory, as libxdp does for a mapped ring, so the
 * same helpers can be tested and measured without a kernel. */
int xsk_shim_fake_ring(void *ring_struct, uint32_t *producer, uint32_t *consumer, uint32_t *flags,
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

static void xsk_py_log(int level, const char *msg);

static int route_log(int level, const char *fmt, va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	xsk_py_log(level, buf);
	return 0;
}

static int route_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return route_log((int)level, fmt, ap);
}

static int route_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return route_log((int)level, fmt, ap);
}

void xsk_shim_route_logs(void)
{
	libxdp_set_print(route_libxdp);
	libbpf_set_print(route_libbpf);
}

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

/* Write packet index0+i's varying fields into the frame at addrs[i] and fix its checksums.
 * The checksums are the template's base sums plus the words of the fields written
 * (RFC 1624): no pass over the rest of the frame. */
void xsk_shim_patch(struct xsk_patch_plan *p, uint8_t *area, const uint64_t *addrs, uint32_t n,
		    uint64_t index0, uint32_t stream, uint64_t ts_ns)
{
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *f = area + addrs[i];
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
				row = (index0 + i) % fd->count;
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
		if (p->seq_at >= 0) {
			uint8_t *q = f + p->seq_at;
			uint64_t seq = ((uint64_t)(stream & 0xff) << 56) | ((index0 + i) & ((1ULL << 56) - 1));
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
}

/* A stand-in kernel over rings in ordinary memory, for tests and benchmarks: it completes
 * every descriptor on the TX ring, and returns fill-ring frames on the RX ring as
 * rx_len-byte packets at the kernel's headroom. Same index protocol as the real one. */
uint32_t xsk_fake_kernel(struct xsk_ring_prod *tx, struct xsk_ring_cons *cq, struct xsk_ring_prod *fq,
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

/* The in-memory benchmark's loop written in C, for comparison with the Python engine:
 * per iteration take a batch, send it, let the stand-in kernel run, reap completions,
 * receive a batch and give it back to the fill ring. Returns packets moved (tx + rx). */
uint64_t xsk_fake_bench(struct xsk_ledger *l, struct xsk_ring_prod *tx, struct xsk_ring_cons *cq,
			struct xsk_ring_prod *fq, struct xsk_ring_cons *rx, uint32_t batch, uint64_t iterations)
{
	uint64_t addrs[4096];
	uint32_t lens[4096], bad;
	uint64_t moved = 0;
	if (batch > 4096)
		batch = 4096;
	for (uint64_t it = 0; it < iterations; it++) {
		uint32_t token = 0xfffffff0u;
		uint32_t n = xsk_ledger_take(l, addrs, lens, batch, token, 60);
		int k = xsk_shim_tx(l, tx, addrs, lens, n, token, 1, 1, &bad);
		if (k < 0)
			return 0;
		if ((uint32_t)k < n)
			xsk_ledger_release(l, addrs + k, n - k, token, &bad);
		xsk_fake_kernel(tx, cq, fq, rx, batch, 60, 256);
		moved += xsk_shim_complete(l, cq, cq->size);
		token = 0xfffffff1u;
		uint32_t r = xsk_shim_rx(l, rx, addrs, lens, batch, token);
		int f = xsk_shim_fill(l, fq, addrs, r, token, 1, &bad);
		if (f < 0)
			return 0;
		if ((uint32_t)f < r)
			xsk_ledger_release(l, addrs + f, r - f, token, &bad);
		moved += r;
	}
	return moved;
}

/* Swap destination and source MAC of each frame (l2fwd's whole rewrite), in place. */
int xsk_shim_swap_macs(uint8_t *area, const uint64_t *addrs, uint32_t n, uint64_t area_size,
		       uint32_t frame_size)
{
	for (uint32_t i = 0; i < n; i++) /* all checked before any frame changes */
		if (addrs[i] >= area_size || addrs[i] % frame_size + 12 > frame_size)
			return -1;
	for (uint32_t i = 0; i < n; i++)
		swap_halves(area + addrs[i], 6);
	return 0;
}

/* Header offsets and fields of each frame, read straight from the UMEM; the C twin of
 * xsk.headers.parse_rows (same rules), reading at most XSK_HEAD bytes of each frame and
 * nothing past its length or its UMEM frame. */
#define XSK_HEAD 160

static inline uint32_t rd16(const uint8_t *p, uint32_t at, uint32_t lim)
{
	return at + 2 <= lim ? (uint32_t)p[at] << 8 | p[at + 1] : 0;
}

static void parse_one(const uint8_t *p, uint32_t len, uint32_t room, struct xsk_hdr *h)
{
	uint32_t lim = len < room ? len : room, at = 12, et;
	int is4, is6;

	if (lim > XSK_HEAD)
		lim = XSK_HEAD;
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
	h->l3 = at + 2;
	is4 = h->ethertype == 0x0800 && h->l3 + 20 <= len && h->l3 + 20 <= lim;
	is6 = h->ethertype == 0x86DD && h->l3 + 40 <= len && h->l3 + 40 <= lim;
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
	    (uint32_t)h->l4 + 4 <= XSK_HEAD) {
		h->src_port = rd16(p, h->l4, lim);
		h->dst_port = rd16(p, h->l4 + 2, lim);
		if (h->proto == 17)
			h->payload = h->l4 + 8;
		else
			h->payload = h->l4 + ((uint32_t)h->l4 + 12 < lim ? (p[h->l4 + 12] >> 4) * 4 : 0);
		if ((uint32_t)h->payload > len)
			h->payload = -1;
	}
}

void xsk_shim_parse(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
		    uint32_t frame_size, struct xsk_hdr *out)
{
	for (uint32_t i = 0; i < n; i++)
		parse_one(area + addrs[i], lens[i], frame_size - (uint32_t)(addrs[i] % frame_size), &out[i]);
}

/* Sequence payloads ("XK", u64 stream<<56 | counter, u64 transmit ns; see xsk.packet) of a
 * batch, read in place: per stream a window of the last mask+1 counters below the highest
 * gives exact duplicates in fixed memory; latency goes to log buckets. Stops at the first
 * frame of a stream with no window yet (*missing = its number) so Python can make one. */
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

uint32_t xsk_seq_batch(struct xsk_seqstats *st, const uint8_t *area, const uint64_t *addrs,
		       const uint32_t *lens, uint32_t n, uint32_t frame_size, int64_t now_ns,
		       uint32_t start, int32_t *missing)
{
	*missing = -1;
	for (uint32_t i = start; i < n; i++) {
		struct xsk_hdr h;
		const uint8_t *p = area + addrs[i];
		uint32_t room = frame_size - (uint32_t)(addrs[i] % frame_size);
		uint32_t lim = lens[i] < room ? lens[i] : room;
		uint64_t seq = 0, sent = 0;

		parse_one(p, lens[i], room, &h);
		if (h.payload < 0 || (uint32_t)h.payload + 18 > lim || (uint32_t)h.payload + 18 > XSK_HEAD)
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
		st->with_seq++;
		seq_one(st->streams[seq >> 56], (int64_t)(seq & (((uint64_t)1 << 56) - 1)));
		if ((int64_t)sent <= now_ns) {
			double us = (double)(now_ns - (int64_t)sent) / 1000.0;
			uint32_t lo = 0, hi = st->nbuckets; /* first bucket edge >= us (numpy searchsorted, left) */
			while (lo < hi) {
				uint32_t mid = (lo + hi) / 2;
				if (st->buckets[mid] < us)
					lo = mid + 1;
				else
					hi = mid;
			}
			st->hist[lo]++;
			if (us < st->lat_min)
				st->lat_min = us;
			if (us > st->lat_max)
				st->lat_max = us;
		}
	}
	return n;
}
