// SPDX-License-Identifier: GPL-2.0
/* For the XDP test harness's own tests: a program that includes <linux/if.h>, <linux/icmp.h>
 * and <linux/tcp.h>, whose includes reach glibc's <sys/socket.h> and gnu/stubs.h (compile_bpf
 * must find the host's headers for that), and keys maps by addresses as the packet holds them.
 * Drops: packets from an address in blocked_v4 (key: ip->saddr, network byte order) or
 * blocked_v6 (key: struct in6_addr), counting in the map's value; ICMP echo requests (counted
 * in echoes); TCP SYNs to TCP_PORT (-DTCP_PORT=..., default 22; counted in syns). The rest
 * passes. */
#include <linux/bpf.h>
#include <linux/if.h>    /* IFNAMSIZ; includes glibc's <sys/socket.h> */
#include <linux/icmp.h>  /* struct icmphdr, ICMP_ECHO */
#include <linux/tcp.h>   /* struct tcphdr */
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef TCP_PORT
#define TCP_PORT 22
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);  /* ip->saddr as the packet holds it: network byte order */
	__type(value, __u32);
} blocked_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, struct in6_addr);
	__type(value, __u32);
} blocked_v6 SEC(".maps");

char ifname[IFNAMSIZ] = "harness";
__u64 echoes = 0, syns = 0;

SEC("xdp")
int system_headers(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6;
	struct icmphdr *icmp;
	struct tcphdr *tcp;
	struct iphdr *ip;
	__u32 *hits;

	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		hits = bpf_map_lookup_elem(&blocked_v6, &ip6->saddr);
		if (!hits)
			return XDP_PASS;
		__sync_fetch_and_add(hits, 1);
		return XDP_DROP;
	}
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl != 5)
		return XDP_PASS;
	hits = bpf_map_lookup_elem(&blocked_v4, &ip->saddr);
	if (hits) {
		__sync_fetch_and_add(hits, 1);
		return XDP_DROP;
	}
	if (ip->protocol == IPPROTO_ICMP) {
		icmp = (void *)(ip + 1);
		if ((void *)(icmp + 1) <= end && icmp->type == ICMP_ECHO) {
			echoes++;
			return XDP_DROP;
		}
	} else if (ip->protocol == IPPROTO_TCP) {
		tcp = (void *)(ip + 1);
		if ((void *)(tcp + 1) <= end && tcp->syn && !tcp->ack && tcp->dest == bpf_htons(TCP_PORT)) {
			syns++;
			return XDP_DROP;
		}
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
