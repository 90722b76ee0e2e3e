/* AF_XDP TX metadata (see txmd.h): requests written in front of frames, the completion log,
 * libxdp's UMEM registration with tx_metadata_len, and the stand-in kernel's side of it. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "parse.h"
#include "txmd.h"

#ifndef XSK_LIBXDP_VERSION
#define XSK_LIBXDP_VERSION "unknown"
#endif

/* Ours is the kernel's layout; where the installed headers have the kernel's struct (6.8+),
 * it must agree with it field for field (6.15+'s also has launch_time, at our offset). */
#ifdef XSK_UAPI_TX_METADATA
_Static_assert(offsetof(struct xsk_tx_metadata, request.csum_start) == offsetof(struct xsk_txmd, request.csum_start),
	       "csum_start");
_Static_assert(offsetof(struct xsk_tx_metadata, request.csum_offset) ==
		       offsetof(struct xsk_txmd, request.csum_offset), "csum_offset");
_Static_assert(offsetof(struct xsk_tx_metadata, completion.tx_timestamp) ==
		       offsetof(struct xsk_txmd, completion.tx_timestamp), "tx_timestamp");
_Static_assert(sizeof(struct xsk_tx_metadata) <= XSK_TX_METADATA_LEN, "the headers' struct fits the area");
#endif
_Static_assert(sizeof(struct xsk_txmd) == XSK_TX_METADATA_LEN, "struct xsk_txmd is the 6.15+ layout");
_Static_assert(offsetof(struct xsk_txmd, request.csum_start) == 8, "csum_start after the flags");
_Static_assert(offsetof(struct xsk_txmd, request.csum_offset) == 10, "csum_offset after csum_start");
_Static_assert(offsetof(struct xsk_txmd, request.launch_time) == 16, "launch_time after 4 bytes of padding");
_Static_assert(offsetof(struct xsk_txmd, completion.tx_timestamp) == 8, "tx_timestamp after the flags");

const char *xsk_txmd_libxdp_version(void)
{
	return XSK_LIBXDP_VERSION;
}

int xsk_txmd_umem_create(struct xsk_umem **umem, void *area, uint64_t size, struct xsk_ring_prod *fill,
			 struct xsk_ring_cons *comp, const struct xsk_umem_config *config,
			 uint32_t tx_metadata_len)
{
#if XSK_HAVE_TX_METADATA
	struct xsk_umem_opts opts;
	memset(&opts, 0, sizeof(opts)); /* libxdp's OPTS_VALID wants every byte it does not know 0 */
	opts.sz = sizeof(opts);
	opts.size = size;
	opts.fill_size = config->fill_size;
	opts.comp_size = config->comp_size;
	opts.frame_size = config->frame_size;
	opts.frame_headroom = config->frame_headroom;
	/* 6.11+ reads tx_metadata_len only with this flag; 6.8-6.10 know no such flag and say
	 * EINVAL, which Python reports as a kernel too old (it needs 6.8+ in any case). */
	opts.flags = config->flags | XDP_UMEM_TX_METADATA_LEN;
	opts.tx_metadata_len = tx_metadata_len;
	struct xsk_umem *u = xsk_umem__create_opts(area, fill, comp, &opts);
	if (!u)
		return errno ? -errno : -EINVAL; /* *_opts calls return NULL and set errno */
	*umem = u;
	return 0;
#else
	(void)umem, (void)area, (void)size, (void)fill, (void)comp, (void)config, (void)tx_metadata_len;
	return -EOPNOTSUPP;
#endif
}

/* --- requests ---------------------------------------------------------------------------------- */

static uint32_t rd16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

/* The folded (not complemented) one's-complement sum of len bytes at p plus acc: what a
 * CHECKSUM_PARTIAL field holds before the device adds the rest. Big-endian words. */
static uint32_t sum16(const uint8_t *p, uint32_t len, uint64_t acc)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		acc += rd16(p + i);
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint32_t)acc;
}

/* The frame's UDP/TCP checksum for the device to finish: 0 with *start (the L4 header's offset),
 * *offset (the field's, from there) and *pseudo (the pseudo-header sum to seed it with), or -1
 * when it has no UDP/TCP over IPv4/IPv6 whose header and checksum field lie inside len. The
 * pseudo-header length is the IP header's (the device sums to the frame's end: padding after
 * the datagram must be zeros). */
static int l4_checksum(const uint8_t *f, uint32_t len, uint32_t room, uint16_t *start, uint16_t *offset,
		       uint32_t *pseudo)
{
	struct xsk_hdr h;
	uint32_t l4len;
	xsk_parse_frame(f, len, room, &h);
	if (h.l4 < 0 || (h.proto != 17 && h.proto != 6))
		return -1;
	uint32_t l3 = (uint32_t)h.l3, l4 = (uint32_t)h.l4, field = h.proto == 17 ? 6 : 16;
	if (l4 + field + 2 > len || l4 > UINT16_MAX)
		return -1;
	if (h.ip_version == 4) {
		uint32_t total = rd16(f + l3 + 2);
		if (total < l4 - l3)
			return -1;
		l4len = total - (l4 - l3);
		*pseudo = sum16(f + l3 + 12, 8, (uint64_t)h.proto + l4len);
	} else if (h.ip_version == 6) {
		l4len = rd16(f + l3 + 4);
		*pseudo = sum16(f + l3 + 8, 32, (uint64_t)h.proto + l4len);
	} else {
		return -1;
	}
	*start = (uint16_t)l4;
	*offset = (uint16_t)field;
	return 0;
}

/* Is frame i's request acceptable? Fills in its checksum place (and pseudo-header sum for L4). */
static int check_one(const uint8_t *area, uint64_t area_size, uint32_t frame_size, uint32_t md_len, uint64_t a,
		     uint32_t len, int csum, uint16_t start, uint16_t offset, uint16_t *s, uint16_t *o, uint32_t *pseudo)
{
	uint32_t off;
	if (a >= area_size || (off = xsk_frame_offset(a, frame_size)) < md_len || len == 0 || off + len > frame_size)
		return XSK_TXMD_ERR_ROOM;
	if (csum == XSK_TXMD_CSUM_L4)
		return l4_checksum(area + a, len, frame_size - off, s, o, pseudo) ? XSK_TXMD_ERR_NO_L4 : 0;
	*s = start;
	*o = offset;
	if (csum == XSK_TXMD_CSUM_GIVEN && (uint32_t)start + offset + 2 > len)
		return XSK_TXMD_ERR_CSUM;
	return 0;
}

int xsk_txmd_request(uint8_t *area, uint64_t area_size, uint32_t frame_size, uint32_t md_len,
		     const uint64_t *addrs, const uint32_t *lens, uint32_t *opts, uint32_t n, int timestamp,
		     int csum, const uint16_t *csum_start, const uint16_t *csum_offset, int per_frame,
		     uint32_t *bad)
{
	const uint64_t flags = (timestamp ? XDP_TXMD_FLAGS_TIMESTAMP : 0) |
			       (csum != XSK_TXMD_CSUM_NONE ? XDP_TXMD_FLAGS_CHECKSUM : 0);
	uint16_t s = 0, o = 0;
	uint32_t pseudo = 0;
	if (!flags) {
		for (uint32_t i = 0; i < n; i++)
			opts[i] &= ~(uint32_t)XDP_TX_METADATA;
		return 0;
	}
	/* everything checked before anything is written: a refused batch is left as it was */
	for (uint32_t i = 0; i < n; i++) {
		if (i && (opts[i - 1] & XDP_PKT_CONTD))
			continue; /* a later fragment: only a packet's first descriptor carries metadata */
		uint32_t j = per_frame ? i : 0;
		int err = check_one(area, area_size, frame_size, md_len, addrs[i], lens[i], csum,
				    csum_start ? csum_start[j] : 0, csum_offset ? csum_offset[j] : 0, &s, &o, &pseudo);
		if (err) {
			*bad = i;
			return err;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		if (i && (opts[i - 1] & XDP_PKT_CONTD))
			continue;
		uint32_t j = per_frame ? i : 0;
		check_one(area, area_size, frame_size, md_len, addrs[i], lens[i], csum, csum_start ? csum_start[j] : 0,
			  csum_offset ? csum_offset[j] : 0, &s, &o, &pseudo);
		struct xsk_txmd *m = (struct xsk_txmd *)(area + addrs[i] - md_len);
		memset(m, 0, sizeof(*m)); /* also what a timestamp the driver never writes reads as: 0 */
		m->flags = flags;
		if (csum != XSK_TXMD_CSUM_NONE) {
			m->request.csum_start = s;
			m->request.csum_offset = o;
		}
		if (csum == XSK_TXMD_CSUM_L4) {
			uint8_t *field = area + addrs[i] + s + o;
			field[0] = (uint8_t)(pseudo >> 8);
			field[1] = (uint8_t)pseudo;
		}
		opts[i] |= XDP_TX_METADATA;
	}
	return 0;
}

/* --- the completion log ------------------------------------------------------------------------- */

static uint32_t read_log(struct xsk_txmd_log *log, uint64_t *addrs, uint64_t *ns, uint32_t max, uint64_t *lost)
{
	uint64_t have = log->written - log->read;
	if (have > log->cap) { /* overwritten before they were read */
		*lost += have - log->cap;
		log->read = log->written - log->cap;
		have = log->cap;
	}
	uint32_t k = have < max ? (uint32_t)have : max;
	for (uint32_t i = 0; i < k; i++) {
		uint64_t at = (log->read + i) & (log->cap - 1);
		addrs[i] = log->addrs[at];
		ns[i] = log->ns[at];
	}
	log->read += k;
	return k;
}

uint32_t xsk_txmd_read(struct xsk_ledger *l, struct xsk_txmd_log *log, uint64_t *addrs, uint64_t *ns,
		       uint32_t max, uint64_t *lost)
{
	return XSK_LOCKED(l, read_log(log, addrs, ns, max, lost));
}

/* --- the stand-in kernel ------------------------------------------------------------------------- */

uint32_t xsk_txmd_standin_tx(struct xsk_ring_prod *tx, struct xsk_txmd_log *log)
{
	uint32_t served = 0, end = __atomic_load_n(tx->producer, __ATOMIC_ACQUIRE);
	const struct xdp_desc *descs = tx->ring;
	struct timespec now;
	for (uint32_t c = *tx->consumer; c != end; c++) {
		const struct xdp_desc *d = &descs[c & tx->mask];
		if (!(d->options & XDP_TX_METADATA))
			continue;
		uint8_t *data = log->area + d->addr;
		struct xsk_txmd *m = (struct xsk_txmd *)(data - log->md_len);
		if (m->flags & XDP_TXMD_FLAGS_CHECKSUM) { /* skb_checksum_help: from csum_start to the end */
			uint32_t s = m->request.csum_start, at = s + m->request.csum_offset;
			if (at + 2 <= d->len) {
				uint16_t v = (uint16_t)~sum16(data + s, d->len - s, 0);
				data[at] = (uint8_t)(v >> 8);
				data[at + 1] = (uint8_t)v;
			}
		}
		if (m->flags & XDP_TXMD_FLAGS_TIMESTAMP) { /* copy mode's: ktime_get_tai_fast_ns() */
			clock_gettime(CLOCK_TAI, &now);
			m->completion.tx_timestamp = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
		}
		served++;
	}
	return served;
}
