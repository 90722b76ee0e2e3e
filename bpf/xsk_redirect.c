// SPDX-License-Identifier: GPL-2.0
/* Steer frames arriving on an RX queue to the AF_XDP socket bound to that queue.
 *
 * xsks_map is indexed by rx_queue_index; Python puts a socket's fd there after binding.
 * With no rules configured every frame is redirected; with rules, only frames matching
 * one of them are, and everything else goes on to the kernel stack (XDP_PASS). When no
 * socket is bound to the queue the redirect fails and its low bits give XDP_PASS, so the
 * frame still reaches the kernel stack untouched.
 *
 * Rules are per queue, so the processes that share the program (one per queue, each with
 * its own filter) never see each other's: queue q's rules are xsk_rules[q * XSK_MAX_RULES
 * + i] for i < xsk_config[q].nrules, changed from user space at any time without
 * re-attaching. xsk_hits[q * XSK_HITS + i] counts matches per rule, and slot XSK_MAX_RULES
 * of the queue the frames passed to the stack.
 *
 * Built a second time as xsk_redirect_md (xsk_redirect_md.c defines XSK_RX_META): before a
 * frame goes to its socket, the driver's RX hints (hash, hardware timestamp, VLAN tag) are
 * read with the metadata kfuncs and written into the metadata area just before the frame's
 * data, which AF_XDP copies into the UMEM with it (struct xsk_rx_meta, read by xsk.rxmeta).
 * Such a program calls kfuncs of one driver, so it is loaded device-bound and attached natively.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "redirect.h" /* struct xsk_rule, xsk_config, xsk_rx_meta: shared with Python (xsk/_ffi) */

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XSK_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XSK_MAX_QUEUES * XSK_MAX_RULES);
	__type(key, __u32);
	__type(value, struct xsk_rule);
} xsk_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XSK_MAX_QUEUES);
	__type(key, __u32);
	__type(value, struct xsk_config);
} xsk_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XSK_MAX_QUEUES * XSK_HITS);
	__type(key, __u32);
	__type(value, __u64);
} xsk_hits SEC(".maps");

#ifdef XSK_RX_META
enum xdp_rss_hash_type { XDP_RSS_TYPE_NONE = 0 }; /* the kernel's enum; only the name must agree */

extern int bpf_xdp_metadata_rx_timestamp(const struct xdp_md *ctx, __u64 *timestamp) __ksym;
extern int bpf_xdp_metadata_rx_hash(const struct xdp_md *ctx, __u32 *hash,
				    enum xdp_rss_hash_type *rss_type) __ksym;
/* Linux 6.8+: weak, so the program still loads on 6.3-6.7 and reports no VLAN tags there */
extern int bpf_xdp_metadata_rx_vlan_tag(const struct xdp_md *ctx, __be16 *vlan_proto,
					__u16 *vlan_tci) __ksym __weak;

static __always_inline void write_meta(struct xdp_md *ctx)
{
	struct xsk_rx_meta *m;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return; /* no room or no metadata support: the socket sees no magic */
	m = (void *)(long)ctx->data_meta;
	if ((void *)(m + 1) > (void *)(long)ctx->data)
		return;
	m->valid = 0;
	m->timestamp = 0;
	m->hash = 0;
	m->hash_type = 0;
	m->vlan_proto = 0;
	m->vlan_tci = 0;
	if (!bpf_xdp_metadata_rx_timestamp(ctx, &m->timestamp))
		m->valid |= XSK_META_TIMESTAMP;
	if (!bpf_xdp_metadata_rx_hash(ctx, &m->hash, (enum xdp_rss_hash_type *)&m->hash_type))
		m->valid |= XSK_META_HASH;
	if (bpf_xdp_metadata_rx_vlan_tag &&
	    !bpf_xdp_metadata_rx_vlan_tag(ctx, (__be16 *)&m->vlan_proto, &m->vlan_tci))
		m->valid |= XSK_META_VLAN;
	m->magic = XSK_META_MAGIC;
}
#endif

static __always_inline int to_socket(struct xdp_md *ctx, __u32 queue)
{
#ifdef XSK_RX_META
	write_meta(ctx);
#endif
	return bpf_redirect_map(&xsks_map, queue, XDP_PASS);
}

struct headers {
	__u16 ethertype;
	__u8 ip_proto;
	__u8 has_ports;
	__u16 dport;
	__u32 dst_ip4;
	__u32 dst_ip6[4];
};

static __always_inline void count(__u32 slot)
{
	__u64 *hits = bpf_map_lookup_elem(&xsk_hits, &slot);
	if (hits)
		*hits += 1;
}

static __always_inline void parse(void *data, void *end, struct headers *h)
{
	struct ethhdr *eth = data;
	void *l3;
	__u16 proto;

	if ((void *)(eth + 1) > end)
		return;
	proto = eth->h_proto;
	l3 = eth + 1;
#pragma unroll
	for (int i = 0; i < 2; i++) { /* up to two VLAN tags (802.1Q, 802.1ad) */
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (l3 + 4 > end)
			return;
		proto = *(__u16 *)(l3 + 2);
		l3 += 4;
	}
	h->ethertype = bpf_ntohs(proto);
	void *l4 = 0;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return;
		h->ip_proto = ip->protocol;
		h->dst_ip4 = ip->daddr;
		if (ip->frag_off & bpf_htons(0x1fff)) /* not the first fragment: no ports */
			return;
		l4 = l3 + ip->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > end)
			return;
		h->ip_proto = ip6->nexthdr;
		h->dst_ip6[0] = ip6->daddr.in6_u.u6_addr32[0];
		h->dst_ip6[1] = ip6->daddr.in6_u.u6_addr32[1];
		h->dst_ip6[2] = ip6->daddr.in6_u.u6_addr32[2];
		h->dst_ip6[3] = ip6->daddr.in6_u.u6_addr32[3];
		l4 = ip6 + 1;
	} else if (proto == bpf_htons(ETH_P_ARP)) {
		/* the target protocol address stands in for the destination: 8-byte header,
		 * then sender MAC, sender IP, target MAC, target IP (Ethernet/IPv4 ARP) */
		if (l3 + 28 > end)
			return;
		h->dst_ip4 = *(__u32 *)(l3 + 24);
		return;
	} else {
		return;
	}
	if (h->ip_proto == IPPROTO_UDP || h->ip_proto == IPPROTO_TCP) {
		if (l4 + 4 > end)
			return;
		h->dport = bpf_ntohs(*(__u16 *)(l4 + 2));
		h->has_ports = 1;
	}
}

static __always_inline int matches(const struct xsk_rule *r, const struct headers *h)
{
	if (r->ethertype && r->ethertype != h->ethertype)
		return 0;
	if (r->ip_proto && r->ip_proto != h->ip_proto)
		return 0;
	if (r->dport_lo || r->dport_hi) {
		if (!h->has_ports || h->dport < r->dport_lo || h->dport > r->dport_hi)
			return 0;
	}
	if ((r->flags & XSK_RULE_DST_IP4) &&
	    ((h->ethertype != ETH_P_IP && h->ethertype != ETH_P_ARP) || r->dst_ip4 != h->dst_ip4))
		return 0;
	if (r->flags & XSK_RULE_DST_IP6) {
		if (h->ethertype != ETH_P_IPV6)
			return 0;
		if ((r->dst_ip6[0] ^ h->dst_ip6[0]) | (r->dst_ip6[1] ^ h->dst_ip6[1]) |
		    (r->dst_ip6[2] ^ h->dst_ip6[2]) | (r->dst_ip6[3] ^ h->dst_ip6[3]))
			return 0;
	}
	return 1;
}

/* xdp.frags: the program copes with multi-buffer frames (it reads only the headers, which
 * are in the first buffer), so jumbo MTUs and multi-buffer sockets work in native mode too. */
#ifndef XSK_PROG_NAME
#define XSK_PROG_NAME xsk_redirect
#endif

SEC("xdp.frags")
int XSK_PROG_NAME(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;
	struct xsk_config *cfg = bpf_map_lookup_elem(&xsk_config, &queue);
	struct headers h = {};

	if (!cfg) /* a queue beyond XSK_MAX_QUEUES: no socket can be there */
		return XDP_PASS;
	if (cfg->nrules == 0)
		return to_socket(ctx, queue);

	__u32 nrules = cfg->nrules;
	int hit = -1;
	parse((void *)(long)ctx->data, (void *)(long)ctx->data_end, &h);
	/* Unrolled, with no early exit, so the verifier sees straight-line code. */
#pragma unroll
	for (__u32 i = 0; i < XSK_MAX_RULES; i++) {
		if (hit < 0 && i < nrules) {
			__u32 key = queue * XSK_MAX_RULES + i;
			struct xsk_rule *r = bpf_map_lookup_elem(&xsk_rules, &key);
			if (r && matches(r, &h))
				hit = i;
		}
	}
	if (hit >= 0) {
		count(queue * XSK_HITS + hit);
		return to_socket(ctx, queue);
	}
	count(queue * XSK_HITS + XSK_MAX_RULES);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
