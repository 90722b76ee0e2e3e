/* In-place rewrites of frames for replies and forwarding (xsk.replies, Socket.forward): MAC,
 * IP and port swaps and a 16-bit word set with its checksum fixed. Each checks every frame
 * first and changes none when one would run outside its room. Callers pass frames they own.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_REWRITE_H
#define XSK_REWRITE_H

#include <stdint.h>
#include <string.h>

#include "parse.h"

/* XSK_CDEF_BEGIN */
/* Swap destination and source MAC in place; -1 (nothing changed) if an address is outside the
 * area or within 12 bytes of its frame's end. */
int xsk_pkt_swap_macs(uint8_t *area, const uint64_t *addrs, uint32_t n, uint64_t area_size,
		      uint32_t frame_size);

/* What xsk_pkt_swap exchanges in each frame. */
#define XSK_SWAP_MACS 1
#define XSK_SWAP_IPS 2   /* IPv4 or IPv6 source and destination, by h[i].ip_version at h[i].l3 */
#define XSK_SWAP_PORTS 4 /* UDP/TCP source and destination at h[i].l4, where a port is set */
/* The swaps of `what` in frame i where where[i] (where NULL: every frame), in place; checksums
 * stay valid (their sums don't depend on order). -1, nothing changed, if a header to swap
 * does not lie inside its frame's room in the UMEM. */
int xsk_pkt_swap(uint8_t *area, const uint64_t *addrs, const struct xsk_hdr *h, const uint8_t *where,
		 uint32_t n, uint64_t area_size, uint32_t frame_size, uint32_t what);

/* Set the big-endian 16-bit word at offsets[i] of frame i to words[i] (to word in every frame
 * when words is NULL) and fix the 16-bit one's-complement checksum at csum_offsets[i] for it
 * (RFC 1624 eqn. 3), where where[i] (NULL: all). -1, nothing changed, if an offset lies
 * outside its frame's room. */
int xsk_pkt_update_word(uint8_t *area, const uint64_t *addrs, const int32_t *offsets,
			const int32_t *csum_offsets, const uint16_t *words, uint16_t word,
			const uint8_t *where, uint32_t n, uint64_t area_size, uint32_t frame_size);
/* XSK_CDEF_END */

/* Exchange the w bytes at p with the w bytes after them (w <= 16): two addresses in a header. */
static inline void xsk_swap_halves(uint8_t *p, uint32_t w)
{
	uint8_t tmp[16];
	memcpy(tmp, p, w);
	memmove(p, p + w, w);
	memcpy(p + w, tmp, w);
}

#endif
