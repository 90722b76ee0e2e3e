/* Socket and system helpers that move no frames: waking the kernel for RX, reading the
 * socket's options and counters, busy polling, keeping the rings out of fork()ed children,
 * and the bridge that sends libxdp's and libbpf's messages to Python's logging.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_SYSTEM_H
#define XSK_SYSTEM_H

#include <stdint.h>

/* XSK_CDEF_BEGIN */
/* recvfrom(MSG_DONTWAIT) to make the kernel fill the RX ring: 0 or -errno (EAGAIN, EBUSY and
 * ENOBUFS only mean "try again later" and give 0). */
int xsk_sys_kick_rx(int fd);
/* XDP_STATISTICS in the order of xsk.socket.STATISTICS; 0 or -errno. */
int xsk_sys_statistics(int fd, uint64_t out[6]);
/* XDP_OPTIONS (XDP_OPTIONS_ZEROCOPY); 0 or -errno. */
int xsk_sys_options(int fd, uint32_t *flags);
/* The socket's pending error (SO_ERROR, which reading clears): the kernel sets ENETDOWN when
 * the interface the socket is bound to is unregistered. */
int xsk_sys_sock_error(int fd);
/* SO_PREFER_BUSY_POLL, SO_BUSY_POLL = usecs, SO_BUSY_POLL_BUDGET = budget; 0 or -errno. */
int xsk_sys_busy_poll(int fd, int usecs, int budget);
/* MADV_DONTFORK on the mapping of a libxdp ring (struct xsk_ring_prod or _cons) with
 * desc_size-byte descriptors; 0 or -errno. */
int xsk_sys_ring_dontfork(const void *ring_struct, uint32_t desc_size);
/* libxdp and libbpf print through xsk_py_log (Python's logging) from now on. */
void xsk_sys_route_logs(void);
/* XSK_CDEF_END */

/* Defined by cffi from _binding.py's @ffi.def_extern (extern "Python+C" in libs.cdef). */
void xsk_py_log(int level, const char *msg);

#endif
