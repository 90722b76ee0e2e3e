// SPDX-License-Identifier: GPL-2.0
/* A port firewall: drop UDP and TCP packets to the destination ports held in blocked_ports,
 * pass everything else to the kernel stack. IPv4 and IPv6, with or without one VLAN tag.
 *
 * Maps (keys are ports in host byte order, so Python writes prog.maps["blocked_ports"][53] = 1):
 *   blocked_ports  hash  port -> 1
 *   dropped        per-CPU hash  port -> packets dropped
 * Globals: passed (.bss) counts what went on; drop_ipv4_fragments (.rodata) drops non-first
 * IPv4 fragments too (they carry no port to check), set before loading. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} blocked_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u64);
} dropped SEC(".maps");

__u64 passed = 0;
const volatile __u8 drop_ipv4_fragments = 0;

static __always_inline int verdict(__u16 port)
{
	__u64 one = 1, *n;

	if (!bpf_map_lookup_elem(&blocked_ports, &port)) {
		__sync_fetch_and_add(&passed, 1);
		return XDP_PASS;
	}
	n = bpf_map_lookup_elem(&dropped, &port);
	if (n)
		*n += 1;
	else
		bpf_map_update_elem(&dropped, &port, &one, BPF_NOEXIST);
	return XDP_DROP;
}

SEC("xdp")
int port_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3;
	__u16 proto;
	__u8 l4proto;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	proto = bpf_ntohs(eth->h_proto);
	l3 = eth + 1;
	if (proto == ETH_P_8021Q) {
		struct vlan_hdr *vlan = l3;

		if ((void *)(vlan + 1) > end)
			return XDP_PASS;
		proto = bpf_ntohs(vlan->proto);
		l3 = vlan + 1;
	}
	if (proto == ETH_P_IP) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return XDP_PASS;
		if (ip->frag_off & bpf_htons(0x1FFF))  /* not the first fragment: no L4 header */
			return drop_ipv4_fragments ? XDP_DROP : XDP_PASS;
		l4proto = ip->protocol;
		l3 = (void *)ip + ip->ihl * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		l4proto = ip6->nexthdr;  /* extension headers are not followed: such packets pass */
		l3 = ip6 + 1;
	} else {
		return XDP_PASS;
	}
	if (l4proto == IPPROTO_UDP) {
		struct udphdr *udp = l3;

		if ((void *)(udp + 1) > end)
			return XDP_PASS;
		return verdict(bpf_ntohs(udp->dest));
	}
	if (l4proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l3;

		if ((void *)(tcp + 1) > end)
			return XDP_PASS;
		return verdict(bpf_ntohs(tcp->dest));
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
