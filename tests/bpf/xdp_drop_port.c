// SPDX-License-Identifier: GPL-2.0
/* A planted fault for loss tests: drop IPv4 UDP frames to port 9001, pass everything else to
 * the stack (no XSKMAP: attach it with xskmap=None, e.g. on a router's ingress). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define DROP_PORT 9001

SEC("xdp")
int xdp_drop_port(struct xdp_md *ctx)
{
	unsigned char *p = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;

	if (p + 14 + 20 + 8 > end)
		return XDP_PASS;
	if (p[12] != 0x08 || p[13] != 0x00 || p[14] != 0x45 || p[14 + 9] != 17)
		return XDP_PASS; /* IPv4 without options, UDP: the frames the test sends */
	if (p[14 + 20 + 2] == (DROP_PORT >> 8) && p[14 + 20 + 3] == (DROP_PORT & 0xff))
		return XDP_DROP;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
