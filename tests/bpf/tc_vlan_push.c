// SPDX-License-Identifier: GPL-2.0
/* tc egress: give every frame an accelerated VLAN tag (id 100, priority 5), as a VLAN device
 * on a NIC with VLAN offload does; this kernel has neither 8021q nor act_vlan. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int push_vlan(struct __sk_buff *skb)
{
	bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 100 | (5 << 13));
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
