/* AF_XDP TX metadata (Linux 6.8+, libxdp 1.5+): per-packet requests to the kernel or the
 * device, written in front of a frame's data, and the completion timestamps it writes back.
 *
 * A UMEM registered with tx_metadata_len = XSK_TX_METADATA_LEN reserves that many bytes in
 * front of every TX descriptor's address: the kernel reads a struct xsk_tx_metadata at
 * addr - tx_metadata_len when the descriptor's options carry XDP_TX_METADATA, and (copy mode:
 * when it frees the skb; zero-copy: when the driver completes it) writes the transmit time
 * into the same place before it puts the address on the completion ring. So every TX
 * descriptor of such a UMEM must start at least tx_metadata_len bytes into its frame (the
 * kernel rejects it otherwise, and a rejected descriptor never completes).
 *
 * libxdp registers UMEMs; only libxdp 1.5's xsk_umem__create_opts can pass tx_metadata_len.
 * build.py probes for it and defines XSK_HAVE_UMEM_OPTS; without it xsk_txmd_umem_create is a
 * stub returning -EOPNOTSUPP and XSK_HAVE_TX_METADATA is 0, so the declarations stay the same.
 *
 * Frames: xsk_txmd_request writes into frames the caller owns (a batch's); the completion side
 * (datapath.c's reap, under the ledger's lock) reads a frame's timestamp while it moves from
 * TX to the pool, before anyone can take it again, and keeps it in the queue's log until
 * Python reads it (xsk_txmd_read, also under the lock).
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_TXMD_H
#define XSK_TXMD_H

#include <stdint.h>
#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include "ledger.h"

/* The uapi of Linux 6.8-6.11, for headers older than that (Debian 12's are 6.1): the values
 * are the kernel's (include/uapi/linux/if_xdp.h) and can't change. Headers that have them
 * also have struct xsk_tx_metadata (txmd.c checks ours against it). */
#ifdef XDP_TXMD_FLAGS_CHECKSUM
#define XSK_UAPI_TX_METADATA 1
#endif
#ifndef XDP_PKT_CONTD /* multi-buffer, Linux 6.6 */
#define XDP_PKT_CONTD (1 << 0)
#endif
#ifndef XDP_UMEM_TX_SW_CSUM
#define XDP_UMEM_TX_SW_CSUM (1 << 1)
#endif
#ifndef XDP_UMEM_TX_METADATA_LEN
#define XDP_UMEM_TX_METADATA_LEN (1 << 2)
#endif
#ifndef XDP_TX_METADATA
#define XDP_TX_METADATA (1 << 1)
#endif
#ifndef XDP_TXMD_FLAGS_TIMESTAMP
#define XDP_TXMD_FLAGS_TIMESTAMP (1 << 0)
#endif
#ifndef XDP_TXMD_FLAGS_CHECKSUM
#define XDP_TXMD_FLAGS_CHECKSUM (1 << 1)
#endif

#ifdef XSK_HAVE_UMEM_OPTS
#define XSK_HAVE_TX_METADATA 1
#else
#define XSK_HAVE_TX_METADATA 0
#endif

/* XSK_CDEF_BEGIN */
/* struct xsk_tx_metadata as Linux 6.15+ lays it out (6.8-6.14 end after csum_offset: 16
 * bytes; launch_time came in 6.15). Our own name, so that it can't clash with the headers'
 * struct, whose size depends on their version; _Static_asserts in txmd.c hold the common
 * fields to the headers' where they have them. */
struct xsk_txmd {
	uint64_t flags;
	union {
		struct {
			uint16_t csum_start;  /* from the descriptor's address */
			uint16_t csum_offset; /* from csum_start: where the checksum goes */
			uint32_t pad;
			uint64_t launch_time; /* XDP_TXMD_FLAGS_LAUNCH_TIME (6.15); not used here */
		} request;
		struct {
			uint64_t tx_timestamp; /* ns; written by the kernel before it completes the frame */
		} completion;
	};
};

/* Bytes reserved in front of each TX descriptor's data: sizeof(struct xsk_tx_metadata) of
 * Linux 6.15+ (a multiple of 8 below 256, as the kernel requires of tx_metadata_len). */
#define XSK_TX_METADATA_LEN 24

/* A queue's completion timestamps, oldest first: the newest cap records are kept. Written by
 * datapath.c's reap and read by xsk_txmd_read, both under the ledger's lock. */
struct xsk_txmd_log {
	uint8_t *area;         /* the UMEM */
	uint8_t *requested;    /* per frame: 1 while it is on a TX ring with XDP_TX_METADATA (the
				* UMEM's array, shared by its queues' logs) */
	uint64_t *addrs;       /* cap records: the descriptor's address as it was sent ... */
	uint64_t *ns;          /* ... and its completion timestamp in ns, 0 when none was given */
	uint64_t written;      /* records ever written */
	uint64_t read;         /* records ever read, or lost: overwritten before they were read */
	uint32_t cap;          /* a power of two */
	uint32_t md_len;       /* the UMEM's tx_metadata_len */
};

/* What xsk_txmd_request does for the checksum. */
#define XSK_TXMD_CSUM_NONE 0
#define XSK_TXMD_CSUM_GIVEN 1 /* at csum_start[i] / csum_offset[i] (index 0 for all, see per_frame) */
#define XSK_TXMD_CSUM_L4 2    /* the frame's UDP/TCP checksum over IPv4/IPv6, found by its headers;
			       * the field is set to the pseudo-header sum, which the device completes */

/* Why xsk_txmd_request refused a batch (with *bad the frame's index; nothing was written). */
#define XSK_TXMD_ERR_ROOM -1   /* the data starts less than md_len bytes into its frame, runs past
				  * its end, or lies outside the UMEM */
#define XSK_TXMD_ERR_CSUM -2   /* csum_start + csum_offset + 2 is more than the frame's length */
#define XSK_TXMD_ERR_NO_L4 -3  /* XSK_TXMD_CSUM_L4: no UDP/TCP over IPv4/IPv6 inside the frame */

/* Request TX offloads for the packets of a batch the caller owns: for each packet's first
 * frame (frame 0, and every frame after one whose opts has XDP_PKT_CONTD) write a
 * struct xsk_tx_metadata at addrs[i] - md_len with XDP_TXMD_FLAGS_TIMESTAMP (timestamp) and/or
 * XDP_TXMD_FLAGS_CHECKSUM (csum, XSK_TXMD_CSUM_*), and set XDP_TX_METADATA in opts[i]; with
 * neither, clear XDP_TX_METADATA instead. csum_start/csum_offset: per frame when per_frame,
 * else [0] for all. Everything is checked first: 0, or XSK_TXMD_ERR_* and nothing changed. */
int xsk_txmd_request(uint8_t *area, uint64_t area_size, uint32_t frame_size, uint32_t md_len,
		     const uint64_t *addrs, const uint32_t *lens, uint32_t *opts, uint32_t n, int timestamp,
		     int csum, const uint16_t *csum_start, const uint16_t *csum_offset, int per_frame,
		     uint32_t *bad);
/* Up to max records of the log, oldest first, into addrs/ns; *lost += the records overwritten
 * before they were read. Returns how many were copied. Takes the ledger's lock. */
uint32_t xsk_txmd_read(struct xsk_ledger *l, struct xsk_txmd_log *log, uint64_t *addrs, uint64_t *ns,
		       uint32_t max, uint64_t *lost);
/* libxdp's xsk_umem__create with the UMEM's tx_metadata_len (and XDP_UMEM_TX_METADATA_LEN,
 * which Linux 6.11+ wants with it) through xsk_umem__create_opts: 0 or -errno; -EOPNOTSUPP
 * when this build's libxdp has no xsk_umem__create_opts (XSK_HAVE_TX_METADATA 0). */
int xsk_txmd_umem_create(struct xsk_umem **umem, void *area, uint64_t size, struct xsk_ring_prod *fill,
			 struct xsk_ring_cons *comp, const struct xsk_umem_config *config,
			 uint32_t tx_metadata_len);
/* The libxdp version this extension was built against (pkg-config's, "unknown" without it). */
const char *xsk_txmd_libxdp_version(void);
/* The stand-in kernel's TX metadata (standin.c): for each descriptor on the TX ring not yet
 * consumed that carries XDP_TX_METADATA, do what copy mode with XDP_UMEM_TX_SW_CSUM does:
 * compute the requested checksum and write a CLOCK_TAI timestamp. Returns descriptors served. */
uint32_t xsk_txmd_standin_tx(struct xsk_ring_prod *tx, struct xsk_txmd_log *log);
/* XSK_CDEF_END */

/* A frame came back on the completion ring at address a, sent with XDP_TX_METADATA: if it asked
 * for a timestamp, log it (0 when the driver gave none: a timestamp can't be below 2^32 ns, while
 * what the request left in that place, csum_start and csum_offset, is). Then forget the request,
 * so the area can't be mistaken for a fresh one. Lock held; a - md_len lies in a's frame (the
 * data path refused descriptors that start closer to the frame's start). The kernel wrote the
 * timestamp before it published the completion (a store-release of the ring's producer index),
 * and the peek that found the completion read that index with a load-acquire: this read comes
 * after it. A full log overwrites its oldest records (xsk_txmd_read counts them as lost). */
static inline void xsk_txmd_completed(struct xsk_txmd_log *log, uint64_t a)
{
	struct xsk_txmd *m = (struct xsk_txmd *)(log->area + a - log->md_len);
	if (m->flags & XDP_TXMD_FLAGS_TIMESTAMP) {
		uint64_t ts = m->completion.tx_timestamp, at = log->written & (log->cap - 1);
		log->addrs[at] = a;
		log->ns[at] = ts >> 32 ? ts : 0;
		log->written++;
	}
	m->flags = 0;
}

#endif
