/* What Python sees of libxdp, libbpf and the shim (cffi API mode: checked against the real headers). */
typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;

struct xsk_ring_prod { __u32 cached_prod; __u32 cached_cons; __u32 mask; __u32 size;
                       __u32 *producer; __u32 *consumer; void *ring; __u32 *flags; };
struct xsk_ring_cons { __u32 cached_prod; __u32 cached_cons; __u32 mask; __u32 size;
                       __u32 *producer; __u32 *consumer; void *ring; __u32 *flags; };
struct xsk_umem;
struct xsk_socket;
struct xsk_umem_config { __u32 fill_size; __u32 comp_size; __u32 frame_size; __u32 frame_headroom; __u32 flags; };
struct xsk_socket_config { __u32 rx_size; __u32 tx_size; __u32 libxdp_flags; __u32 xdp_flags; __u16 bind_flags; ...; };

int xsk_umem__create(struct xsk_umem **umem, void *umem_area, __u64 size,
                     struct xsk_ring_prod *fill, struct xsk_ring_cons *comp,
                     const struct xsk_umem_config *config);
int xsk_umem__delete(struct xsk_umem *umem);
int xsk_umem__fd(const struct xsk_umem *umem);
int xsk_socket__create(struct xsk_socket **xsk, const char *ifname, __u32 queue_id,
                       struct xsk_umem *umem, struct xsk_ring_cons *rx, struct xsk_ring_prod *tx,
                       const struct xsk_socket_config *config);
int xsk_socket__create_shared(struct xsk_socket **xsk_ptr, const char *ifname, __u32 queue_id,
                              struct xsk_umem *umem, struct xsk_ring_cons *rx, struct xsk_ring_prod *tx,
                              struct xsk_ring_prod *fill, struct xsk_ring_cons *comp,
                              const struct xsk_socket_config *config);
void xsk_socket__delete(struct xsk_socket *xsk);
int xsk_socket__fd(const struct xsk_socket *xsk);
int xsk_socket__update_xskmap(struct xsk_socket *xsk, int xsks_map_fd);

#define XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD ...
#define XDP_SHARED_UMEM ...
#define XDP_COPY ...
#define XDP_ZEROCOPY ...
#define XDP_USE_NEED_WAKEUP ...
#define XDP_USE_SG ...
#define XDP_UMEM_UNALIGNED_CHUNK_FLAG ...
#define XDP_PKT_CONTD ...
#define XDP_OPTIONS_ZEROCOPY ...
#define XDP_PACKET_HEADROOM ...

enum xdp_attach_mode { XDP_MODE_UNSPEC = 0, XDP_MODE_NATIVE, XDP_MODE_SKB, XDP_MODE_HW };
struct xdp_program;
struct xdp_multiprog;
struct bpf_object;
struct bpf_object_open_opts;
long libxdp_get_error(const void *ptr);
int libxdp_strerror(int err, char *buf, size_t size);
struct xdp_program *xdp_program__open_file(const char *filename, const char *section_name,
                                           struct bpf_object_open_opts *opts);
void xdp_program__close(struct xdp_program *xdp_prog);
int xdp_program__attach(struct xdp_program *xdp_prog, int ifindex, enum xdp_attach_mode mode,
                        unsigned int flags);
int xdp_program__detach(struct xdp_program *xdp_prog, int ifindex, enum xdp_attach_mode mode,
                        unsigned int flags);
int xdp_program__fd(const struct xdp_program *xdp_prog);
__u32 xdp_program__id(const struct xdp_program *xdp_prog);
struct bpf_object *xdp_program__bpf_obj(struct xdp_program *xdp_prog);
struct xdp_multiprog *xdp_multiprog__get_from_ifindex(int ifindex);
void xdp_multiprog__close(struct xdp_multiprog *mp);
int xdp_multiprog__detach(struct xdp_multiprog *mp);
enum xdp_attach_mode xdp_multiprog__attach_mode(const struct xdp_multiprog *mp);
bool xdp_multiprog__is_legacy(const struct xdp_multiprog *mp);
struct xdp_program *xdp_multiprog__main_prog(const struct xdp_multiprog *mp);
const char *xdp_program__name(const struct xdp_program *xdp_prog);
int bpf_object__find_map_fd_by_name(const struct bpf_object *obj, const char *name);
int bpf_map_delete_elem(int fd, const void *key);
int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags);
int bpf_map_lookup_elem(int fd, const void *key, void *value);
int libbpf_num_possible_cpus(void);

enum { XSK_POOL, XSK_USER, XSK_FILL, XSK_TX };
enum { XSK_OK, XSK_ERR_RANGE, XSK_ERR_BOUNDARY, XSK_ERR_STATE, XSK_ERR_TOKEN, XSK_ERR_BOUNDS, XSK_ERR_DUP };

struct xsk_ledger {
    uint64_t *word; uint32_t *pool;
    uint32_t pool_len; uint32_t nframes; uint32_t frame_shift; uint32_t frame_size; uint32_t unaligned;
    uint32_t counts[4];
    uint64_t kernel_errors;
    ...;
};
int xsk_ledger_init(struct xsk_ledger *l, uint64_t *word, uint32_t *pool, uint32_t nframes,
                    uint32_t frame_size, int unaligned);
uint32_t xsk_ledger_take(struct xsk_ledger *l, uint64_t *addrs, uint32_t *lens, uint32_t n, uint32_t token,
                         uint32_t length);
int xsk_ledger_check(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token, uint32_t *bad);
int xsk_ledger_release(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token, uint32_t *bad);
int xsk_ledger_retoken(struct xsk_ledger *l, const uint64_t *addrs, uint32_t n, uint32_t token,
                       uint32_t new_token, uint32_t *bad);
uint32_t xsk_ledger_reclaim(struct xsk_ledger *l, uint32_t ring_owner);
int xsk_ledger_verify(struct xsk_ledger *l, uint32_t *frame);
int xsk_shim_fill(struct xsk_ledger *l, struct xsk_ring_prod *fq, const uint64_t *addrs, uint32_t n,
                  uint32_t token, uint32_t ring_owner, uint32_t *bad);
uint32_t xsk_shim_fill_from_pool(struct xsk_ledger *l, struct xsk_ring_prod *fq, uint32_t n, uint32_t ring_owner);
int xsk_shim_tx(struct xsk_ledger *l, struct xsk_ring_prod *tx, const uint64_t *addrs, const uint32_t *lens,
                uint32_t n, uint32_t token, uint32_t ring_owner, int check_bounds, uint32_t *bad);
uint32_t xsk_shim_rx(struct xsk_ledger *l, struct xsk_ring_cons *rx, uint64_t *addrs, uint32_t *lens,
                     uint32_t max, uint32_t token);
uint32_t xsk_shim_complete(struct xsk_ledger *l, struct xsk_ring_cons *cq, uint32_t max);
struct xsk_fillq { struct xsk_ring_prod *fq; struct xsk_ring_cons *cq; uint32_t owner; uint32_t in_fill; };
struct xsk_path {
    struct xsk_ledger *l; struct xsk_fillq *q; struct xsk_ring_cons *rx; struct xsk_ring_prod *tx;
    int fd; int need_wakeup; uint32_t fill_target; uint32_t comp_size; uint32_t max_kicks;
    uint32_t bad; int kick_err; int tx_full; uint32_t fake_rx_len;
};
int xsk_path_send(struct xsk_path *p, const uint64_t *addrs, const uint32_t *lens, const uint32_t *opts,
                  uint32_t n, uint32_t token, int check_bounds);
uint32_t xsk_path_recv(struct xsk_path *p, uint64_t *addrs, uint32_t *lens, uint32_t *opts, uint32_t max,
                       uint32_t token);
int xsk_path_fill(struct xsk_path *p, const uint64_t *addrs, uint32_t n, uint32_t token, int to_pool);
uint32_t xsk_path_refill(struct xsk_path *p);
uint32_t xsk_path_complete(struct xsk_path *p);
uint32_t xsk_path_drain_rx(struct xsk_path *p);
int xsk_path_kick(struct xsk_path *p);
#define XSK_FWD_SWAP_MACS 1
#define XSK_FWD_SWAP_IPS 2
#define XSK_FWD_SWAP_PORTS 4
uint32_t xsk_path_forward(struct xsk_path *in, struct xsk_path *out, uint8_t *area, uint32_t max,
                          uint32_t flags);
int xsk_shim_needs_wakeup(const struct xsk_ring_prod *r);
int xsk_shim_tx_drain(struct xsk_ledger *l, struct xsk_ring_prod *tx, struct xsk_ring_cons *cq,
                      int fd, uint32_t max_kicks, int need_wakeup);
int xsk_shim_kick_rx(int fd);
int xsk_shim_statistics(int fd, uint64_t out[6]);
int xsk_shim_options(int fd, uint32_t *flags);
int xsk_shim_busy_poll(int fd, int usecs, int budget);
int xsk_shim_tx_sg(struct xsk_ledger *l, struct xsk_ring_prod *tx, const uint64_t *addrs,
		   const uint32_t *lens, const uint32_t *opts, uint32_t n, uint32_t token,
		   uint32_t ring_owner, int check_bounds, uint32_t *bad);
uint32_t xsk_shim_rx_sg(struct xsk_ledger *l, struct xsk_ring_cons *rx, uint64_t *addrs,
			uint32_t *lens, uint32_t *opts, uint32_t max, uint32_t token);
int xsk_shim_sock_error(int fd);
int xsk_shim_ring_dontfork(const void *ring_struct, uint32_t desc_size);
int xsk_shim_fake_ring(void *ring_struct, uint32_t *producer, uint32_t *consumer, uint32_t *flags,
                       void *descs, uint32_t size, int producer_side);
void xsk_shim_route_logs(void);
extern "Python" void xsk_py_log(int level, const char *msg);

#define XSK_PATCH_MAX_FIELDS 8
#define XSK_PATCH_IP_SUM 1
#define XSK_PATCH_L4_SUM 2
struct xsk_patch_field { uint32_t offset; uint32_t width; uint32_t count; uint32_t flags; const uint8_t *values; };
struct xsk_patch_plan {
    uint32_t nfields; struct xsk_patch_field fields[8]; int32_t seq_at; int32_t ip_csum_at; int32_t l4_csum_at;
    uint32_t zero_as_ffff; uint64_t base_ip; uint64_t base_l4; uint32_t random; uint64_t rng;
};
void xsk_shim_patch(struct xsk_patch_plan *p, uint8_t *area, const uint64_t *addrs, uint32_t n,
                    uint64_t index0, uint32_t stream, uint64_t ts_ns);
uint32_t xsk_fake_kernel(struct xsk_ring_prod *tx, struct xsk_ring_cons *cq, struct xsk_ring_prod *fq,
                         struct xsk_ring_cons *rx, uint32_t max, uint32_t rx_len, uint32_t headroom);
uint64_t xsk_fake_bench(struct xsk_ledger *l, struct xsk_ring_prod *tx, struct xsk_ring_cons *cq,
                        struct xsk_ring_prod *fq, struct xsk_ring_cons *rx, uint32_t batch, uint64_t iterations);
int xsk_shim_swap_macs(uint8_t *area, const uint64_t *addrs, uint32_t n, uint64_t area_size,
                       uint32_t frame_size);
struct xsk_hdr {
	int32_t l3, l4, payload; /* offsets from the frame's data start; -1 if absent */
	int32_t vlan;            /* outer VLAN id, -1 if untagged */
	uint32_t src_ip4, dst_ip4; /* host order; 0 unless IPv4 */
	uint16_t ethertype, src_port, dst_port;
	uint8_t ip_version, proto;
	uint8_t src_ip6[16], dst_ip6[16];
};
void xsk_shim_parse(const uint8_t *area, const uint64_t *addrs, const uint32_t *lens, uint32_t n,
		    uint32_t frame_size, struct xsk_hdr *out);
struct xsk_seqwin {
	uint8_t *bits;    /* mask + 1 entries: bits[c & mask] set when counter c was seen */
	uint64_t mask;
	int64_t highest, lowest; /* lowest < 0: nothing seen yet */
	uint64_t unique, duplicates, reordered, too_late;
};
struct xsk_seqstats {
	struct xsk_seqwin *streams[256];
	uint64_t *hist;          /* nbuckets + 1 counters */
	const double *buckets;   /* ascending bucket edges, microseconds */
	uint32_t nbuckets;
	double lat_min, lat_max;
	uint64_t with_seq;
};
uint32_t xsk_seq_batch(struct xsk_seqstats *st, const uint8_t *area, const uint64_t *addrs,
		       const uint32_t *lens, uint32_t n, uint32_t frame_size, int64_t now_ns,
		       uint32_t start, int32_t *missing);
struct bpf_program;
struct bpf_object *bpf_object__open_file(const char *path, const struct bpf_object_open_opts *opts);
int bpf_object__load(struct bpf_object *obj);
void bpf_object__close(struct bpf_object *obj);
struct bpf_program *bpf_object__find_program_by_name(const struct bpf_object *obj, const char *name);
int bpf_program__fd(const struct bpf_program *prog);
long libbpf_get_error(const void *ptr);
struct bpf_test_run_opts {
    size_t sz; const void *data_in; void *data_out; uint32_t data_size_in; uint32_t data_size_out;
    const void *ctx_in; void *ctx_out; uint32_t ctx_size_in; uint32_t ctx_size_out; uint32_t retval;
    int repeat; uint32_t duration; uint32_t flags; uint32_t cpu; uint32_t batch_size; ...;
};
int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts);
struct xdp_md { uint32_t data; uint32_t data_end; uint32_t data_meta; uint32_t ingress_ifindex;
                uint32_t rx_queue_index; uint32_t egress_ifindex; };
#define BPF_F_TEST_XDP_LIVE_FRAMES ...
