/* The frame-ownership ledger: one word per UMEM frame saying which state the frame is in and
 * who owns it there (xsk/ledger.py has the states, the transition table and the theory of
 * operation). Every public entry point checks a whole batch first and changes nothing if
 * any item is wrong, then commits; each holds the ledger's lock, so threads sharing a UMEM
 * can't interleave inside a check-then-commit.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (xsk/_ffi/build.py
 * hands it to cffi as it is); the rest is for the C units that move frames (datapath.c).
 */
#ifndef XSK_LEDGER_H
#define XSK_LEDGER_H

#include <pthread.h>
#include <stdint.h>
#include <xdp/xsk.h>

/* XSK_CDEF_BEGIN */
enum xsk_frame_state { XSK_POOL = 0, XSK_USER = 1, XSK_FILL = 2, XSK_TX = 3 };

enum xsk_ledger_err {
	XSK_OK = 0,
	XSK_ERR_RANGE = -1,    /* address outside the UMEM */
	XSK_ERR_STATE = -3,    /* frame not owned by the caller */
	XSK_ERR_TOKEN = -4,    /* frame owned by the caller, but by another batch */
	XSK_ERR_BOUNDS = -5,   /* descriptor runs past the end of its frame */
	XSK_ERR_DUP = -6       /* the same frame twice in one call */
};

/* Bad ledger words found by xsk_ledger_verify */
enum xsk_verify_err { XSK_VERIFY_COUNTS = 1, XSK_VERIFY_POOL = 2, XSK_VERIFY_WORD = 3 };

struct xsk_ledger {
	uint64_t *word;   /* one XSK_WORD per frame */
	uint32_t *pool;   /* free frames, a stack of frame indices */
	uint32_t pool_len;
	uint32_t nframes;
	uint32_t frame_shift; /* log2(frame_size), or 0 when frame_size is not a power of two */
	uint32_t frame_size;
	uint32_t unaligned;   /* unaligned chunk mode: RX addresses carry an offset in bits 48+ */
	uint32_t data_offset; /* where xsk_ledger_take's addresses start in their frames: 0, or the
			       * UMEM's TX metadata area (txmd.h) */
	uint32_t counts[4];   /* frames per enum xsk_frame_state */
	uint64_t kernel_errors; /* descriptors from the kernel that named no frame it held */
	pthread_mutex_t lock;   /* held by every entry point of ledger.c and datapath.c */
};

int xsk_ledger_init(struct xsk_ledger *l, uint64_t *word, uint32_t *pool, uint32_t nframes,
		    uint32_t frame_size, int unaligned);
/* POOL -> USER for up to n frames of token, addrs[i] data_offset bytes into each; lens (if not
 * NULL) gets length for each. */
uint32_t xsk_ledger_take(struct xsk_ledger *l, uint64_t *addrs, uint32_t *lens, uint32_t n, uint32_t token,
			 uint32_t length);
/* Are these n addresses distinct frames that the batch with token holds? (No batch has token 0.)
 * XSK_OK or an XSK_ERR_* code with *bad the index of the first bad address; changes nothing. */
int xsk_ledger_check(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		     uint32_t *bad);
/* USER -> POOL for every address, or an XSK_ERR_* code and nothing changed. */
int xsk_ledger_release(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		       uint32_t *bad);
/* USER (token) -> USER (new_token): frames move from one batch to another. */
int xsk_ledger_retoken(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		       uint32_t new_token, uint32_t *bad);
/* Split a batch: USER (token) -> USER (new_token) for the frames where mask[i], copied in order
 * to sel_*; the others' addresses and options move, in order, to the front of addrs/opts (in
 * place: the batch keeps those arrays), their lengths go to rest_lens (which may be lens).
 * opts may be NULL; sel_opts NULL drops the selected frames' options. Returns how many were
 * selected, or an XSK_ERR_* code with *bad the index of the first address the batch does not
 * hold, and nothing changed (the arrays included). */
int xsk_ledger_select(struct xsk_ledger *l, uint64_t *addrs, const uint32_t *lens, uint32_t *opts,
		      const uint8_t *mask, uint32_t n, uint32_t token, uint32_t new_token, uint64_t *sel_addrs,
		      uint32_t *sel_lens, uint32_t *sel_opts, uint32_t *rest_lens, uint32_t *bad);
/* FILL/TX -> POOL for every frame held by ring_owner, a socket the kernel no longer has. */
uint32_t xsk_ledger_reclaim(struct xsk_ledger *l, uint32_t ring_owner);
/* 0, or the enum xsk_verify_err of the first inconsistency, with *frame naming where. */
int xsk_ledger_verify(struct xsk_ledger *l, uint32_t *frame);
/* XSK_CDEF_END */

/* A frame's ledger word: its state in bits 32-33 and its owner in bits 0-31 (USER: the
 * batch token; FILL/TX: the ring owner id; POOL: 0), so one load and one compare check both.
 * XSK_WORD_SEEN is set only inside a call holding the lock, on the frames it has checked so
 * far: a frame named twice in one batch meets its own mark. Every call clears the marks it set
 * before it returns (by committing the frame or by unmarking it). */
#define XSK_WORD(state, id) (((uint64_t)(state) << 32) | (uint32_t)(id))
#define XSK_WORD_STATE(w) ((uint32_t)((w) >> 32))
#define XSK_WORD_SEEN (1ULL << 40)

/* Run expr (an unlocked *_impl call) under the ledger's lock and give its value: the one shape
 * of every public entry point. */
#define XSK_LOCKED(l, expr)                                                                      \
	__extension__({                                                                          \
		pthread_mutex_t *lock_ = &(l)->lock;                                             \
		pthread_mutex_lock(lock_);                                                       \
		__typeof__(expr) rc_ = (expr);                                                   \
		pthread_mutex_unlock(lock_);                                                     \
		rc_;                                                                             \
	})

/* The hot loops read the ledger's fields into locals once per batch (a store through one of
 * its arrays could otherwise make the compiler reload them for every frame) and settle the
 * per-state counts once per batch. These primitives are inline so that each unit's loops are
 * specialised by the compiler (-O3) for the constants of their call sites. */
struct xsk_frames {
	uint64_t *restrict word;
	uint64_t size; /* bytes in the UMEM */
	uint32_t shift, fsize, unaligned;
};

static inline struct xsk_frames xsk_frames_of(struct xsk_ledger *l)
{
	return (struct xsk_frames){.word = l->word, .size = (uint64_t)l->nframes * l->frame_size,
				   .shift = l->frame_shift, .fsize = l->frame_size, .unaligned = l->unaligned};
}

/* Frame index of an address: a shift for power-of-two frames, a division otherwise (unaligned
 * chunk mode allows any frame size). The branch is the same for every frame of a batch. */
static inline uint32_t xsk_frame_at(uint64_t a, uint32_t shift, uint32_t fsize)
{
	return shift ? (uint32_t)(a >> shift) : (uint32_t)(a / fsize);
}

/* Clear the marks xsk_ledger_check_batch set on addrs[0..n) (frames it passed, each once),
 * through the caller's view of the words (a second restrict pointer to them would be undefined). */
static inline void xsk_unmark_frames(const struct xsk_frames *fr, const uint64_t *restrict addrs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		fr->word[xsk_frame_at(addrs[i], fr->shift, fr->fsize)] &= ~XSK_WORD_SEEN;
}

static inline void xsk_unmark(struct xsk_ledger *l, const uint64_t *restrict addrs, uint32_t n)
{
	struct xsk_frames fr = xsk_frames_of(l);
	xsk_unmark_frames(&fr, addrs, n);
}

/* Why the frame with word w failed xsk_ledger_check_batch. */
static inline int xsk_check_error(uint64_t w)
{
	if (w & XSK_WORD_SEEN)
		return XSK_ERR_DUP;
	if (XSK_WORD_STATE(w) != XSK_USER)
		return XSK_ERR_STATE;
	return XSK_ERR_TOKEN;
}

/* Validate that every address names a distinct frame the batch with token holds (and, with
 * lens, that every descriptor is non-empty, starts at least lo bytes into its frame and fits in
 * it). A frame is the caller's only through the batch that holds it: there is no way to name
 * USER frames by address alone.
 * On success every frame of the batch is marked XSK_WORD_SEEN: the caller commits each (a new
 * word clears the mark) or unmarks it. On failure nothing is marked and *bad is the index of
 * the first bad address. Lock held. lo is 0 but for TX on a UMEM with TX metadata (a constant 0
 * compiles the test away). */
static inline __attribute__((always_inline)) int
xsk_ledger_check_batch_lo(struct xsk_ledger *l, const uint64_t *restrict addrs, const uint32_t *restrict lens,
			  uint32_t n, uint32_t token, uint32_t lo, uint32_t *bad)
{
	struct xsk_frames fr = xsk_frames_of(l);
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
		f = xsk_frame_at(a, fr.shift, fr.fsize);
		start = (uint64_t)f * fr.fsize;
		w = fr.word[f];
		if (w != mine) {
			err = xsk_check_error(w);
			break;
		}
		if (lens && (lens[i] == 0 || a - start + lens[i] > fr.fsize || a - start < lo)) {
			err = XSK_ERR_BOUNDS;
			break;
		}
		fr.word[f] = w | XSK_WORD_SEEN;
	}
	*bad = i;
	if (err)
		xsk_unmark_frames(&fr, addrs, i);
	return err;
}

static inline int xsk_ledger_check_batch(struct xsk_ledger *l, const uint64_t *restrict addrs,
					 const uint32_t *restrict lens, uint32_t n, uint32_t token, uint32_t *bad)
{
	return xsk_ledger_check_batch_lo(l, addrs, lens, n, token, 0, bad);
}

/* USER -> POOL for n checked frames, in one pass. Lock held. */
static inline void xsk_pool_push_checked(struct xsk_ledger *l, const uint64_t *restrict addrs, uint32_t n)
{
	struct xsk_frames fr = xsk_frames_of(l);
	uint32_t *restrict pool = l->pool;
	uint32_t top = l->pool_len;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t f = xsk_frame_at(addrs[i], fr.shift, fr.fsize);
		fr.word[f] = XSK_WORD(XSK_POOL, 0);
		pool[top++] = f;
	}
	l->pool_len = top;
	l->counts[XSK_USER] -= n;
	l->counts[XSK_POOL] += n;
}

#endif
