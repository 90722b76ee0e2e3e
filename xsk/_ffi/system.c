/* Socket and system helpers (see system.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_xdp.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "system.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

int xsk_sys_kick_rx(int fd)
{
	if (recvfrom(fd, NULL, 0, MSG_DONTWAIT, NULL, NULL) >= 0)
		return 0;
	if (errno == EAGAIN || errno == EBUSY || errno == ENOBUFS)
		return 0;
	return -errno;
}

int xsk_sys_statistics(int fd, uint64_t out[6])
{
	struct xdp_statistics st;
	socklen_t len = sizeof(st);
	memset(&st, 0, sizeof(st));
	if (getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &len))
		return -errno;
	out[0] = st.rx_dropped;
	out[1] = st.rx_invalid_descs;
	out[2] = st.tx_invalid_descs;
	out[3] = st.rx_ring_full;
	out[4] = st.rx_fill_ring_empty_descs;
	out[5] = st.tx_ring_empty_descs;
	return 0;
}

int xsk_sys_options(int fd, uint32_t *flags)
{
	struct xdp_options opts = {0};
	socklen_t len = sizeof(opts);
	if (getsockopt(fd, SOL_XDP, XDP_OPTIONS, &opts, &len))
		return -errno;
	*flags = opts.flags;
	return 0;
}

int xsk_sys_sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return errno;
	return err;
}

/* Busy polling: syscalls on the socket run the device's NAPI loop for up to usecs
 * (budget frames per run) instead of waiting for its interrupt. */
int xsk_sys_busy_poll(int fd, int usecs, int budget)
{
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof(usecs)) ||
	    setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget)))
		return -errno;
	return 0;
}

/* A ring's mmap starts at the page holding its lowest field and ends after its descriptors;
 * MADV_DONTFORK on that span keeps a forked child from inheriting the shared ring. */
int xsk_sys_ring_dontfork(const void *ring_struct, uint32_t desc_size)
{
	const struct xsk_ring_prod *r = ring_struct;
	uintptr_t lo = (uintptr_t)r->producer, hi;
	long page = sysconf(_SC_PAGESIZE);
	if ((uintptr_t)r->consumer < lo)
		lo = (uintptr_t)r->consumer;
	if ((uintptr_t)r->flags < lo)
		lo = (uintptr_t)r->flags;
	if ((uintptr_t)r->ring < lo)
		lo = (uintptr_t)r->ring;
	hi = (uintptr_t)r->ring + (uintptr_t)r->size * desc_size;
	lo &= ~(uintptr_t)(page - 1);
	hi = (hi + page - 1) & ~(uintptr_t)(page - 1);
	if (madvise((void *)lo, hi - lo, MADV_DONTFORK))
		return -errno;
	return 0;
}

static int route_log(int level, const char *fmt, va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	xsk_py_log(level, buf);
	return 0;
}

static int route_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return route_log((int)level, fmt, ap);
}

static int route_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return route_log((int)level, fmt, ap);
}

void xsk_sys_route_logs(void)
{
	libxdp_set_print(route_libxdp);
	libbpf_set_print(route_libbpf);
}
