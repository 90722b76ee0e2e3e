/* What the redirect program (bpf/xsk_redirect.c, built with clang -target bpf) shares with
 * Python: the value types of its maps (per-queue steering rules and configuration) and the RX
 * metadata area it writes in front of a frame (xsk_redirect_md). Declared once, here: the BPF
 * program includes this header, and cffi declares the same structs (xsk.filter packs a rule
 * into a struct xsk_rule). Only <linux/types.h> types, so both compilers take it as it is.
 *
 * No C unit goes with it (build.py's HEADERS). The part between XSK_CDEF_BEGIN and
 * XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_REDIRECT_H
#define XSK_REDIRECT_H

#include <linux/types.h>

/* XSK_CDEF_BEGIN */
#define XSK_MAX_QUEUES 256
#define XSK_MAX_RULES 16   /* rules per queue */
#define XSK_HITS 17        /* counters per queue: one per rule, then the frames passed on */

#define XSK_RULE_DST_IP4 1 /* match the destination IPv4 address */
#define XSK_RULE_DST_IP6 2 /* match the destination IPv6 address */

/* One steering rule (xsk_rules[q * XSK_MAX_RULES + i]): every field that is set must match. */
struct xsk_rule {
	__u16 ethertype;  /* host order; 0: any */
	__u8 ip_proto;    /* 0: any */
	__u8 flags;       /* XSK_RULE_DST_IP4 / XSK_RULE_DST_IP6: match the destination address */
	__u16 dport_lo;   /* host order; dport_lo == dport_hi == 0: any port */
	__u16 dport_hi;
	__u32 dst_ip4;    /* network order */
	__u32 dst_ip6[4]; /* network order */
};

struct xsk_config { /* per queue */
	__u32 nrules;
	__u32 owner; /* pid of the xsk process whose socket is bound to the queue (0: none); for messages */
};

/* RX metadata (xsk_redirect_md): xsk_rx_meta.valid says which fields hold the driver's hints. */
#define XSK_META_TIMESTAMP 1
#define XSK_META_HASH 2
#define XSK_META_VLAN 4
#define XSK_META_MAGIC 0x5848 /* "XH": this program wrote the area, not a stale frame's */

struct xsk_rx_meta { /* 24 bytes right before the frame's data; the layout xsk.rxmeta reads */
	__u64 timestamp;  /* the device's RX timestamp, ns (valid: XSK_META_TIMESTAMP) */
	__u32 hash;       /* the RX hash (valid: XSK_META_HASH) */
	__u32 hash_type;  /* enum xdp_rss_hash_type: which headers the hash covered */
	__u16 vlan_proto; /* network order, as the kfunc gives it (valid: XSK_META_VLAN) */
	__u16 vlan_tci;   /* host order */
	__u16 valid;
	__u16 magic;
};
/* XSK_CDEF_END */

_Static_assert(XSK_HITS == XSK_MAX_RULES + 1, "a hit counter per rule, then the frames passed on");

#endif
