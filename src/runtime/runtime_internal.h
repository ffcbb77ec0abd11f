// SPDX-License-Identifier: Apache-2.0
/*
 * runtime_internal.h - what the runtime's own modules share: the registry
 * client used by the store, store paths and locks, and small helpers.
 */
#ifndef VEIL_RUNTIME_INTERNAL_H
#define VEIL_RUNTIME_INTERNAL_H

#include <veil/runtime.h>

struct veil_registry_client;

int veil_registry_open(struct veil_registry_client **out, const struct veil_image_ref *ref,
                       const struct veil_registry_opts *opts, veil_err *err);
void veil_registry_close(struct veil_registry_client *c);
/* GETs a manifest by tag or digest; verifies it against expected_digest (or
 * the Docker-Content-Digest header) and returns its computed digest. */
int veil_registry_get_manifest(struct veil_registry_client *c, const char *reference,
                               const char *expected_digest, veil_buf *body, char *content_type,
                               size_t ct_cap, char digest[VEIL_DIGEST_BUFLEN], veil_err *err);
/* Small blobs (configs) into memory, verified. */
int veil_registry_get_blob_mem(struct veil_registry_client *c, const struct veil_descriptor *d,
                               veil_buf *body, veil_err *err);
/* Large blobs into fd (empty, at offset 0), resuming with Range, verified. */
int veil_registry_get_blob_file(struct veil_registry_client *c, const struct veil_descriptor *d,
                                int fd, veil_err *err);

/* Store paths. */
#define VEIL_PATH_MAX 4096
void veil_store_path(const char *data_dir, const char *rel, char *out, size_t cap);
void veil_store_layer_path(const char *data_dir, const char *digest, char *out, size_t cap);
/* Takes the store lock (flock on images/lock): shared for pulls and
 * container creation, exclusive for GC. Returns the fd to close. */
int veil_store_lock(const char *data_dir, bool exclusive, veil_err *err);

/* Removes a directory tree without following symlinks. */
int veil_remove_tree(const char *path);
/* NULL-terminated copies of string vectors. */
char **veil_strv_dup(char *const *v, size_t n);
void veil_strv_free(char **v, size_t n);

#endif /* VEIL_RUNTIME_INTERNAL_H */
