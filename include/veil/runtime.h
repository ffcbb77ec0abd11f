// SPDX-License-Identifier: Apache-2.0
/*
 * veil/runtime.h - the container runtime: image references, OCI/Docker
 * manifests, a registry client (Docker Registry HTTP API v2 / OCI
 * distribution), the content store under the data dir, safe layer
 * unpacking, OCI bundles and containers run by runc (or crun), and a Docker
 * Engine API driver.
 *
 * Layout under <data_dir>:
 *   images/blobs/sha256/<hex>   verified blobs (manifests, configs, layers)
 *   images/layers/<hex>/        unpacked layers (overlayfs format: whiteouts
 *                               are 0:0 char devices, opaque dirs carry
 *                               trusted.overlay.opaque=y), keyed by blob digest
 *   images/index.json           name -> manifest digest, config, layers
 *   images/lock                 flock: shared while pulling, exclusive in GC
 *   containers/<id>/            state.json, bundle/, upper/, work/, logs
 *   runc/                       the OCI runtime's own state (--root)
 *
 * Container rootfs: an overlayfs mount of the layers (upper/work per
 * container), or a copy of them where overlayfs cannot be mounted
 * (VEIL_RUNTIME_FORCE_COPY=1 forces the copy, for tests).
 */
#ifndef VEIL_RUNTIME_H
#define VEIL_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Digests: "sha256:" + 64 lowercase hex digits.                            */
/* ------------------------------------------------------------------------ */

#define VEIL_DIGEST_STRLEN 71 /* without the NUL */
#define VEIL_DIGEST_BUFLEN 72

/* Checks the syntax (only sha256 is accepted: OCI image-spec descriptor.md,
 * "Registered algorithms"). */
int veil_digest_check(const char *digest, veil_err *err);
/* Writes "sha256:<hex>" of the data into out. */
void veil_digest_of(const void *data, size_t len, char out[VEIL_DIGEST_BUFLEN]);
/* Fails with VEIL_E_MISMATCH unless sha256(data) equals `digest`. */
int veil_digest_verify(const char *digest, const void *data, size_t len, veil_err *err);

/* ------------------------------------------------------------------------ */
/* Image references: [host[:port]/]name[:tag][@sha256:...]                  */
/* ------------------------------------------------------------------------ */

#define VEIL_REF_HOST_MAX 256
#define VEIL_REF_NAME_MAX 256
#define VEIL_REF_TAG_MAX  129

struct veil_image_ref {
    char registry[VEIL_REF_HOST_MAX];   /* "docker.io", "127.0.0.1:5000" */
    char repository[VEIL_REF_NAME_MAX]; /* "library/busybox" */
    char tag[VEIL_REF_TAG_MAX];         /* "latest" when neither tag nor digest */
    char digest[VEIL_DIGEST_BUFLEN];    /* "" or "sha256:..." */
};

/* Parses with Docker's conventions: no host part means docker.io, a
 * one-component name on docker.io gets "library/", no tag and no digest
 * means ":latest". */
int veil_image_ref_parse(const char *text, struct veil_image_ref *ref, veil_err *err);
/* Canonical text: "host/name:tag", "host/name@digest" or both. */
void veil_image_ref_format(const struct veil_image_ref *ref, char *out, size_t cap);
/* The host to contact: docker.io is served by registry-1.docker.io. */
const char *veil_image_ref_api_host(const struct veil_image_ref *ref);

/* ------------------------------------------------------------------------ */
/* Manifests, indexes and image configs                                     */
/* ------------------------------------------------------------------------ */

#define VEIL_MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define VEIL_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define VEIL_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define VEIL_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

#define VEIL_MANIFEST_MAX_BYTES   (4u << 20) /* the distribution spec's 4 MiB */
#define VEIL_MANIFEST_MAX_ENTRIES 1024

struct veil_descriptor {
    char media_type[128];
    char digest[VEIL_DIGEST_BUFLEN];
    int64_t size;
    /* platform (index entries only) */
    char os[32];
    char arch[32];
    char variant[32];
};

enum veil_manifest_kind { VEIL_MANIFEST_IMAGE, VEIL_MANIFEST_INDEX };

struct veil_manifest {
    enum veil_manifest_kind kind;
    char media_type[128];
    struct veil_descriptor config; /* image manifests */
    struct veil_descriptor *items; /* layers (image) or manifests (index) */
    size_t n_items;
};

/* Parses an image manifest or an index. `content_type` (the HTTP header, may
 * be NULL) is used when the document has no mediaType field. */
int veil_manifest_parse(const void *data, size_t len, const char *content_type,
                        struct veil_manifest *m, veil_err *err);
void veil_manifest_free(struct veil_manifest *m);
/* Picks the entry of an index for os/arch (variant ignored unless given). */
int veil_manifest_select(const struct veil_manifest *index, const char *os, const char *arch,
                         const char *variant, size_t *pos, veil_err *err);

struct veil_image_config {
    char **env;
    size_t n_env;
    char **entrypoint;
    size_t n_entrypoint;
    char **cmd;
    size_t n_cmd;
    char *working_dir;
    char *user;
    char *os;
    char *arch;
    char **diff_ids; /* "sha256:<64 hex>" of each uncompressed layer, lowest first */
    size_t n_diff_ids;
};

int veil_image_config_parse(const void *data, size_t len, struct veil_image_config *cfg,
                            veil_err *err);
void veil_image_config_free(struct veil_image_config *cfg);

/* ------------------------------------------------------------------------ */
/* Layer unpacking                                                          */
/* ------------------------------------------------------------------------ */

/* Normalises a tar entry path into a relative path without "." or ".."
 * components ("./a//b/" -> "a/b"). Fails for "..", absolute paths that
 * would need "..", empty names, NUL-free only. An empty result (the root
 * itself) gives "" and returns 0. */
int veil_tar_path_clean(const char *path, char *out, size_t cap, veil_err *err);

struct veil_unpack_stats {
    uint64_t entries;
    uint64_t bytes;
    uint64_t whiteouts;
};

/* The budget of one layer's uncompressed tar stream when none is given. */
#define VEIL_LAYER_MAX_BYTES_DEFAULT (8ull << 30)

struct veil_unpack_opts {
    /* "sha256:<hex>" the uncompressed tar stream must hash to (the image
     * config's rootfs.diff_ids entry), or NULL for no check. */
    const char *diff_id;
    /* Budget of the uncompressed stream (and of any one file's size); 0 =
     * VEIL_LAYER_MAX_BYTES_DEFAULT. The decompressor is never read past it,
     * so a gzip/zstd bomb stops there with VEIL_E_LIMIT. */
    uint64_t max_bytes;
};

/* Unpacks a tar layer (plain, gzip or zstd: detected by libarchive) from
 * `layer_path` into the existing directory `dest`, converting whiteouts into
 * overlayfs format. Every path is resolved inside `dest` (openat2
 * RESOLVE_IN_ROOT), so neither "../" nor symlinks, absolute or relative,
 * can make a write land outside it. The uncompressed stream is hashed as it
 * is read and checked against opts->diff_id at the end (VEIL_E_MISMATCH):
 * on any failure the caller discards `dest`. `opts` may be NULL. */
int veil_layer_unpack(const char *layer_path, const char *dest,
                      const struct veil_unpack_opts *opts, struct veil_unpack_stats *stats,
                      veil_err *err) VEIL_WARN_UNUSED;
/* Applies overlayfs-format layer directories in order (lowest first) onto
 * `dest` by copying: the fallback when overlayfs cannot be mounted. */
int veil_layers_flatten(const char *const *layer_dirs, size_t n, const char *dest, veil_err *err);

/* ------------------------------------------------------------------------ */
/* Content store and registry pulls                                         */
/* ------------------------------------------------------------------------ */

struct veil_registry_opts {
    char **insecure; /* host:port reached over plain HTTP */
    size_t n_insecure;
    const char *auth_file; /* Docker config.json, or NULL */
    int retries;           /* per blob; 0 = default (5) */
    bool quiet;
    uint64_t max_layer_bytes; /* uncompressed budget per layer; 0 = VEIL_LAYER_MAX_BYTES_DEFAULT */
};

struct veil_image_info {
    char name[VEIL_REF_HOST_MAX + VEIL_REF_NAME_MAX + VEIL_REF_TAG_MAX + 4];
    char manifest_digest[VEIL_DIGEST_BUFLEN];
    char config_digest[VEIL_DIGEST_BUFLEN];
    char **layers; /* blob digests, lowest first */
    size_t n_layers;
    int64_t size; /* compressed bytes of config + layers */
    int64_t created;
};

void veil_image_info_free(struct veil_image_info *info);

/* Pulls `ref` into the store at <data_dir>/images and records it under its
 * canonical name (and its digest). Every manifest and blob is sha256-checked
 * before it is stored or used. */
int veil_image_pull(const char *data_dir, const struct veil_image_ref *ref,
                    const struct veil_registry_opts *opts, struct veil_image_info *out,
                    veil_err *err);
/* Looks an image up by name ("host/name:tag"), short name or manifest digest. */
int veil_image_lookup(const char *data_dir, const char *name, struct veil_image_info *out,
                      veil_err *err);
int veil_image_list(const char *data_dir, struct veil_image_info **out, size_t *n, veil_err *err);
void veil_image_list_free(struct veil_image_info *list, size_t n);
int veil_image_remove(const char *data_dir, const char *name, veil_err *err);

struct veil_gc_stats {
    uint64_t blobs_removed;
    uint64_t layers_removed;
    uint64_t bytes_freed;
};
/* Removes blobs and unpacked layers that no image and no container refers
 * to, and temp files left behind by crashes. */
int veil_image_gc(const char *data_dir, struct veil_gc_stats *stats, veil_err *err);

/* Blob path in the store (for tests and tools). */
void veil_store_blob_path(const char *data_dir, const char *digest, char *out, size_t cap);

/* Parses a Docker config.json and returns the "user:password" for a registry
 * host (malloc'ed, caller wipes), or NULL with VEIL_E_NOTFOUND. */
int veil_registry_auth_lookup(const char *auth_file, const char *host, char **userpass,
                              veil_err *err);
/* Parses a WWW-Authenticate header. scheme gets "Bearer"/"Basic". */
int veil_www_authenticate_parse(const char *header, char *scheme, size_t scheme_cap, char *realm,
                                size_t realm_cap, char *service, size_t service_cap, char *scope,
                                size_t scope_cap, veil_err *err);

/* ------------------------------------------------------------------------ */
/* Containers                                                               */
/* ------------------------------------------------------------------------ */

enum veil_restart_policy { VEIL_RESTART_NEVER, VEIL_RESTART_ON_FAILURE, VEIL_RESTART_ALWAYS };
int veil_restart_policy_parse(const char *text, enum veil_restart_policy *p, int *max_retries,
                              veil_err *err);
const char *veil_restart_policy_name(enum veil_restart_policy p);

struct veil_mount_spec {
    char *source;
    char *destination;
    bool readonly;
};

struct veil_run_request {
    const char *name;  /* NULL: generated */
    const char *image; /* name in the store */
    char **args;       /* NULL: entrypoint + cmd of the image */
    size_t n_args;
    char **env; /* K=V, added over the image's */
    size_t n_env;
    const char *cwd;
    const char *user; /* uid[:gid] or names from the rootfs */
    const char *hostname;
    bool readonly_rootfs;
    bool host_network;
    const char *netns_path; /* join this network namespace (e.g. /run/netns/X); NULL = a new one */
    struct veil_mount_spec *mounts;
    size_t n_mounts;
    uint64_t memory_bytes; /* 0 = no limit */
    double cpus;           /* 0 = no quota */
    uint64_t cpu_shares;   /* 0 = default */
    int64_t pids_limit;    /* 0 = no limit */
    enum veil_restart_policy restart;
    int max_retries;        /* on-failure: 0 = unlimited */
    uint64_t log_max_bytes; /* rotation size; 0 = 10 MiB */
    int log_max_files;      /* rotated files kept; 0 = 2 */
};

/* Inputs of config.json generation (pure: used by unit tests). */
struct veil_oci_spec_input {
    const struct veil_run_request *req;
    const struct veil_image_config *image;
    uint32_t uid, gid;
    const char *cgroups_path;
    const char *hostname;
};
/* Builds the OCI runtime-spec config.json (malloc'ed text). */
int veil_oci_spec_build(const struct veil_oci_spec_input *in, char **json_text, veil_err *err);
/* Resolves "user[:group]" (names or numbers) against rootfs/etc/passwd and
 * etc/group. */
int veil_resolve_user(const char *rootfs, const char *user, uint32_t *uid, uint32_t *gid,
                      veil_err *err);

enum veil_container_status {
    VEIL_CT_CREATED,
    VEIL_CT_RUNNING,
    VEIL_CT_RESTARTING,
    VEIL_CT_EXITED,
    VEIL_CT_STOPPED,
};
const char *veil_container_status_name(enum veil_container_status s);

struct veil_container_info {
    char id[65];
    char name[128];
    char image[512];
    enum veil_container_status status;
    int exit_code;
    bool oom_killed;
    int restarts;
    int64_t created;
    int64_t started;
    int64_t finished;
    int supervisor_pid;
    int pid;
    char command[256];
};

struct veil_runtime_opts {
    const char *data_dir;
    const char *engine; /* "runc" (default) or "crun" */
};

/* Creates the container (bundle, rootfs, state) and starts its supervisor.
 * attached: the supervisor runs in this process, echoing the container's
 * stdout/stderr, and *exit_code gets the final exit status. Detached: the
 * supervisor is a daemon and this returns once the container runs. */
int veil_container_run(const struct veil_runtime_opts *opts, const struct veil_run_request *req,
                       bool attached, struct veil_container_info *info, int *exit_code,
                       veil_err *err);
int veil_container_list(const struct veil_runtime_opts *opts, bool all,
                        struct veil_container_info **out, size_t *n, veil_err *err);
int veil_container_inspect(const struct veil_runtime_opts *opts, const char *name_or_id,
                           struct veil_container_info *info, veil_err *err);
/* SIGTERM, then SIGKILL after timeout_ms; waits for the supervisor to
 * record the exit, then releases runc state, cgroups and mounts. */
int veil_container_stop(const struct veil_runtime_opts *opts, const char *name_or_id,
                        int64_t timeout_ms, veil_err *err);
/* Removes a stopped container (force: stop it first). */
int veil_container_remove(const struct veil_runtime_opts *opts, const char *name_or_id, bool force,
                          veil_err *err);
/* Writes the logs (rotated files first) to fd 1/2; follow waits for more
 * until the container ends. */
int veil_container_logs(const struct veil_runtime_opts *opts, const char *name_or_id, bool follow,
                        veil_err *err);

/* ------------------------------------------------------------------------ */
/* Configuration shared by the CLI commands                                 */
/* ------------------------------------------------------------------------ */

struct veil_runtime_config {
    const char *data_dir;
    const char *engine;        /* runtime.engine */
    const char *docker_socket; /* docker.socket, or NULL */
    struct veil_registry_opts registry;
    struct veil_runtime_opts runtime;
};

/* Reads data_dir (or the --data-dir flag when not NULL), registry.insecure,
 * registry.auth_file, runtime.engine and docker.socket. The result borrows
 * strings from cfg. */
int veil_runtime_config_load(const veil_config *cfg, const char *data_dir_flag,
                             struct veil_runtime_config *out, veil_err *err);

/* ------------------------------------------------------------------------ */
/* Docker Engine API driver (used when docker.socket is configured)         */
/* ------------------------------------------------------------------------ */

/* Builds the JSON body of POST /containers/create from a run request. */
int veil_docker_create_body(const struct veil_run_request *req, char **json_text, veil_err *err);
/* Parses GET /containers/{id}/json into info. */
int veil_docker_parse_inspect(const void *data, size_t len, struct veil_container_info *info,
                              veil_err *err);
/* Demultiplexes a logs/attach stream into stdout/stderr fds. Returns the
 * bytes consumed (a trailing partial frame is left for the next call). */
size_t veil_docker_demux(const uint8_t *data, size_t len, int out_fd, int err_fd);
/* Parses GET /containers/json (veil's containers carry label veil=1). */
int veil_docker_parse_list(const void *data, size_t len, struct veil_container_info **out,
                           size_t *n, veil_err *err);
int veil_docker_list(const char *socket_path, bool all, struct veil_container_info **out, size_t *n,
                     veil_err *err);
int veil_docker_stop(const char *socket_path, const char *name, int64_t timeout_ms, veil_err *err);
int veil_docker_remove(const char *socket_path, const char *name, bool force, veil_err *err);
/* Streams the container's logs to fd 1/2 (follow: until it ends). */
int veil_docker_logs(const char *socket_path, const char *name, bool follow, veil_err *err);
/* The whole run through the Engine API: pull (POST /images/create), create,
 * start, and for attached runs wait and fetch the logs. */
int veil_docker_run(const char *socket_path, const struct veil_run_request *req, bool attached,
                    struct veil_container_info *info, int *exit_code, veil_err *err);

/* ---- a container's own network namespace, wired to the node (ctnet.c) ----
 * A named namespace (/run/netns/<netns>) with a veth pair: `eth0` inside
 * (ct_ip/30, default route via host_ip) and `host_if` in the node's
 * namespace (host_ip/30). What crosses it is the caller's policy (nftables
 * rules, forwarding). Runs ip(8) without a shell; needs CAP_NET_ADMIN. */
struct veil_ctnet {
    char netns[40];   /* "veil-<tag>-<slot>": namespace names are host-wide */
    char host_if[16]; /* "vh<slot>" */
    char host_ip[16];
    char ct_ip[16];
};
/* Names and addresses of slot 0..16383 of the node tagged `tag` (1..16 of
 * [A-Za-z0-9]): 10.201.0.0/16 cut into /30s. */
int veil_ctnet_plan(const char *tag, unsigned slot, struct veil_ctnet *out, veil_err *err);
/* Creates the namespace and the pair (a leftover of the same slot is
 * removed first). On failure nothing is left. */
int veil_ctnet_create(const struct veil_ctnet *n, veil_err *err);
/* Deletes the namespace (the pair goes with it); absent is not an error. */
void veil_ctnet_destroy(const struct veil_ctnet *n);
/* Runs argv (argv[0] found on PATH) and waits: 0 when it exited 0. `input`
 * (may be NULL) is written to its standard input. Its output goes to
 * stderr only on failure (in err's message, truncated). */
int veil_run_tool(char *const argv[], const char *input, veil_err *err);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_RUNTIME_H */
