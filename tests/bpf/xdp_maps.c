// SPDX-License-Identifier: GPL-2.0
/* For the XDP test harness's own tests: one map of each common kind, BTF-typed keys and values
 * (a struct key, a struct value with a char array, an enum), a map declared without BTF types,
 * and globals in .data, .bss and .rodata. Every packet counts in counters[0]; a packet passes
 * while seen < limit, then drops. flows[{proto 17, ...}] gets the packet's length added. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct flow {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
};

struct stats {
	__u64 packets;
	__u64 bytes;
	char label[8];
};

enum colour { RED = 1, GREEN = 2, BLUE = 4 };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct flow);
	__type(value, struct stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, enum colour);
} colours SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __s64);
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8);
	__type(key, __u16);
	__type(value, __u32);
} by_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__uint(key_size, 4);
	__uint(value_size, 8);
} untyped SEC(".maps");

enum sign { MINUS = -1, ZERO = 0, PLUS = 1 };

struct odd {
	int small : 4;
	unsigned int flag : 1;
	union {
		__u32 word;
		__u8 bytes[4];
	} u;
	enum sign s;
	_Bool on;
};

struct odd odd;
int mode = 3;
__u64 seen;
struct stats totals;
const volatile __u32 limit = 10;

SEC("xdp")
int xdp_maps(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&counters, &zero);
	struct flow key = { .proto = 17 };
	struct stats *st = bpf_map_lookup_elem(&flows, &key);

	if (n)
		(*n)++;
	if (st) {
		st->packets++;
		st->bytes += ctx->data_end - ctx->data;
	}
	totals.packets++;
	odd.small = -2;
	if (++seen > limit)
		return XDP_DROP;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
