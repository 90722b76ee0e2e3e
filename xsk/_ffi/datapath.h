/* One socket's data path: every per-batch call Python makes on a socket is one C call here,
 * which checks the batch against the ledger, moves it between the ledger and the rings, and
 * wakes the kernel, all under the ledger's lock (the kernel wakeup after it).
 *
 * Ring memory ordering: the helpers use libxdp's xsk_ring_* inlines, which read the peer's
 * index with a load-acquire and publish their own with a store-release (see
 * net/xdp/xsk_queue.h). So descriptors are fully written before the producer index moves,
 * and read before the consumer index moves. On x86 (TSO) these compile to plain ordered
 * moves; other architectures get the barriers from the same inlines, but only x86-64 is tested.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_DATAPATH_H
#define XSK_DATAPATH_H

#include <stdint.h>
#include <xdp/xsk.h>

#include "ledger.h"
#include "txmd.h"

/* Multi-buffer (Linux 6.6) may be newer than the installed uapi headers. */
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif

/* XSK_CDEF_BEGIN */
/* A queue's fill and completion rings, shared by the sockets of one UMEM bound to it; in_fill
 * is only read and written under the ledger's lock. */
struct xsk_fillq {
	struct xsk_ring_prod *fq;
	struct xsk_ring_cons *cq;
	uint32_t owner;   /* the ledger's ring owner of the queue's FILL and TX frames */
	uint32_t in_fill; /* frames this process put on the fill ring that have not come back */
	/* NULL, or (a UMEM with TX metadata) the log of completion timestamps: TX descriptors must
	 * then start log->md_len bytes into their frames, and completions are reaped through it. */
	struct xsk_txmd_log *txmd;
};

struct xsk_path {
	struct xsk_ledger *l;
	struct xsk_fillq *q;
	struct xsk_ring_cons *rx; /* NULL without RX */
	struct xsk_ring_prod *tx; /* NULL without TX */
	int fd;                   /* -1: no kernel to wake with sendto() */
	int need_wakeup;
	uint32_t fill_target;     /* keep this many frames on the fill ring */
	uint32_t comp_size;
	uint32_t max_kicks;       /* TX wakeups per send (copy mode takes 32 descriptors each) */
	uint32_t bad;             /* out: index of the frame an error code names */
	int kick_err;             /* out: -errno of waking the kernel after a send (or forward), else 0 */
	int tx_full;              /* out: forward found the TX ring full (wait for room, not for RX) */
	/* Rings in ordinary memory have no kernel: where a real socket would wake the kernel, wake
	 * runs whatever plays it (standin.c's xsk_standin_wake for tests and benchmarks), with
	 * wake_ctx. NULL for a real socket. */
	int (*wake)(struct xsk_path *p);
	void *wake_ctx;
};

/* TX ring <- batch (checked), reap completions, wake the kernel until it took the ring:
 * returns frames accepted or an XSK_ERR_* code (then nothing changed). opts (NULL for
 * single-buffer) chains fragments with XDP_PKT_CONTD; only whole packets go on a nearly
 * full ring. */
int xsk_path_send(struct xsk_path *p, const uint64_t *addrs, const uint32_t *lens,
		  const uint32_t *opts, uint32_t n, uint32_t token, int check_bounds);
/* RX ring -> up to max frames for token, top the fill ring up, reap completions. With opts
 * (multi-buffer) only whole packets, unless one has more fragments than max. */
uint32_t xsk_path_recv(struct xsk_path *p, uint64_t *addrs, uint32_t *lens, uint32_t *opts,
		       uint32_t max, uint32_t token);
/* Batch -> fill ring as far as it fits; with to_pool the rest goes to the pool.
 * Returns frames put on the fill ring, or an XSK_ERR_* code (then nothing changed). */
int xsk_path_fill(struct xsk_path *p, const uint64_t *addrs, uint32_t n, uint32_t token, int to_pool);
/* Pool -> fill ring, up to fill_target frames on it; returns how many went. */
uint32_t xsk_path_refill(struct xsk_path *p);
/* Completion ring -> pool; returns the completions read. */
uint32_t xsk_path_complete(struct xsk_path *p);
/* Frames of this socket's RX ring -> pool (a socket leaving a shared queue). */
uint32_t xsk_path_drain_rx(struct xsk_path *p);
/* Wake the kernel for TX until it took the ring (copy mode: 32 descriptors per wakeup),
 * reaping completions in between; 0 or -errno. */
int xsk_path_kick(struct xsk_path *p);
/* Does the kernel want a wakeup to take frames from the fill ring? */
int xsk_path_fill_needs_wakeup(const struct xsk_path *p);

#define XSK_FWD_SWAP_MACS 1
#define XSK_FWD_SWAP_IPS 2
#define XSK_FWD_SWAP_PORTS 4
/* in's RX ring -> out's TX ring (out may be in; both on one UMEM; single-buffer frames): up to
 * max frames, no more than out's TX ring has room for (the rest stay on the RX ring), each
 * rewritten in place per flags (XSK_FWD_SWAP_*: MACs, IPv4/IPv6 addresses, UDP/TCP ports).
 * Then top up in's fill ring, reap out's completions and wake the kernel for out's TX.
 * Returns frames forwarded; in->kick_err is -errno of that wakeup and in->tx_full says out's
 * TX ring had no room (in's fields: one thread per socket). */
uint32_t xsk_path_forward(struct xsk_path *in, struct xsk_path *out, uint8_t *area, uint32_t max,
			  uint32_t flags);
/* XSK_CDEF_END */

#endif
