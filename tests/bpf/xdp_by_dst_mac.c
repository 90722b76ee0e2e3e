// SPDX-License-Identifier: GPL-2.0
/* Conformance test program (xskxceiver's XDP_SHARED_UMEM): pick the socket by destination
 * MAC address: xsks_map[last byte of the destination MAC & 1]. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

SEC("xdp")
int xdp_by_dst_mac(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	return bpf_redirect_map(&xsks_map, eth->h_dest[ETH_ALEN - 1] & 1, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
