/* The redirect program's attachment by bpf_link, and how another process finds and shares it.
 *
 * A bpf_link attachment lives as long as some process holds a file descriptor of the link:
 * every xsk process that uses the program on an interface holds one, so the kernel detaches
 * the program when the last of them closes it or dies (SIGKILL included). A process that
 * finds our program attached opens the same link by id and the program's maps by id.
 * Looking up by id needs CAP_SYS_ADMIN, as attaching does.
 *
 * The part between XSK_CDEF_BEGIN and XSK_CDEF_END is what Python sees (see build.py).
 */
#ifndef XSK_BPFLINK_H
#define XSK_BPFLINK_H

#include <stddef.h>
#include <stdint.h>

/* XSK_CDEF_BEGIN */
/* Attach prog_fd to ifindex (this thread's namespace) through a new bpf_link; flags are
 * XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE. The link's fd, or -errno (EBUSY/EEXIST: the
 * interface already has an XDP program). */
int xsk_bpflink_create(int prog_fd, int ifindex, uint32_t flags);
/* The XDP program on ifindex: *prog_id (0: none) and *attach_mode (XDP_ATTACHED_*); 0 or -errno. */
int xsk_bpflink_query(int ifindex, uint32_t *prog_id, uint32_t *attach_mode);
/* The name of BPF program prog_id into name (NUL-terminated, at most size bytes); 0 or -errno. */
int xsk_bpflink_prog_name(uint32_t prog_id, char *name, size_t size);
/* An fd of the XDP bpf_link attaching prog_id to ifindex, or -ENOENT when there is none
 * (the program was attached by netlink, which no fd keeps alive). */
int xsk_bpflink_open(uint32_t prog_id, uint32_t ifindex);
/* The program and interface of an XDP bpf_link (e.g. one opened from its pin); 0 or -errno. */
int xsk_bpflink_info(int link_fd, uint32_t *prog_id, uint32_t *ifindex);
/* An fd of the map called name that program prog_id uses, or -ENOENT / -errno. */
int xsk_bpflink_prog_map(uint32_t prog_id, const char *name);
/* XSK_CDEF_END */

#endif
