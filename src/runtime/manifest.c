// SPDX-License-Identifier: Apache-2.0
/*
 * manifest.c - parsing of OCI image manifests and indexes, Docker v2
 * manifests and manifest lists, and image configs (OCI image-spec
 * manifest.md, image-index.md, config.md; Docker "Image Manifest V2,
 * Schema 2"). Input is untrusted registry data: sizes, counts, types and
 * digests are all checked here, before anything else looks at them.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <veil/runtime.h>

static int copy_str(char *dst, size_t cap, json_t *v, const char *what, bool required,
                    veil_err *err)
{
    if (!v) {
        if (required)
            return veil_err_set(err, VEIL_E_PARSE, "manifest: missing %s", what);
        dst[0] = '\0';
        return 0;
    }
    if (!json_is_string(v))
        return veil_err_set(err, VEIL_E_PARSE, "manifest: %s is not a string", what);
    size_t n = json_string_length(v);
    if (n >= cap || strlen(json_string_value(v)) != n)
        return veil_err_set(err, VEIL_E_RANGE, "manifest: %s too long or has NUL", what);
    memcpy(dst, json_string_value(v), n + 1);
    return 0;
}

static int parse_descriptor(json_t *obj, struct veil_descriptor *d, bool want_platform,
                            veil_err *err)
{
    memset(d, 0, sizeof *d);
    if (!json_is_object(obj))
        return veil_err_set(err, VEIL_E_PARSE, "manifest: descriptor is not an object");
    if (copy_str(d->media_type, sizeof d->media_type, json_object_get(obj, "mediaType"),
                 "descriptor mediaType", false, err) != 0 ||
        copy_str(d->digest, sizeof d->digest, json_object_get(obj, "digest"), "descriptor digest",
                 true, err) != 0)
        return -1;
    if (veil_digest_check(d->digest, err) != 0)
        return veil_err_wrap(err, "manifest");
    json_t *size = json_object_get(obj, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return veil_err_set(err, VEIL_E_PARSE, "manifest: descriptor %s has no valid size",
                            d->digest);
    d->size = json_integer_value(size);
    if (want_platform) {
        json_t *p = json_object_get(obj, "platform");
        if (p) {
            if (!json_is_object(p))
                return veil_err_set(err, VEIL_E_PARSE, "manifest: platform is not an object");
            if (copy_str(d->os, sizeof d->os, json_object_get(p, "os"), "platform os", false,
                         err) != 0 ||
                copy_str(d->arch, sizeof d->arch, json_object_get(p, "architecture"),
                         "platform architecture", false, err) != 0 ||
                copy_str(d->variant, sizeof d->variant, json_object_get(p, "variant"),
                         "platform variant", false, err) != 0)
                return -1;
        }
    }
    return 0;
}

int veil_manifest_parse(const void *data, size_t len, const char *content_type,
                        struct veil_manifest *m, veil_err *err)
{
    memset(m, 0, sizeof *m);
    if (len > VEIL_MANIFEST_MAX_BYTES)
        return veil_err_set(err, VEIL_E_LIMIT, "manifest of %zu bytes exceeds the 4 MiB limit",
                            len);
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return veil_err_set(err, VEIL_E_PARSE, "manifest: invalid JSON at line %d: %s", jerr.line,
                            jerr.text);
    int rc = -1;
    if (!json_is_object(root)) {
        veil_err_set(err, VEIL_E_PARSE, "manifest: not a JSON object");
        goto out;
    }
    json_t *sv = json_object_get(root, "schemaVersion");
    if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
        veil_err_set(err, VEIL_E_UNSUPPORTED, "manifest: schemaVersion must be 2");
        goto out;
    }
    if (copy_str(m->media_type, sizeof m->media_type, json_object_get(root, "mediaType"),
                 "mediaType", false, err) != 0)
        goto out;
    if (!m->media_type[0] && content_type) {
        size_t n = strcspn(content_type, "; ");
        if (n < sizeof m->media_type) {
            memcpy(m->media_type, content_type, n);
            m->media_type[n] = '\0';
        }
    }
    json_t *manifests = json_object_get(root, "manifests");
    json_t *layers = json_object_get(root, "layers");
    if (manifests && layers) {
        veil_err_set(err, VEIL_E_PARSE, "manifest: has both manifests and layers");
        goto out;
    }
    json_t *arr;
    if (manifests) {
        m->kind = VEIL_MANIFEST_INDEX;
        arr = manifests;
        if (m->media_type[0] && strcmp(m->media_type, VEIL_MT_OCI_INDEX) != 0 &&
            strcmp(m->media_type, VEIL_MT_DOCKER_LIST) != 0) {
            veil_err_set(err, VEIL_E_UNSUPPORTED, "manifest: index with media type '%s'",
                         m->media_type);
            goto out;
        }
    } else if (layers) {
        m->kind = VEIL_MANIFEST_IMAGE;
        arr = layers;
        if (m->media_type[0] && strcmp(m->media_type, VEIL_MT_OCI_MANIFEST) != 0 &&
            strcmp(m->media_type, VEIL_MT_DOCKER_MANIFEST) != 0) {
            veil_err_set(err, VEIL_E_UNSUPPORTED, "manifest: media type '%s'", m->media_type);
            goto out;
        }
        if (parse_descriptor(json_object_get(root, "config"), &m->config, false, err) != 0) {
            veil_err_wrap(err, "config");
            goto out;
        }
    } else {
        veil_err_set(err, VEIL_E_PARSE, "manifest: neither layers nor manifests");
        goto out;
    }
    if (!json_is_array(arr)) {
        veil_err_set(err, VEIL_E_PARSE, "manifest: layers/manifests is not an array");
        goto out;
    }
    size_t n = json_array_size(arr);
    if (n > VEIL_MANIFEST_MAX_ENTRIES) {
        veil_err_set(err, VEIL_E_LIMIT, "manifest: %zu entries (at most %u)", n,
                     VEIL_MANIFEST_MAX_ENTRIES);
        goto out;
    }
    if (n == 0 && m->kind == VEIL_MANIFEST_INDEX) {
        veil_err_set(err, VEIL_E_PARSE, "manifest: empty index");
        goto out;
    }
    m->items = calloc(n ? n : 1, sizeof *m->items);
    if (!m->items) {
        veil_err_set(err, VEIL_E_NOMEM, "manifest: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (parse_descriptor(json_array_get(arr, i), &m->items[i], m->kind == VEIL_MANIFEST_INDEX,
                             err) != 0)
            goto out;
        m->n_items = i + 1;
    }
    rc = 0;
out:
    json_decref(root);
    if (rc != 0)
        veil_manifest_free(m);
    return rc;
}

void veil_manifest_free(struct veil_manifest *m)
{
    free(m->items);
    m->items = NULL;
    m->n_items = 0;
}

int veil_manifest_select(const struct veil_manifest *index, const char *os, const char *arch,
                         const char *variant, size_t *pos, veil_err *err)
{
    if (index->kind != VEIL_MANIFEST_INDEX)
        return veil_err_set(err, VEIL_E_INVALID, "not an index");
    for (size_t i = 0; i < index->n_items; i++) {
        const struct veil_descriptor *d = &index->items[i];
        if (strcmp(d->os, os) != 0 || strcmp(d->arch, arch) != 0)
            continue;
        if (variant && *variant && strcmp(d->variant, variant) != 0)
            continue;
        *pos = i;
        return 0;
    }
    return veil_err_set(err, VEIL_E_NOTFOUND, "image index has no manifest for %s/%s%s%s", os, arch,
                        variant && *variant ? "/" : "", variant ? variant : "");
}

/* A JSON array of strings (or null) into a NULL-terminated char* array. */
static int string_array(json_t *v, char ***out, size_t *n, const char *what, veil_err *err)
{
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return veil_err_set(err, VEIL_E_PARSE, "image config: %s is not an array", what);
    size_t count = json_array_size(v);
    if (count > 65536)
        return veil_err_set(err, VEIL_E_LIMIT, "image config: %s has %zu entries", what, count);
    char **arr = calloc(count + 1, sizeof *arr);
    if (!arr)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s)) {
            for (size_t j = 0; j < i; j++)
                free(arr[j]);
            free(arr);
            return veil_err_set(err, VEIL_E_PARSE, "image config: %s[%zu] is not a string", what,
                                i);
        }
        arr[i] = strdup(json_string_value(s));
    }
    *out = arr;
    *n = count;
    return 0;
}

static char *opt_string(json_t *v)
{
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return strdup(json_string_value(v));
}

int veil_image_config_parse(const void *data, size_t len, struct veil_image_config *cfg,
                            veil_err *err)
{
    memset(cfg, 0, sizeof *cfg);
    if (len > (16u << 20))
        return veil_err_set(err, VEIL_E_LIMIT, "image config of %zu bytes is too large", len);
    json_error_t jerr;
    json_t *root = json_loadb(data, len, 0, &jerr);
    if (!root)
        return veil_err_set(err, VEIL_E_PARSE, "image config: invalid JSON at line %d: %s",
                            jerr.line, jerr.text);
    int rc = -1;
    if (!json_is_object(root)) {
        veil_err_set(err, VEIL_E_PARSE, "image config: not an object");
        goto out;
    }
    cfg->os = opt_string(json_object_get(root, "os"));
    cfg->arch = opt_string(json_object_get(root, "architecture"));
    json_t *rootfs = json_object_get(root, "rootfs");
    if (string_array(rootfs ? json_object_get(rootfs, "diff_ids") : NULL, &cfg->diff_ids,
                     &cfg->n_diff_ids, "rootfs.diff_ids", err) != 0)
        goto out;
    for (size_t i = 0; i < cfg->n_diff_ids; i++)
        if (veil_digest_check(cfg->diff_ids[i], err) != 0) {
            veil_err_wrap(err, "image config: rootfs.diff_ids[%zu]", i);
            goto out;
        }
    json_t *c = json_object_get(root, "config");
    if (c && !json_is_null(c)) {
        if (!json_is_object(c)) {
            veil_err_set(err, VEIL_E_PARSE, "image config: config is not an object");
            goto out;
        }
        if (string_array(json_object_get(c, "Env"), &cfg->env, &cfg->n_env, "Env", err) != 0 ||
            string_array(json_object_get(c, "Entrypoint"), &cfg->entrypoint, &cfg->n_entrypoint,
                         "Entrypoint", err) != 0 ||
            string_array(json_object_get(c, "Cmd"), &cfg->cmd, &cfg->n_cmd, "Cmd", err) != 0)
            goto out;
        cfg->working_dir = opt_string(json_object_get(c, "WorkingDir"));
        cfg->user = opt_string(json_object_get(c, "User"));
    }
    rc = 0;
out:
    json_decref(root);
    if (rc != 0)
        veil_image_config_free(cfg);
    return rc;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void veil_image_config_free(struct veil_image_config *cfg)
{
    free_strv(cfg->env, cfg->n_env);
    free_strv(cfg->entrypoint, cfg->n_entrypoint);
    free_strv(cfg->cmd, cfg->n_cmd);
    free(cfg->working_dir);
    free(cfg->user);
    free(cfg->os);
    free(cfg->arch);
    free_strv(cfg->diff_ids, cfg->n_diff_ids);
    memset(cfg, 0, sizeof *cfg);
}
