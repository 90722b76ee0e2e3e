// SPDX-License-Identifier: GPL-2.0
/* Answer ICMP echo requests (IPv4) from XDP: the request becomes its reply in place (MACs and
 * addresses swapped, type 8 -> 0, the ICMP checksum fixed incrementally) and goes back out of
 * the interface it came in on with XDP_TX. Everything else passes to the kernel stack.
 *
 * Globals: address (.rodata, network byte order; 0 answers for any address) set before
 * loading; answered (.bss) counts the replies. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8

struct icmphdr {  /* <linux/icmp.h> pulls in libc's headers, which a BPF target has not */
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};

const volatile __be32 address = 0;
__u64 answered = 0;

/* RFC 1624: the checksum after one 16-bit word of the summed data changed from old to new. */
static __always_inline __sum16 csum_replace(__sum16 check, __be16 old, __be16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + (__u16)new;

	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = (sum & 0xFFFF) + (sum >> 16);
	return (__sum16)~sum;
}

SEC("xdp")
int icmp_echo(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct icmphdr *icmp;
	unsigned char mac[ETH_ALEN];
	__be32 peer;
	__be16 old;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_ICMP)
		return XDP_PASS;
	if (ip->frag_off & bpf_htons(0x3FFF))  /* a fragment: leave it to the kernel */
		return XDP_PASS;
	if (address && ip->daddr != address)
		return XDP_PASS;
	icmp = (void *)(ip + 1);
	if ((void *)(icmp + 1) > end || icmp->type != ICMP_ECHO || icmp->code != 0)
		return XDP_PASS;

	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	peer = ip->saddr;  /* swapping addresses leaves the IP header checksum as it was */
	ip->saddr = ip->daddr;
	ip->daddr = peer;
	old = *(__be16 *)icmp;  /* type and code as one word */
	icmp->type = ICMP_ECHOREPLY;
	icmp->checksum = csum_replace(icmp->checksum, old, *(__be16 *)icmp);
	__sync_fetch_and_add(&answered, 1);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
