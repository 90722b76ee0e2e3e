/* The multi-stream generator's scheduler (xsk.traffic.mix): which stream's packet goes into
 * each frame of a batch, frame by frame in proportion to the streams' rates, and the frame
 * itself (the stream's template copied in when the frame last held another's, then its
 * fields, sequence header, length and checksums patched by patch.c). Callers pass frames
 * they own; nothing here touches the ledger or the rings.
 *
 * Time is the run's clock in ns from its start (the caller's monotonic clock). Stream s's
 * packet k is due at start_ns + k * interval_ns; a stream behind its schedule catches up at
 * most at catch_up times its rate (a token bucket `depth` deep), as xsk.traffic.pacer does.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_MIX_H
#define XSK_MIX_H

#include <stdint.h>

#include "patch.h"

/* XSK_CDEF_BEGIN */
#define XSK_MIX_NEVER 0x7fffffffffffffff
/* A stream of a capture's frames (xsk.traffic._pcapstream): packet k is row k % nsizes, copied
 * whole at its length (sizes[row]); with seq_at, its sequence header written and its UDP/TCP
 * checksum fixed from the row's base sum (RFC 1624). */
struct xsk_mix_rows {
	const uint8_t *frames;  /* nsizes rows of stride bytes */
	uint32_t stride;
	const int32_t *seq_at;  /* per row: offset of the 16 bytes of counter and time (NULL: no header) */
	const int32_t *csum_at; /* per row: the UDP/TCP checksum to fix, -1: none */
	const uint64_t *base;   /* per row: the segment's sum with those 16 bytes and the checksum zeroed */
	const uint8_t *udp;     /* per row: 1 when a computed 0 goes out as 0xffff */
};
struct xsk_mix_stream {
	struct xsk_patch_plan *plan; /* the template's patcher (NULL for a rows stream) */
	const struct xsk_mix_rows *rows; /* a capture's frames instead of a template (NULL: none) */
	const uint8_t *frame;      /* the template, zero-padded to the stream's largest size */
	uint32_t frame_len;        /* its length: what is copied into a UMEM frame */
	const uint32_t *sizes;     /* frame lengths, walked in order (or drawn when sizes_random) */
	uint32_t nsizes;
	uint32_t sizes_random;
	uint32_t id;               /* the sequence header's stream byte */
	uint64_t sent;             /* packets given out */
	uint64_t seq0;             /* the first packet's number: packet k has sequence number (and
				    * field values of) seq0 + k */
	uint64_t limit;            /* most packets to give out (UINT64_MAX: no limit) */
	uint64_t bytes;            /* bytes of the frames given out */
	int64_t start_ns, stop_ns; /* the stream sends in [start_ns, stop_ns) */
	double interval_ns;        /* 1e9 / packets per second; 0: as fast as the path takes them */
	double tokens, depth, catch_up;
	int64_t refilled_ns;
	int64_t first_ns, last_ns; /* when the first and the latest packet were given out */
	uint64_t rng;              /* xorshift64 state for sizes_random, never 0 */
	/* Multi-burst: packets in bursts of burst_len (0: no bursts), a gap of gap_ns between two
	 * (on top of the stream's spacing): packet k is due at start_ns + k * interval_ns +
	 * (k / burst_len) * gap_ns. An unpaced stream's burst is due whole at its start. */
	uint64_t burst_len;
	int64_t gap_ns;
	/* Chained: the stream waits (start_ns = XSK_MIX_NEVER) until stream `after` has finished;
	 * xsk_mix_due then starts it delay_ns later, with stop_ns = start_ns + length_ns (length_ns
	 * < 0: no duration) and after = -1. `held` (a paused stream) keeps it waiting. */
	int32_t after;
	uint32_t held;
	int64_t delay_ns, length_ns;
};
struct xsk_mix {
	struct xsk_mix_stream *streams;
	uint32_t nstreams;
	uint32_t frame_size;
	uint16_t *tags; /* per UMEM frame: 1 + the stream whose template it holds, 0: none */
	uint64_t nframes;
	uint8_t *which; /* per frame of the last fill: the stream's index */
	uint32_t *lens; /* per frame of the last fill: its length */
	uint32_t cap;   /* the most frames one fill takes */
	/* Streams controlled while they run (xsk.traffic._control): a counter another process bumps
	 * after writing a command (NULL: none). While it differs from ctl_seen, xsk_mix_due says
	 * nothing is due, so the caller applies the commands (and sets ctl_seen) before the next
	 * fill. One load per due call, nothing per frame. Ordering: the writer stores the command,
	 * then the counter; on x86 (TSO) plain stores and loads keep that order; elsewhere the
	 * writer needs a release store and this load an acquire (untested there). */
	const volatile int64_t *ctl_version;
	int64_t ctl_seen;
};
/* How many packets are due at now_ns (at most n): what xsk_mix_fill would fill; 0 while a
 * control command waits to be applied (*ctl_version != ctl_seen). Chained streams whose
 * predecessor has finished are started here, before anything of theirs is filled: frames the
 * socket did not take were given back (xsk_mix_unsend) before this call, so a successor's first
 * packet always follows its predecessor's last onto the TX ring. */
uint32_t xsk_mix_due(struct xsk_mix *m, int64_t now_ns, uint32_t n);
/* Fill up to n (<= cap) frames (addrs, which the caller owns) with the packets due at now_ns,
 * earliest due first; paced streams before unpaced ones, which share what is left in turn.
 * lens[i] is set for each frame filled (and m->which, m->lens remember the fill); ts_ns goes
 * into the sequence headers. Returns how many frames were filled (the first ones of addrs). */
uint32_t xsk_mix_fill(struct xsk_mix *m, uint8_t *area, const uint64_t *addrs, uint32_t *lens, uint32_t n,
		      int64_t now_ns, uint64_t ts_ns);
/* Frames from..n-1 of the last fill were not sent: give their packets back, so the next fill
 * sends the same sequence numbers (they stay dense per stream). */
void xsk_mix_unsend(struct xsk_mix *m, uint32_t from, uint32_t n);
/* When the next packet can be due (>= now_ns), or -1 when every stream has finished (a chained
 * stream waiting for a predecessor that has finished counts as due now: xsk_mix_due starts it). */
int64_t xsk_mix_next_ns(const struct xsk_mix *m, int64_t now_ns);
/* XSK_CDEF_END */

#endif
