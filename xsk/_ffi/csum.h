/* UDP/TCP checksums of received or rewritten frames over IPv4 and IPv6: verified (xsk.headers,
 * the sink's counts), recomputed in place, and a payload replaced with the frame made whole again
 * (lengths and checksums: xsk.replies). Frames are parsed with parse.h; nothing outside a frame's
 * room in the UMEM is read or written. Callers pass frames they own.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_CSUM_H
#define XSK_CSUM_H

#include <stdint.h>
#include <string.h>

#include "parse.h"

/* XSK_CDEF_BEGIN */
/* L4 checksum states (xsk_pkt_parse_verified). */
#define XSK_CSUM_NONE 0    /* no UDP/TCP header, or UDP over IPv4 sent without a checksum (0) */
#define XSK_CSUM_OK 1      /* valid */
#define XSK_CSUM_PARTIAL 2 /* only the pseudo-header sum: the sender left the rest to checksum offload */
#define XSK_CSUM_BAD 3     /* wrong, or the datagram runs past the frame */
/* xsk_pkt_l4_csum_fix's state for frames whose checksum field holds exactly their pseudo-header
 * sum (what a local sender with checksum offload leaves), found without summing the datagram. */
#define XSK_FIX_LOOKS_PARTIAL -2
/* out[i] = xsk_pkt_parse's record of frame i, with out[i].l4_csum = the XSK_CSUM_* state of its
 * UDP or TCP checksum over IPv4 or IPv6, summed over the length the IP header gives. Frames
 * whose room in the UMEM does not hold that length are XSK_CSUM_BAD; nothing outside a frame's
 * room is read. One pass: each frame is summed while its header is still in cache. */
void xsk_pkt_parse_verified(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
			    uint64_t area_size, uint32_t frame_size, struct xsk_hdr *out);
/* counts[state] += the frames of each XSK_CSUM_* state, parsing each frame's headers on the
 * way (no header records): what a receiver that only counts needs. */
void xsk_pkt_l4_csum_count(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
			   uint64_t area_size, uint32_t frame_size, uint64_t counts[4]);
/* Recompute the UDP/TCP checksum of frame i in place where where[i] (NULL: every frame), and
 * h[i].l4_csum == state when state >= 0 (XSK_FIX_LOOKS_PARTIAL: its checksum field equals its
 * pseudo-header sum; -1: any state), and its datagram lies inside the frame (frames without
 * UDP/TCP are left alone). Returns how many were written. */
int xsk_pkt_l4_csum_fix(uint8_t *area, const uint64_t *addrs, const uint32_t *lens, const struct xsk_hdr *h,
			const uint8_t *where, int state, uint32_t n, uint64_t area_size, uint32_t frame_size);

/* Replace the UDP/TCP payload of the k-th frame where where[i] (NULL: every frame) with the
 * k-th of the payloads that lie back to back in the data_len bytes at data: sizes[k] bytes
 * each, or width bytes each when sizes is NULL (the rows of one array). Make the frame whole
 * again: lens[i], the IPv4 total length and header checksum or the IPv6 payload length, the
 * UDP length, and the UDP/TCP checksum recomputed (h[i].l4_csum becomes XSK_CSUM_OK).
 * Everything is checked first: on failure nothing changed and the result is -1 - i for the
 * first frame that has no UDP/TCP payload, is not IPv4/IPv6, or whose new length does not fit
 * its room, or XSK_PAYLOAD_SIZES_WRONG if the sizes do not add up to data_len. Else 0. */
#define XSK_PAYLOAD_SIZES_WRONG 1
int xsk_pkt_set_payload(uint8_t *area, const uint64_t *addrs, uint32_t *lens, struct xsk_hdr *h,
			const uint8_t *where, uint32_t n, const uint8_t *data, uint64_t data_len,
			const uint32_t *sizes, uint32_t width, uint64_t area_size, uint32_t frame_size);
/* XSK_CDEF_END */

#endif
