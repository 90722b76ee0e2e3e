// SPDX-License-Identifier: GPL-2.0
/* An IPv4 forwarder in XDP: a packet arriving on interface i leaves by egress[i] with the MAC
 * addresses of next_hops[i] (the egress interface's own as source, the next hop's as
 * destination), its TTL lowered by one and the IP checksum fixed, without the kernel stack.
 * What it has no route for, ARP, and packets whose TTL would run out pass to the kernel
 * (which answers ARP and sends ICMP time-exceeded).
 *
 * Maps (keys are ingress interface indexes):
 *   egress     devmap hash  ingress ifindex -> egress ifindex
 *   next_hops  hash         ingress ifindex -> struct next_hop { src MAC, dst MAC }
 * Globals: forwarded (.bss) counts the packets it redirected. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct next_hop {
	unsigned char src[ETH_ALEN];
	unsigned char dst[ETH_ALEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} egress SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct next_hop);
} next_hops SEC(".maps");

__u64 forwarded = 0;

/* RFC 1624: the checksum after one 16-bit word of the summed data changed from old to new. */
static __always_inline __sum16 csum_replace(__sum16 check, __be16 old, __be16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + (__u16)new;

	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = (sum & 0xFFFF) + (sum >> 16);
	return (__sum16)~sum;
}

SEC("xdp")
int forwarder(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct next_hop *hop;
	struct iphdr *ip;
	__u32 in = ctx->ingress_ifindex;
	__be16 old;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ttl <= 1)
		return XDP_PASS;
	hop = bpf_map_lookup_elem(&next_hops, &in);
	if (!hop || !bpf_map_lookup_elem(&egress, &in))
		return XDP_PASS;
	old = *(__be16 *)&ip->ttl;  /* TTL and protocol as one word */
	ip->ttl--;
	ip->check = csum_replace(ip->check, old, *(__be16 *)&ip->ttl);
	__builtin_memcpy(eth->h_source, hop->src, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, hop->dst, ETH_ALEN);
	__sync_fetch_and_add(&forwarded, 1);
	return bpf_redirect_map(&egress, in, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
