/* Compiled frame handlers (xsk.jit): the receive -> handle -> send / give back loop in C, calling
 * a handler (a numba cfunc, or for debugging a cffi callback into Python) once per frame.
 *
 * Ownership: frames move only through datapath.c's entry points, under the ledger's lock: RX ->
 * USER (the loop's batch token) while the handler runs, then USER -> TX for the answers and
 * USER -> FILL (or POOL when the fill ring is full) for the rest. The handler never holds a
 * frame past its call, and the loop never ends a batch with a frame still USER: whatever the
 * handler returns (a bad action, a length past the frame, an exception), the frame goes back
 * and is counted.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_JIT_H
#define XSK_JIT_H

#include <stdint.h>

#include "datapath.h"
#include "parse.h"

/* XSK_CDEF_BEGIN */
/* A frame handler: data is the frame's first byte, len its length, room the bytes from data to
 * the end of its UMEM frame (what a reply may grow to), h its parsed headers, state the
 * handler's arrays. Returns an XSK_JIT_* action, or the length to send (1..room). */
typedef int64_t (*xsk_jit_fn)(uint8_t *data, uint32_t len, uint32_t room, struct xsk_hdr *h, void **state);

#define XSK_JIT_PASS 0     /* no reply: the frame goes back to the fill ring (counted returned) */
#define XSK_JIT_DROP -1    /* no reply, counted dropped */
#define XSK_JIT_SEND -2    /* send the frame as it is now, at its received length */
#define XSK_JIT_RAISED -3  /* the handler raised (the compiled entry's catch-all returns it) */
#define XSK_JIT_INVALID -4 /* a helper could not build the reply; any other value outside
			    * the actions and 1..room is invalid too */
#define XSK_JIT_MAX_BATCH 512

struct xsk_jit_counts {
	uint64_t received, replied, returned, dropped, invalid, raised, tx_dropped, batches, busy_ns;
};

struct xsk_jit {
	xsk_jit_fn fn;
	void **state;
	uint32_t batch;        /* frames per receive, 1..XSK_JIT_MAX_BATCH */
	uint32_t verify;       /* parse with checksums verified: h->l4_csum is an XSK_CSUM_* state */
	uint32_t send_retries; /* TX-full retries (reaping completions) before the rest go back */
	volatile uint32_t stop; /* set from any thread: return after the current batch */
	int send_err;          /* an XSK_ERR_* the data path gave a send (a bug if ever nonzero) */
	struct xsk_jit_counts c;
};

/* Receive on in, handle, send the answers on out's TX ring (out may be in; one UMEM), give the
 * rest back to in's fill ring; batch after batch until budget frames were received, stop is set,
 * waking the kernel for TX failed (out->kick_err), or the RX ring stayed empty for spin_ns
 * nanoseconds of re-reading it (at once when the kernel wants a fill-ring wakeup): a request
 * that comes within spin_ns of the last finds the loop awake, as a busy-polling socket would.
 * Single-buffer frames. Returns frames received. Every frame it received is on out's TX ring or
 * back on in's fill ring (or pool). */
uint64_t xsk_jit_run(struct xsk_jit *j, struct xsk_path *in, struct xsk_path *out, uint8_t *area, uint64_t budget,
		     uint64_t spin_ns, uint32_t token);
/* XSK_CDEF_END */

#endif
