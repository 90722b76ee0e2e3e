/* A stand-in kernel for rings in ordinary memory, for tests and benchmarks only: no real
 * socket uses anything here. xsk.testing.MemorySocket points a path's rings at ordinary
 * memory (xsk_standin_ring) and sets xsk_path.wake to xsk_standin_wake, so that wherever a
 * real socket would wake the kernel, this one completes TX and turns fill-ring frames into
 * received packets, with the kernel's index protocol.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_STANDIN_H
#define XSK_STANDIN_H

#include <stdint.h>
#include <xdp/xsk.h>

#include "datapath.h"

/* XSK_CDEF_BEGIN */
/* What the stand-in kernel makes of fill-ring frames: rx_len-byte packets at headroom. */
struct xsk_standin {
	uint32_t rx_len;
	uint32_t headroom;
};

/* Point a libxdp ring struct (prod or cons) at ordinary memory, as libxdp does for a mapped
 * ring; -EINVAL unless size is a power of two. */
int xsk_standin_ring(void *ring_struct, uint32_t *producer, uint32_t *consumer, uint32_t *flags,
		     void *descs, uint32_t size, int producer_side);
/* Play the kernel once: complete up to max TX descriptors, and return up to max fill-ring
 * frames on the RX ring as rx_len-byte packets at headroom. Returns descriptors moved. */
uint32_t xsk_standin_run(struct xsk_ring_prod *tx, struct xsk_ring_cons *cq, struct xsk_ring_prod *fq,
			 struct xsk_ring_cons *rx, uint32_t max, uint32_t rx_len, uint32_t headroom);
/* xsk_path.wake for a path over memory rings; wake_ctx is a struct xsk_standin. On a UMEM with
 * TX metadata it first serves the TX descriptors' requests (xsk_txmd_standin_tx). */
int xsk_standin_wake(struct xsk_path *p);
/* The in-memory benchmark's loop written in C, through the same entry points the Python loop
 * calls (take, send, recv, fill back): iterations rounds of batch frames. Returns packets
 * moved (sent + received), or 0 if a call was refused. */
uint64_t xsk_standin_bench(struct xsk_path *p, uint32_t batch, uint64_t iterations);
/* XSK_CDEF_END */

#endif
