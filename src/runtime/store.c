// SPDX-License-Identifier: Apache-2.0
/*
 * store.c - the content store under <data_dir>/images and image pulls.
 *
 * Blobs are content-addressed (blobs/sha256/<hex>) and only ever appear
 * there complete and verified: downloads go to a temp file in the same
 * directory, are fsync'ed, checked and renamed. Unpacked layers are built in
 * layers/.tmp-* and renamed to layers/<hex> after syncfs, so a crash leaves
 * only temp names, which GC removes. Concurrent pulls of the same content
 * race harmlessly (identical bytes, rename replaces or the loser discards
 * its copy). A flock on images/lock is held shared by pulls and container
 * creation and exclusively by GC, so GC never removes content that a pull in
 * progress has fetched but not yet recorded. index.json is rewritten
 * atomically under an exclusive flock on images/index.lock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "runtime_internal.h"

char **veil_strv_dup(char *const *v, size_t n)
{
    char **out = calloc(n + 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = strdup(v[i]))) {
            veil_strv_free(out, i);
            return NULL;
        }
    return out;
}

void veil_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void veil_store_path(const char *data_dir, const char *rel, char *out, size_t cap)
{
    snprintf(out, cap, "%s/images/%s", data_dir, rel);
}

void veil_store_blob_path(const char *data_dir, const char *digest, char *out, size_t cap)
{
    snprintf(out, cap, "%s/images/blobs/sha256/%s", data_dir, digest + 7);
}

void veil_store_layer_path(const char *data_dir, const char *digest, char *out, size_t cap)
{
    snprintf(out, cap, "%s/images/layers/%s", data_dir, digest + 7);
}

static int ensure_dirs(const char *data_dir, veil_err *err)
{
    char p[VEIL_PATH_MAX];
    veil_store_path(data_dir, "blobs/sha256", p, sizeof p);
    if (veil_mkdir_p(p, 0700, err) != 0)
        return -1;
    veil_store_path(data_dir, "layers", p, sizeof p);
    return veil_mkdir_p(p, 0700, err);
}

static int lock_file(const char *path, bool exclusive, veil_err *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return veil_err_set(err, VEIL_E_IO, "%s: %s", path, strerror(errno));
    while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        return veil_err_set(err, VEIL_E_IO, "lock %s: %s", path, strerror(e));
    }
    return fd;
}

int veil_store_lock(const char *data_dir, bool exclusive, veil_err *err)
{
    if (ensure_dirs(data_dir, err) != 0)
        return -1;
    char p[VEIL_PATH_MAX];
    veil_store_path(data_dir, "lock", p, sizeof p);
    return lock_file(p, exclusive, err);
}

static bool path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Writes a verified in-memory blob into the store. */
static int store_put_blob(const char *data_dir, const char *digest, const void *data, size_t len,
                          veil_err *err)
{
    char p[VEIL_PATH_MAX];
    veil_store_blob_path(data_dir, digest, p, sizeof p);
    if (path_exists(p))
        return 0;
    return veil_file_write_atomic(p, data, len, 0600, err);
}

static int fsync_dir_of(const char *path)
{
    char dir[VEIL_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int fetch_blob_to_store(struct veil_registry_client *rc, const char *data_dir,
                               const struct veil_descriptor *d, veil_err *err)
{
    char final[VEIL_PATH_MAX], tmp[VEIL_PATH_MAX];
    veil_store_blob_path(data_dir, d->digest, final, sizeof final);
    if (path_exists(final))
        return 0;
    char rnd[17];
    uint8_t rb[8];
    veil_random_bytes(rb, sizeof rb);
    veil_hex_encode(rnd, sizeof rnd, rb, sizeof rb);
    snprintf(tmp, sizeof tmp, "%s/images/blobs/sha256/.tmp-%s-%s", data_dir, d->digest + 7, rnd);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return veil_err_set(err, VEIL_E_IO, "%s: %s", tmp, strerror(errno));
    int r = veil_registry_get_blob_file(rc, d, fd, err);
    if (r == 0 && fsync(fd) != 0)
        r = veil_err_set(err, VEIL_E_IO, "fsync %s: %s", tmp, strerror(errno));
    close(fd);
    if (r == 0 && rename(tmp, final) != 0)
        r = veil_err_set(err, VEIL_E_IO, "rename %s: %s", final, strerror(errno));
    if (r != 0) {
        unlink(tmp);
        return -1;
    }
    fsync_dir_of(final);
    return 0;
}

static bool layer_media_type_ok(const char *mt)
{
    static const char *const ok[] = {
        "",
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    };
    for (size_t i = 0; i < VEIL_ARRAY_LEN(ok); i++)
        if (strcmp(mt, ok[i]) == 0)
            return true;
    return false;
}

/* Unpacks one stored layer blob into layers/<hex> (if not there yet),
 * checking its uncompressed content against the config's diff_id within the
 * budget; a failed unpack leaves nothing behind. */
static int ensure_layer(const char *data_dir, const char *digest,
                        const struct veil_unpack_opts *uo, veil_err *err)
{
    char final[VEIL_PATH_MAX], tmp[VEIL_PATH_MAX], blob[VEIL_PATH_MAX];
    veil_store_layer_path(data_dir, digest, final, sizeof final);
    if (path_exists(final))
        return 0;
    veil_store_blob_path(data_dir, digest, blob, sizeof blob);
    char rnd[17];
    uint8_t rb[8];
    veil_random_bytes(rb, sizeof rb);
    veil_hex_encode(rnd, sizeof rnd, rb, sizeof rb);
    snprintf(tmp, sizeof tmp, "%s/images/layers/.tmp-%s-%s", data_dir, digest + 7, rnd);
    if (mkdir(tmp, 0755) != 0)
        return veil_err_set(err, VEIL_E_IO, "%s: %s", tmp, strerror(errno));
    struct veil_unpack_stats st;
    if (veil_layer_unpack(blob, tmp, uo, &st, err) != 0) {
        veil_remove_tree(tmp);
        return -1;
    }
    int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
    if (rename(tmp, final) != 0) {
        int e = errno;
        veil_remove_tree(tmp);
        if (e == EEXIST || e == ENOTEMPTY)
            return 0; /* a concurrent pull finished first */
        return veil_err_set(err, VEIL_E_IO, "rename %s: %s", final, strerror(e));
    }
    fsync_dir_of(final);
    veil_log(VEIL_LOG_DEBUG, "runtime", "layer unpacked", "digest=%s entries=%llu bytes=%llu",
             digest, (unsigned long long)st.entries, (unsigned long long)st.bytes);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* index.json                                                               */
/* ------------------------------------------------------------------------ */

static json_t *index_load(const char *data_dir, veil_err *err)
{
    char p[VEIL_PATH_MAX];
    veil_store_path(data_dir, "index.json", p, sizeof p);
    uint8_t *data;
    size_t len;
    veil_err e2 = {0};
    if (veil_file_read(p, 64u << 20, &data, &len, &e2) != 0) {
        if (e2.code == VEIL_E_NOTFOUND)
            return json_pack("{s:[]}", "images");
        if (err)
            *err = e2;
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb((char *)data, len, 0, &jerr);
    free(data);
    if (!root || !json_is_array(json_object_get(root, "images"))) {
        json_decref(root);
        veil_err_set(err, VEIL_E_PARSE, "%s: corrupt image index", p);
        return NULL;
    }
    return root;
}

static int index_save(const char *data_dir, json_t *root, veil_err *err)
{
    char p[VEIL_PATH_MAX];
    veil_store_path(data_dir, "index.json", p, sizeof p);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (!text)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    int rc = veil_file_write_atomic(p, text, strlen(text), 0600, err);
    free(text);
    return rc;
}

static int index_lock(const char *data_dir, veil_err *err)
{
    char p[VEIL_PATH_MAX];
    veil_store_path(data_dir, "index.lock", p, sizeof p);
    return lock_file(p, true, err);
}

static int info_from_json(json_t *e, struct veil_image_info *info)
{
    memset(info, 0, sizeof *info);
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *man = json_string_value(json_object_get(e, "manifest"));
    const char *cfg = json_string_value(json_object_get(e, "config"));
    json_t *layers = json_object_get(e, "layers");
    if (!name || !man || !cfg || !json_is_array(layers) || veil_digest_check(man, NULL) != 0 ||
        veil_digest_check(cfg, NULL) != 0)
        return -1;
    snprintf(info->name, sizeof info->name, "%s", name);
    snprintf(info->manifest_digest, sizeof info->manifest_digest, "%s", man);
    snprintf(info->config_digest, sizeof info->config_digest, "%s", cfg);
    info->size = json_integer_value(json_object_get(e, "size"));
    info->created = json_integer_value(json_object_get(e, "created"));
    size_t n = json_array_size(layers);
    info->layers = calloc(n + 1, sizeof *info->layers);
    if (!info->layers)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *d = json_string_value(json_array_get(layers, i));
        if (!d || veil_digest_check(d, NULL) != 0) {
            veil_image_info_free(info);
            return -1;
        }
        info->layers[i] = strdup(d);
        info->n_layers = i + 1;
    }
    return 0;
}

void veil_image_info_free(struct veil_image_info *info)
{
    veil_strv_free(info->layers, info->n_layers);
    info->layers = NULL;
    info->n_layers = 0;
}

static int index_record(const char *data_dir, const char *name, const char *index_digest,
                        const struct veil_image_info *info, veil_err *err)
{
    int lk = index_lock(data_dir, err);
    if (lk < 0)
        return -1;
    json_t *root = index_load(data_dir, err);
    int rc = -1;
    if (!root)
        goto out;
    json_t *images = json_object_get(root, "images");
    size_t i;
    json_t *e;
    json_array_foreach(images, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0) {
            json_array_remove(images, i);
            break;
        }
    }
    json_t *layers = json_array();
    for (size_t k = 0; k < info->n_layers; k++)
        json_array_append_new(layers, json_string(info->layers[k]));
    json_t *entry =
        json_pack("{s:s, s:s, s:s, s:o, s:I, s:I}", "name", name, "manifest", info->manifest_digest,
                  "config", info->config_digest, "layers", layers, "size", (json_int_t)info->size,
                  "created", (json_int_t)time(NULL));
    if (index_digest && *index_digest)
        json_object_set_new(entry, "index", json_string(index_digest));
    json_array_append_new(images, entry);
    rc = index_save(data_dir, root, err);
out:
    json_decref(root);
    close(lk);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Pull                                                                     */
/* ------------------------------------------------------------------------ */

/* The image config: from the store when there (it was verified when
 * stored), else fetched and verified, then stored; parsed either way, since
 * its diff_ids check the layers. One diff_id per layer, linux/amd64 only. */
static int load_config(struct veil_registry_client *rc, const char *data_dir,
                       const struct veil_manifest *m, veil_buf *body,
                       struct veil_image_config *icfg, veil_err *err)
{
    char cpath[VEIL_PATH_MAX];
    veil_store_blob_path(data_dir, m->config.digest, cpath, sizeof cpath);
    bool stored = path_exists(cpath);
    int rc2;
    if (stored) {
        uint8_t *data;
        size_t len;
        if (veil_file_read(cpath, 16u << 20, &data, &len, err) != 0)
            return -1;
        rc2 = veil_image_config_parse(data, len, icfg, err);
        free(data);
    } else {
        if (veil_registry_get_blob_mem(rc, &m->config, body, err) != 0)
            return -1;
        rc2 = veil_image_config_parse(body->data, body->len, icfg, err);
    }
    if (rc2 != 0)
        return -1;
    if (icfg->os && icfg->arch &&
        (strcmp(icfg->os, "linux") != 0 || strcmp(icfg->arch, "amd64") != 0))
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "image is not for linux/amd64");
    if (icfg->n_diff_ids != m->n_items)
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "image config lists %zu diff_ids for %zu layers", icfg->n_diff_ids,
                            m->n_items);
    if (!stored && store_put_blob(data_dir, m->config.digest, body->data, body->len, err) != 0)
        return -1;
    return 0;
}

int veil_image_pull(const char *data_dir, const struct veil_image_ref *ref,
                    const struct veil_registry_opts *opts, struct veil_image_info *out,
                    veil_err *err)
{
    memset(out, 0, sizeof *out);
    int lock = veil_store_lock(data_dir, false, err);
    if (lock < 0)
        return -1;
    struct veil_registry_client *rc = NULL;
    struct veil_manifest m = {0};
    struct veil_image_config icfg = {0};
    veil_buf body;
    veil_buf_init(&body);
    char index_digest[VEIL_DIGEST_BUFLEN] = "";
    int result = -1;
    if (veil_registry_open(&rc, ref, opts, err) != 0)
        goto out;

    char ct[160], digest[VEIL_DIGEST_BUFLEN];
    const char *reference = ref->digest[0] ? ref->digest : ref->tag;
    if (veil_registry_get_manifest(rc, reference, ref->digest, &body, ct, sizeof ct, digest, err) !=
        0)
        goto out;
    if (veil_manifest_parse(body.data, body.len, ct, &m, err) != 0)
        goto out;
    if (store_put_blob(data_dir, digest, body.data, body.len, err) != 0)
        goto out;
    if (m.kind == VEIL_MANIFEST_INDEX) {
        size_t pos;
        if (veil_manifest_select(&m, "linux", "amd64", NULL, &pos, err) != 0)
            goto out;
        snprintf(index_digest, sizeof index_digest, "%s", digest);
        char want[VEIL_DIGEST_BUFLEN];
        snprintf(want, sizeof want, "%s", m.items[pos].digest);
        veil_manifest_free(&m);
        if (veil_registry_get_manifest(rc, want, want, &body, ct, sizeof ct, digest, err) != 0)
            goto out;
        if (veil_manifest_parse(body.data, body.len, ct, &m, err) != 0)
            goto out;
        if (m.kind != VEIL_MANIFEST_IMAGE) {
            veil_err_set(err, VEIL_E_PROTOCOL, "index entry %s is not an image manifest", want);
            goto out;
        }
        if (store_put_blob(data_dir, digest, body.data, body.len, err) != 0)
            goto out;
    }
    snprintf(out->manifest_digest, sizeof out->manifest_digest, "%s", digest);
    snprintf(out->config_digest, sizeof out->config_digest, "%s", m.config.digest);

    /* Config: small, fetched into memory, verified, parsed. */
    if (m.config.size > (16 << 20)) {
        veil_err_set(err, VEIL_E_LIMIT, "image config of %lld bytes", (long long)m.config.size);
        goto out;
    }
    if (load_config(rc, data_dir, &m, &body, &icfg, err) != 0)
        goto out;
    out->size = m.config.size;
    out->layers = calloc(m.n_items + 1, sizeof *out->layers);
    if (!out->layers) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m.n_items; i++) {
        const struct veil_descriptor *d = &m.items[i];
        struct veil_unpack_opts uo = {.diff_id = icfg.diff_ids[i],
                                      .max_bytes = opts ? opts->max_layer_bytes : 0};
        if (!layer_media_type_ok(d->media_type)) {
            veil_err_set(err, VEIL_E_UNSUPPORTED, "layer %s has media type '%s'", d->digest,
                         d->media_type);
            goto out;
        }
        char lpath[VEIL_PATH_MAX];
        veil_store_layer_path(data_dir, d->digest, lpath, sizeof lpath);
        if (!path_exists(lpath)) {
            if (!opts || !opts->quiet)
                fprintf(stderr, "layer %s: downloading %lld bytes\n", d->digest,
                        (long long)d->size);
            if (fetch_blob_to_store(rc, data_dir, d, err) != 0 ||
                ensure_layer(data_dir, d->digest, &uo, err) != 0) {
                veil_err_wrap(err, "layer %zu of %s", i, out->manifest_digest);
                goto out;
            }
        }
        out->layers[i] = strdup(d->digest);
        out->n_layers = i + 1;
        out->size += d->size;
    }
    /* Record under the tag name, and under name@digest when pulled by digest. */
    char name[sizeof out->name];
    struct veil_image_ref named = *ref;
    if (ref->digest[0]) {
        named.tag[0] = '\0';
        veil_image_ref_format(&named, name, sizeof name);
        if (index_record(data_dir, name, index_digest, out, err) != 0)
            goto out;
        named = *ref;
        named.digest[0] = '\0';
    }
    if (named.tag[0]) {
        named.digest[0] = '\0';
        veil_image_ref_format(&named, name, sizeof name);
        if (index_record(data_dir, name, index_digest, out, err) != 0)
            goto out;
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    result = 0;
out:
    if (result != 0)
        veil_image_info_free(out);
    veil_manifest_free(&m);
    veil_image_config_free(&icfg);
    veil_buf_free(&body);
    veil_registry_close(rc);
    close(lock);
    return result;
}

/* ------------------------------------------------------------------------ */
/* Queries, removal, GC                                                     */
/* ------------------------------------------------------------------------ */

int veil_image_list(const char *data_dir, struct veil_image_info **out, size_t *n, veil_err *err)
{
    *out = NULL;
    *n = 0;
    json_t *root = index_load(data_dir, err);
    if (!root)
        return -1;
    json_t *images = json_object_get(root, "images");
    size_t count = json_array_size(images);
    struct veil_image_info *list = calloc(count + 1, sizeof *list);
    if (!list) {
        json_decref(root);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    size_t k = 0, i;
    json_t *e;
    json_array_foreach(images, i, e)
    {
        if (info_from_json(e, &list[k]) == 0)
            k++;
    }
    json_decref(root);
    *out = list;
    *n = k;
    return 0;
}

void veil_image_list_free(struct veil_image_info *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        veil_image_info_free(&list[i]);
    free(list);
}

/* Matches a user-given name against a stored one: exact, canonical form of
 * a reference, or a manifest digest (or a unique prefix of its hex). */
static bool name_matches(const struct veil_image_info *info, const char *name)
{
    if (strcmp(info->name, name) == 0 || strcmp(info->manifest_digest, name) == 0)
        return true;
    struct veil_image_ref ref;
    if (veil_image_ref_parse(name, &ref, NULL) == 0) {
        char canon[sizeof info->name];
        veil_image_ref_format(&ref, canon, sizeof canon);
        if (strcmp(canon, info->name) == 0)
            return true;
    }
    size_t n = strlen(name);
    return n >= 12 && strncmp(info->manifest_digest + 7, name, n) == 0;
}

int veil_image_lookup(const char *data_dir, const char *name, struct veil_image_info *out,
                      veil_err *err)
{
    struct veil_image_info *list;
    size_t n;
    if (veil_image_list(data_dir, &list, &n, err) != 0)
        return -1;
    int rc =
        veil_err_set(err, VEIL_E_NOTFOUND, "no image '%s' in the store (veil image pull)", name);
    for (size_t i = 0; i < n; i++)
        if (name_matches(&list[i], name)) {
            *out = list[i];
            memset(&list[i], 0, sizeof list[i]);
            rc = 0;
            veil_err_clear(err);
            break;
        }
    veil_image_list_free(list, n);
    return rc;
}

int veil_image_remove(const char *data_dir, const char *name, veil_err *err)
{
    int lk = index_lock(data_dir, err);
    if (lk < 0)
        return -1;
    json_t *root = index_load(data_dir, err);
    int rc = -1;
    if (!root)
        goto out;
    json_t *images = json_object_get(root, "images");
    size_t removed = 0;
    for (size_t i = 0; i < json_array_size(images);) {
        struct veil_image_info info;
        if (info_from_json(json_array_get(images, i), &info) == 0 && name_matches(&info, name)) {
            json_array_remove(images, i);
            removed++;
        } else {
            i++;
        }
        veil_image_info_free(&info);
    }
    if (!removed) {
        veil_err_set(err, VEIL_E_NOTFOUND, "no image '%s'", name);
        goto out;
    }
    rc = index_save(data_dir, root, err);
out:
    json_decref(root);
    close(lk);
    return rc;
}

struct ref_set {
    char **items;
    size_t n, cap;
};

static void ref_add(struct ref_set *s, const char *digest)
{
    if (!digest || veil_digest_check(digest, NULL) != 0)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **p = realloc(s->items, cap * sizeof *p);
        if (!p)
            return;
        s->items = p;
        s->cap = cap;
    }
    s->items[s->n++] = strdup(digest + 7);
}

static bool ref_has(const struct ref_set *s, const char *hex)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i] && strcmp(s->items[i], hex) == 0)
            return true;
    return false;
}

static uint64_t tree_size(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return (uint64_t)st.st_size;
    uint64_t total = 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char sub[VEIL_PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) < (int)sizeof sub)
            total += tree_size(sub);
    }
    closedir(d);
    return total;
}

/* Containers pin the layers and config they were created from. */
static void collect_container_refs(const char *data_dir, struct ref_set *refs)
{
    char cdir[VEIL_PATH_MAX];
    snprintf(cdir, sizeof cdir, "%s/containers", data_dir);
    DIR *d = opendir(cdir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char p[VEIL_PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s/state.json", cdir, de->d_name) >= (int)sizeof p)
            continue;
        json_t *root = json_load_file(p, 0, NULL);
        if (!root)
            continue;
        ref_add(refs, json_string_value(json_object_get(root, "config_digest")));
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(root, "layers"), i, l)
            ref_add(refs, json_string_value(l));
        json_decref(root);
    }
    closedir(d);
}

int veil_image_gc(const char *data_dir, struct veil_gc_stats *stats, veil_err *err)
{
    memset(stats, 0, sizeof *stats);
    int lock = veil_store_lock(data_dir, true, err);
    if (lock < 0)
        return -1;
    int rc = -1;
    struct ref_set refs = {0};
    json_t *root = index_load(data_dir, err);
    if (!root)
        goto out;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(root, "images"), i, e)
    {
        ref_add(&refs, json_string_value(json_object_get(e, "manifest")));
        ref_add(&refs, json_string_value(json_object_get(e, "index")));
        ref_add(&refs, json_string_value(json_object_get(e, "config")));
        size_t k;
        json_t *l;
        json_array_foreach(json_object_get(e, "layers"), k, l) ref_add(&refs, json_string_value(l));
    }
    json_decref(root);
    collect_container_refs(data_dir, &refs);

    static const char *const dirs[] = {"blobs/sha256", "layers"};
    for (size_t di = 0; di < 2; di++) {
        char dir[VEIL_PATH_MAX];
        veil_store_path(data_dir, dirs[di], dir, sizeof dir);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            if (ref_has(&refs, de->d_name))
                continue;
            char p[VEIL_PATH_MAX];
            if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= (int)sizeof p)
                continue;
            uint64_t size = tree_size(p);
            if (veil_remove_tree(p) == 0) {
                stats->bytes_freed += size;
                if (di == 0)
                    stats->blobs_removed++;
                else
                    stats->layers_removed++;
            }
        }
        closedir(d);
    }
    rc = 0;
out:
    for (size_t k = 0; k < refs.n; k++)
        free(refs.items[k]);
    free(refs.items);
    close(lock);
    return rc;
}
