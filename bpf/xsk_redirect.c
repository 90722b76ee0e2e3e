// SPDX-License-Identifier: GPL-2.0
/* Redirect every frame arriving on an RX queue to the AF_XDP socket bound to that queue.
 *
 * xsks_map is indexed by rx_queue_index; Python puts a socket's fd there after binding.
 * When no socket is bound to the queue the redirect fails and its low bits give XDP_PASS,
 * so the frame goes on to the kernel stack untouched.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define XSK_MAX_QUEUES 256

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XSK_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

SEC("xdp")
int xsk_redirect(struct xdp_md *ctx)
{
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
