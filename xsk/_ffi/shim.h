/* Per-batch helpers for the xsk Python package.
 *
 * The frame-ownership ledger lives here so that one call from Python checks a
 * whole batch and moves it between states: every operation validates all of its
 * input first and changes nothing if any item is wrong, then commits.
 *
 * Ring memory ordering: the helpers use libxdp's xsk_ring_* inlines, which read
 * the peer's index with a load-acquire and publish their own with a
 * store-release (see net/xdp/xsk_queue.h). So descriptors are fully written
 * before the producer index moves, and read before the consumer index moves.
 * On x86 (TSO) these compile to plain ordered moves; other architectures get
 * the barriers from the same inlines, but only x86-64 is tested.
 */
#ifndef XSK_SHIM_H
#define XSK_SHIM_H

#include <pthread.h>
#include <stdint.h>
#include <xdp/xsk.h>

/* Multi-buffer (Linux 6.6) may be newer than the installed uapi headers. */
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif

enum xsk_frame_state { XSK_POOL = 0, XSK_USER = 1, XSK_FILL = 2, XSK_TX = 3 };

enum xsk_ledger_err {
	XSK_OK = 0,
	XSK_ERR_RANGE = -1,    /* address outside the UMEM */
	XSK_ERR_BOUNDARY = -2, /* raw address not on a frame boundary */
	XSK_ERR_STATE = -3,    /* frame not owned by the caller */
	XSK_ERR_TOKEN = -4,    /* frame owned by the caller, but by another batch */
	XSK_ERR_BOUNDS = -5,   /* descriptor runs past the end of its frame */
	XSK_ERR_DUP = -6,      /* the same frame twice in one call */
};

/* A frame's ledger word: its state in bits 32-33 and its owner in bits 0-31 (USER: the
 * batch token; FILL/TX: the ring owner id; POOL: 0), so one load and one compare check both.
 * XSK_WORD_SEEN is set only inside a call holding the lock, on the frames it has checked so
 * far: a frame named twice in one batch meets its own mark. Every call clears the marks it set
 * before it returns (by committing the frame or by unmarking it). */
#define XSK_WORD(state, id) (((uint64_t)(state) << 32) | (uint32_t)(id))
#define XSK_WORD_STATE(w) ((uint32_t)((w) >> 32))
#define XSK_WORD_SEEN (1ULL << 40)

struct xsk_ledger {
	uint64_t *word;   /* one XSK_WORD per frame */
	uint32_t *pool;   /* free frames, a stack of frame indices */
	uint32_t pool_len;
	uint32_t nframes;
	uint32_t frame_shift; /* log2(frame_size), or 0 when frame_size is not a power of two */
	uint32_t frame_size;
	uint32_t unaligned;   /* unaligned chunk mode: RX addresses carry an offset in bits 48+ */
	uint32_t counts[4];
	uint64_t kernel_errors; /* descriptors from the kernel that named no frame it held */
	pthread_mutex_t lock;   /* held by every public entry point below */
};

int xsk_ledger_init(struct xsk_ledger *l, uint64_t *word, uint32_t *pool, uint32_t nframes,
		    uint32_t frame_size, int unaligned);
/* POOL -> USER for up to n frames; lens (if not NULL) gets length for each. */
uint32_t xsk_ledger_take(struct xsk_ledger *l, uint64_t *addrs, uint32_t *lens, uint32_t n, uint32_t token,
			 uint32_t length);
int xsk_ledger_check(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		     uint32_t *bad);
int xsk_ledger_release(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		       uint32_t *bad);
int xsk_ledger_retoken(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
		       uint32_t new_token, uint32_t *bad);
uint32_t xsk_ledger_reclaim(struct xsk_ledger *l, uint32_t ring_owner);
int xsk_ledger_verify(struct xsk_ledger *l, uint32_t *frame);

int xsk_shim_fill(struct xsk_ledger *l, struct xsk_ring_prod *fq, const uint64_t *addrs,
		  uint32_t n, uint32_t token, uint32_t ring_owner, uint32_t *bad);
uint32_t xsk_shim_fill_from_pool(struct xsk_ledger *l, struct xsk_ring_prod *fq, uint32_t n,
				 uint32_t ring_owner);
int xsk_shim_tx(struct xsk_ledger *l, struct xsk_ring_prod *tx, const uint64_t *addrs,
		const uint32_t *lens, uint32_t n, uint32_t token, uint32_t ring_owner,
		int check_bounds, uint32_t *bad);
uint32_t xsk_shim_rx(struct xsk_ledger *l, struct xsk_ring_cons *rx, uint64_t *addrs,
		     uint32_t *lens, uint32_t max, uint32_t token);
uint32_t xsk_shim_complete(struct xsk_ledger *l, struct xsk_ring_cons *cq, uint32_t max);

/* One socket's data path, so that each Python call is a single C call with few arguments.
 * A queue's fill and completion rings (struct xsk_fillq) are shared by the sockets of one
 * UMEM bound to it; in_fill is only read and written under the ledger's lock. */
struct xsk_fillq {
	struct xsk_ring_prod *fq;
	struct xsk_ring_cons *cq;
	uint32_t owner;   /* the ledger's ring owner of the queue's FILL and TX frames */
	uint32_t in_fill; /* frames this process put on the fill ring that have not come back */
};

struct xsk_path {
	struct xsk_ledger *l;
	struct xsk_fillq *q;
	struct xsk_ring_cons *rx; /* NULL without RX */
	struct xsk_ring_prod *tx; /* NULL without TX */
	int fd;                   /* -1: no kernel to wake (rings in ordinary memory) */
	int need_wakeup;
	uint32_t fill_target;     /* keep this many frames on the fill ring */
	uint32_t comp_size;
	uint32_t max_kicks;       /* TX wakeups per send (copy mode takes 32 descriptors each) */
	uint32_t bad;             /* out: index of the frame an error code names */
	int kick_err;             /* out: -errno of waking the kernel after a send (or forward), else 0 */
	int tx_full;              /* out: forward found the TX ring full (wait for room, not for RX) */
	uint32_t fake_rx_len;     /* rings in ordinary memory (fd -1): > 0 runs xsk_fake_kernel, making
				   * packets of this length, wherever a real socket would wake the kernel */
};

/* TX ring <- batch (checked), reap completions, wake the kernel until it took the ring:
 * returns frames accepted or an XSK_ERR_* code (then nothing changed). */
int xsk_path_send(struct xsk_path *p, const uint64_t *addrs, const uint32_t *lens,
		  const uint32_t *opts, uint32_t n, uint32_t token, int check_bounds);
/* RX ring -> up to max frames for token, top the fill ring up, reap completions. */
uint32_t xsk_path_recv(struct xsk_path *p, uint64_t *addrs, uint32_t *lens, uint32_t *opts,
		       uint32_t max, uint32_t token);
/* Batch -> fill ring as far as it fits; with to_pool the rest goes to the pool.
 * Returns frames put on the fill ring, or an XSK_ERR_* code (then nothing changed). */
int xsk_path_fill(struct xsk_path *p, const uint64_t *addrs, uint32_t n, uint32_t token, int to_pool);
uint32_t xsk_path_refill(struct xsk_path *p);
uint32_t xsk_path_complete(struct xsk_path *p);
/* Frames of this socket's RX ring -> pool (a socket leaving a shared queue). */
uint32_t xsk_path_drain_rx(struct xsk_path *p);
/* Wake the kernel for TX until it took the ring (see xsk_shim_tx_drain); 0 or -errno.
 * With fake_rx_len, run the stand-in kernel instead. */
int xsk_path_kick(struct xsk_path *p);

#define XSK_FWD_SWAP_MACS 1
#define XSK_FWD_SWAP_IPS 2
#define XSK_FWD_SWAP_PORTS 4
/* in's RX ring -> out's TX ring (out may be in; both on one UMEM; single-buffer frames): up to
 * max frames, no more than out's TX ring has room for (the rest stay on the RX ring), each
 * rewritten in place per flags (XSK_FWD_SWAP_*: MACs, IPv4/IPv6 addresses, UDP/TCP ports). Then top up in's fill ring, reap out's completions and wake
 * the kernel for out's TX. Returns frames forwarded; in->kick_err is -errno of that wakeup
 * and in->tx_full says out's TX ring had no room (in's fields: one thread per socket). */
uint32_t xsk_path_forward(struct xsk_path *in, struct xsk_path *out, uint8_t *area, uint32_t max,
			  uint32_t flags);

int xsk_shim_needs_wakeup(const struct xsk_ring_prod *r);
int xsk_shim_tx_drain(struct xsk_ledger *l, struct xsk_ring_prod *tx, struct xsk_ring_cons *cq,
                      int fd, uint32_t max_kicks, int need_wakeup);
int xsk_shim_kick_rx(int fd);
int xsk_shim_statistics(int fd, uint64_t out[6]);
int xsk_shim_options(int fd, uint32_t *flags);
int xsk_shim_busy_poll(int fd, int usecs, int budget);
int xsk_shim_tx_sg(struct xsk_ledger *l, struct xsk_ring_prod *tx, const uint64_t *addrs,
		   const uint32_t *lens, const uint32_t *opts, uint32_t n, uint32_t token,
		   uint32_t ring_owner, int check_bounds, uint32_t *bad);
uint32_t xsk_shim_rx_sg(struct xsk_ledger *l, struct xsk_ring_cons *rx, uint64_t *addrs,
			uint32_t *lens, uint32_t *opts, uint32_t max, uint32_t token);
int xsk_shim_sock_error(int fd);
int xsk_shim_ring_dontfork(const void *ring_struct, uint32_t desc_size);
int xsk_shim_fake_ring(void *ring_struct, uint32_t *producer, uint32_t *consumer, uint32_t *flags,
		       void *descs, uint32_t size, int producer_side);
void xsk_shim_route_logs(void);

/* Per-batch packet patching for the generator (see xsk/packet.py for the model). */
#define XSK_PATCH_MAX_FIELDS 8
#define XSK_PATCH_IP_SUM 1
#define XSK_PATCH_L4_SUM 2

struct xsk_patch_field {
	uint32_t offset; /* in the frame */
	uint32_t width;  /* bytes; even when it is summed */
	uint32_t count;  /* rows in values */
	uint32_t flags;  /* XSK_PATCH_IP_SUM | XSK_PATCH_L4_SUM */
	const uint8_t *values; /* count rows of width bytes */
};

struct xsk_patch_plan {
	uint32_t nfields;
	struct xsk_patch_field fields[XSK_PATCH_MAX_FIELDS];
	int32_t seq_at;     /* offset of the 16-byte sequence number + timestamp, or -1 */
	int32_t ip_csum_at; /* offset of the IPv4 header checksum to recompute, or -1 */
	int32_t l4_csum_at; /* offset of the UDP/TCP checksum to recompute, or -1 */
	uint32_t zero_as_ffff; /* UDP: a computed 0 is sent as 0xffff */
	uint64_t base_ip;   /* unfolded sums of the template with the varying parts zeroed */
	uint64_t base_l4;
	uint32_t random;    /* draw rows at random instead of in order */
	uint64_t rng;       /* xorshift64 state, never 0 */
};

void xsk_shim_patch(struct xsk_patch_plan *p, uint8_t *area, const uint64_t *addrs, uint32_t n,
		    uint64_t index0, uint32_t stream, uint64_t ts_ns);

uint32_t xsk_fake_kernel(struct xsk_ring_prod *tx, struct xsk_ring_cons *cq, struct xsk_ring_prod *fq,
			 struct xsk_ring_cons *rx, uint32_t max, uint32_t rx_len, uint32_t headroom);
uint64_t xsk_fake_bench(struct xsk_ledger *l, struct xsk_ring_prod *tx, struct xsk_ring_cons *cq,
			struct xsk_ring_prod *fq, struct xsk_ring_cons *rx, uint32_t batch, uint64_t iterations);
/* Swap destination and source MAC in place; -1 (nothing changed) if an address is outside the
 * area or within 12 bytes of its frame's end. */
int xsk_shim_swap_macs(uint8_t *area, const uint64_t *addrs, uint32_t n, uint64_t area_size,
                       uint32_t frame_size);
struct xsk_hdr {
	int32_t l3, l4, payload; /* offsets from the frame's data start; -1 if absent */
	int32_t vlan;            /* outer VLAN id, -1 if untagged */
	uint32_t src_ip4, dst_ip4; /* host order; 0 unless IPv4 */
	uint16_t ethertype, src_port, dst_port;
	uint8_t ip_version, proto;
	uint8_t src_ip6[16], dst_ip6[16];
};
void xsk_shim_parse(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
		    uint32_t frame_size, struct xsk_hdr *out);
struct xsk_seqwin {
	uint8_t *bits;    /* mask + 1 entries: bits[c & mask] set when counter c was seen */
	uint64_t mask;
	int64_t highest, lowest; /* lowest < 0: nothing seen yet */
	uint64_t unique, duplicates, reordered, too_late;
};
struct xsk_seqstats {
	struct xsk_seqwin *streams[256];
	uint64_t *hist;          /* nbuckets + 1 counters */
	const double *buckets;   /* ascending bucket edges, microseconds */
	uint32_t nbuckets;
	double lat_min, lat_max;
	uint64_t with_seq;
};
uint32_t xsk_seq_batch(struct xsk_seqstats *st, const uint8_t *area, const uint64_t *addrs,
		       const uint32_t *lens, uint32_t n, uint32_t frame_size, int64_t now_ns,
		       uint32_t start, int32_t *missing);

#endif
