/* See bpflink.h. */
#include "bpflink.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

static int neg_errno(int rc)
{
	if (rc >= 0)
		return rc;
	return errno ? -errno : rc;
}

int xsk_bpflink_create(int prog_fd, int ifindex, uint32_t flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	errno = 0;
	return neg_errno(bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts));
}

int xsk_bpflink_query(int ifindex, uint32_t *prog_id, uint32_t *attach_mode)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, opts);
	int rc = bpf_xdp_query(ifindex, 0, &opts);
	if (rc < 0)
		return rc;
	*prog_id = opts.prog_id;
	*attach_mode = opts.attach_mode;
	return 0;
}

/* The info of BPF program prog_id, with up to nmaps of its map ids in map_ids; 0 or -errno. */
static int prog_info(uint32_t prog_id, struct bpf_prog_info *info, uint32_t *map_ids, uint32_t nmaps)
{
	uint32_t len = sizeof(*info);
	int fd, rc;

	errno = 0;
	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return neg_errno(fd);
	memset(info, 0, sizeof(*info));
	if (map_ids) {
		info->nr_map_ids = nmaps;
		info->map_ids = (uint64_t)(unsigned long)map_ids;
	}
	rc = neg_errno(bpf_obj_get_info_by_fd(fd, info, &len));
	close(fd);
	return rc < 0 ? rc : 0;
}

int xsk_bpflink_prog_name(uint32_t prog_id, char *name, size_t size)
{
	struct bpf_prog_info info;
	int rc = prog_info(prog_id, &info, NULL, 0);

	if (rc < 0)
		return rc;
	if (size) {
		strncpy(name, info.name, size - 1);
		name[size - 1] = '\0';
	}
	return 0;
}

int xsk_bpflink_open(uint32_t prog_id, uint32_t ifindex)
{
	uint32_t id = 0;

	while (bpf_link_get_next_id(id, &id) == 0) {
		struct bpf_link_info info;
		uint32_t len = sizeof(info);
		int fd = bpf_link_get_fd_by_id(id);

		if (fd < 0)
			continue; /* went away while we looked */
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.type == BPF_LINK_TYPE_XDP &&
		    info.prog_id == prog_id && info.xdp.ifindex == ifindex)
			return fd;
		close(fd);
	}
	return -ENOENT;
}

int xsk_bpflink_info(int link_fd, uint32_t *prog_id, uint32_t *ifindex)
{
	struct bpf_link_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	errno = 0;
	int rc = neg_errno(bpf_obj_get_info_by_fd(link_fd, &info, &len));
	if (rc < 0)
		return rc;
	if (info.type != BPF_LINK_TYPE_XDP)
		return -EINVAL;
	*prog_id = info.prog_id;
	*ifindex = info.xdp.ifindex;
	return 0;
}

int xsk_bpflink_prog_map(uint32_t prog_id, const char *name)
{
	uint32_t ids[64];
	struct bpf_prog_info info;
	int rc = prog_info(prog_id, &info, ids, sizeof(ids) / sizeof(ids[0]));

	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct bpf_map_info minfo;
		uint32_t mlen = sizeof(minfo);
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		if (mfd < 0)
			continue;
		memset(&minfo, 0, sizeof(minfo));
		if (bpf_obj_get_info_by_fd(mfd, &minfo, &mlen) == 0 &&
		    strncmp(minfo.name, name, sizeof(minfo.name)) == 0)
			return mfd;
		close(mfd);
	}
	return -ENOENT;
}
