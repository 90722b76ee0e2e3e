/* The ledger's own operations: set-up, take, check, release, retoken, reclaim and the full
 * consistency check (see ledger.h). Moving frames to and from the rings is datapath.c's. */
#include <string.h>

#include "ledger.h"

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

static uint32_t take(struct xsk_ledger *l, uint64_t *restrict addrs, uint32_t n, uint32_t token)
{
	struct xsk_frames fr = xsk_frames_of(l);
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

static int check_only(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token, uint32_t *bad)
{
	int err = xsk_ledger_check_batch(l, addrs, NULL, n, token, bad);
	if (!err)
		xsk_unmark(l, addrs, n);
	return err;
}

static int release(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token, uint32_t *bad)
{
	int err = xsk_ledger_check_batch(l, addrs, NULL, n, token, bad);
	if (err)
		return err;
	xsk_pool_push_checked(l, addrs, n);
	return XSK_OK;
}

static int retoken(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		   uint32_t new_token, uint32_t *bad)
{
	int err = xsk_ledger_check_batch(l, addrs, NULL, n, token, bad);
	if (err)
		return err;
	for (uint32_t i = 0; i < n; i++)
		l->word[xsk_frame_at(addrs[i], l->frame_shift, l->frame_size)] = XSK_WORD(XSK_USER, new_token);
	return XSK_OK;
}

static int select_frames(struct xsk_ledger *l, uint64_t *addrs, const uint32_t *lens, uint32_t *opts,
			 const uint8_t *mask, uint32_t n, uint32_t token, uint32_t new_token, uint64_t *sel_addrs,
			 uint32_t *sel_lens, uint32_t *sel_opts, uint32_t *rest_lens, uint32_t *bad)
{
	uint32_t k = 0, r = 0;
	int err = xsk_ledger_check_batch(l, addrs, NULL, n, token, bad);
	if (err)
		return err;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t addr = addrs[i];
		uint32_t f = xsk_frame_at(addr, l->frame_shift, l->frame_size);
		if (mask[i]) {
			l->word[f] = XSK_WORD(XSK_USER, new_token); /* a new word: the check's mark goes too */
			sel_addrs[k] = addr;
			sel_lens[k] = lens[i];
			if (opts && sel_opts)
				sel_opts[k] = opts[i];
			k++;
		} else {
			l->word[f] &= ~XSK_WORD_SEEN; /* stays the batch's: only the check's mark goes */
			addrs[r] = addr; /* r <= i: entry r was read in an earlier (or this) iteration */
			rest_lens[r] = lens[i];
			if (opts)
				opts[r] = opts[i];
			r++;
		}
	}
	return (int)k;
}

/* After a socket is gone the kernel holds none of the frames it was given: its fill ring and
 * TX descriptors (including ones the kernel rejected and will never complete) come back. */
static uint32_t reclaim(struct xsk_ledger *l, uint32_t ring_owner)
{
	uint32_t n = 0;
	for (uint32_t f = 0; f < l->nframes; f++) {
		uint64_t w = l->word[f];
		if (w == XSK_WORD(XSK_FILL, ring_owner) || w == XSK_WORD(XSK_TX, ring_owner)) {
			l->counts[XSK_WORD_STATE(w)]--;
			l->counts[XSK_POOL]++;
			l->word[f] = XSK_WORD(XSK_POOL, 0);
			l->pool[l->pool_len++] = f;
			n++;
		}
	}
	return n;
}

/* Full consistency check (the soak's "checking mode"): the per-state counts match the words,
 * the pool stack holds exactly the POOL frames, each once, POOL frames have no owner, and no
 * frame carries a mark outside a call. The pool pass marks the frames it meets; the scan
 * clears them, whichever way it ends. */
static int verify(struct xsk_ledger *l, uint32_t *frame)
{
	uint32_t counts[4] = {0, 0, 0, 0}, pooled = 0;
	int rc = 0;
	*frame = l->pool_len;
	if (l->pool_len > l->nframes)
		return XSK_VERIFY_POOL;
	for (uint32_t f = 0; f < l->nframes; f++) /* a stray mark is a broken word */
		if (l->word[f] & XSK_WORD_SEEN) {
			*frame = f;
			return XSK_VERIFY_WORD;
		}
	for (; pooled < l->pool_len; pooled++) {
		uint32_t f = l->pool[pooled];
		if (f >= l->nframes || l->word[f] != XSK_WORD(XSK_POOL, 0)) { /* a duplicate meets its mark */
			*frame = f;
			rc = XSK_VERIFY_POOL;
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
			rc = XSK_VERIFY_WORD;
		} else if (XSK_WORD_STATE(w) == XSK_POOL) { /* not on the pool stack, or with an owner */
			*frame = f;
			rc = XSK_VERIFY_POOL;
		} else {
			counts[XSK_WORD_STATE(w)]++;
		}
	}
	if (rc)
		return rc;
	*frame = 0;
	return memcmp(counts, l->counts, sizeof(counts)) ? XSK_VERIFY_COUNTS : 0;
}

uint32_t xsk_ledger_take(struct xsk_ledger *l, uint64_t *addrs, uint32_t *lens, uint32_t n, uint32_t token,
			 uint32_t length)
{
	uint32_t k = XSK_LOCKED(l, take(l, addrs, n, token));
	const uint32_t off = l->data_offset;
	if (off) /* a UMEM with TX metadata: the data starts after the area the kernel reads it from */
		for (uint32_t i = 0; i < k; i++)
			addrs[i] += off;
	for (uint32_t i = 0; lens && i < k; i++)
		lens[i] = length;
	return k;
}

int xsk_ledger_check(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token, uint32_t *bad)
{
	return XSK_LOCKED(l, check_only(l, addrs, n, token, bad));
}

int xsk_ledger_release(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token, uint32_t *bad)
{
	return XSK_LOCKED(l, release(l, addrs, n, token, bad));
}

int xsk_ledger_retoken(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		       uint32_t new_token, uint32_t *bad)
{
	return XSK_LOCKED(l, retoken(l, addrs, n, token, new_token, bad));
}

int xsk_ledger_select(struct xsk_ledger *l, uint64_t *addrs, const uint32_t *lens, uint32_t *opts,
		      const uint8_t *mask, uint32_t n, uint32_t token, uint32_t new_token, uint64_t *sel_addrs,
		      uint32_t *sel_lens, uint32_t *sel_opts, uint32_t *rest_lens, uint32_t *bad)
{
	return XSK_LOCKED(l, select_frames(l, addrs, lens, opts, mask, n, token, new_token, sel_addrs, sel_lens,
					   sel_opts, rest_lens, bad));
}

uint32_t xsk_ledger_reclaim(struct xsk_ledger *l, uint32_t ring_owner)
{
	return XSK_LOCKED(l, reclaim(l, ring_owner));
}

int xsk_ledger_verify(struct xsk_ledger *l, uint32_t *frame)
{
	return XSK_LOCKED(l, verify(l, frame));
}
