// SPDX-License-Identifier: GPL-2.0
/* A program the verifier must refuse: it reads the packet without checking its length. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int unchecked_read(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;

	return data[12] == 0x08 ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
