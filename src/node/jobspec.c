// SPDX-License-Identifier: Apache-2.0
/*
 * jobspec.c - job.yaml: strict parsing and validation (unknown fields, wrong
 * types, bad quantities, bad image references are refused with the field
 * path, line and reason), the canonical JSON form and the job id.
 *
 * Accepted document (every field but name and image optional):
 *   name: web                          # DNS label, 1..63
 *   image: reg:5000/busybox@sha256:<64 hex>   (or repo:tag, resolved later)
 *   command: [/bin/sh, -c]             # sequence of strings
 *   args: ["echo hi"]
 *   env: {GREETING: hello}             # names [A-Za-z_][A-Za-z0-9_]*
 *   resources: {cpu: 500m, memory: 64Mi, disk: 1Gi, gpu: 1}
 *   replicas: 2                        # 1..64
 *   policy: binpack                    # binpack | spread | priority | lowest-latency | weighted
 *   placement: lowest-latency          # the same as policy: (lowest-latency or weighted)
 *   latency_to: 0                      # lowest-latency, weighted: landmark slot 0..3
 *   latency_weight: 1                  # weighted only: 0..16 (default 1)
 *   load_weight: 1                     # weighted only: 0..4 (default 1), not both 0
 *   constraints: {region: eu-west, zone: 2}
 *   confidential: false
 *
 * A confidential job as the nodes see it (`veil job run` encrypts the
 * request and sends this "redacted" form; the values never leave the
 * submitter's machine): resources and constraints are the string
 * "confidential", and request_digest is the BLAKE2b-256 (hex) of the request
 * ciphertext, so that the job id commits to that ciphertext:
 *   resources: confidential
 *   constraints: confidential
 *   request_digest: <64 hex>
 *   confidential: true
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>
#include <yaml.h>

#include <veil/node.h>

#define STRING_MAX   4096
#define ENV_NAME_MAX 256

struct parse_ctx {
    yaml_document_t *doc;
    const char *origin;
    veil_err *err;
    /* the redacted form of a confidential spec (all three or none) */
    bool redacted_resources, redacted_constraints, have_digest;
    bool have_policy, have_placement, have_latency_to, have_latency_weight, have_load_weight;
    struct veil_job_expose *expose; /* the expose entry being read */
};

static int fail_at(struct parse_ctx *c, const yaml_node_t *node, const char *path, const char *fmt,
                   ...) VEIL_PRINTF(4, 5);

static int fail_at(struct parse_ctx *c, const yaml_node_t *node, const char *path, const char *fmt,
                   ...)
{
    char reason[VEIL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    unsigned long line = node ? (unsigned long)node->start_mark.line + 1 : 1;
    if (path && *path)
        return veil_err_set(c->err, VEIL_E_INVALID, "%s:%lu: %s: %s", c->origin, line, path,
                            reason);
    return veil_err_set(c->err, VEIL_E_INVALID, "%s:%lu: %s", c->origin, line, reason);
}

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

/* Scalar text, refusing non-scalars and embedded NULs. */
static int scalar_text(struct parse_ctx *c, const yaml_node_t *n, const char *path,
                       const char *what, const char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail_at(c, n, path, "expected %s, got %s", what, kind_name(n));
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length)
        return fail_at(c, n, path, "contains a NUL character");
    if (n->data.scalar.length > STRING_MAX)
        return fail_at(c, n, path, "longer than %d bytes", STRING_MAX);
    *out = s;
    return 0;
}

static bool is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int parse_uint(struct parse_ctx *c, const yaml_node_t *n, const char *path, uint64_t min,
                      uint64_t max, uint64_t *out)
{
    const char *s;
    if (scalar_text(c, n, path, "an integer", &s) != 0)
        return -1;
    if (!is_plain(n) || !*s || strspn(s, "0123456789") != strlen(s))
        return fail_at(c, n, path, "\"%s\" is not an integer", s);
    if (strlen(s) > 1 && s[0] == '0')
        return fail_at(c, n, path, "\"%s\": leading zeros are not allowed", s);
    uint64_t v = 0;
    for (const char *p = s; *p; p++)
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
            return fail_at(c, n, path, "\"%s\" is out of range (%llu..%llu)", s,
                           (unsigned long long)min, (unsigned long long)max);
    if (v < min || v > max)
        return fail_at(c, n, path, "%s is out of range (%llu..%llu)", s, (unsigned long long)min,
                       (unsigned long long)max);
    *out = v;
    return 0;
}

static bool valid_job_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > VEIL_JOB_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
        if (!ok)
            return false;
    }
    return s[0] != '-' && s[n - 1] != '-';
}

static bool valid_env_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ENV_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    }
    return true;
}

/* Image reference: [host[:port]/]path[:tag][@sha256:<64 lowercase hex>]
 * (OCI distribution-spec naming: path components [a-z0-9]+ separated by
 * '.', '_', '__' or '-'; tags [A-Za-z0-9_][A-Za-z0-9._-]{0,127}). On failure
 * returns a reason. */
static const char *split_image(struct veil_job_spec *spec, const char *image)
{
    const char *at = strchr(image, '@');
    size_t name_len = at ? (size_t)(at - image) : strlen(image);
    if (at) {
        const char *d = at + 1;
        if (strncmp(d, "sha256:", 7) != 0)
            return "digest must be sha256:<64 hex digits>";
        const char *hex = d + 7;
        if (strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
            return "digest must be sha256: followed by 64 lowercase hex digits";
        snprintf(spec->image_digest, sizeof spec->image_digest, "%s", d);
    }
    if (name_len == 0 || name_len > 255)
        return "repository name must be 1..255 characters";
    /* The tag is after the last ':' that follows the last '/'. */
    const char *last_slash = NULL;
    for (size_t i = 0; i < name_len; i++)
        if (image[i] == '/')
            last_slash = image + i;
    const char *colon = NULL;
    for (const char *p = last_slash ? last_slash : image; p < image + name_len; p++)
        if (*p == ':')
            colon = p;
    size_t repo_len = colon ? (size_t)(colon - image) : name_len;
    if (colon) {
        size_t tag_len = name_len - repo_len - 1;
        const char *tag = colon + 1;
        if (tag_len == 0 || tag_len > 128 || tag[0] == '.' || tag[0] == '-')
            return "bad tag";
        for (size_t i = 0; i < tag_len; i++) {
            char ch = tag[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
                return "bad tag";
        }
        spec->image_tag = strndup(tag, tag_len);
    }
    if (!colon && !at)
        return "has neither a :tag nor an @sha256: digest";
    /* Repository: optional host (has '.' or ':' or is "localhost") then path. */
    const char *path = image;
    const char *first_slash = memchr(image, '/', repo_len);
    if (first_slash) {
        size_t host_len = (size_t)(first_slash - image);
        bool is_host = memchr(image, '.', host_len) || memchr(image, ':', host_len) ||
                       (host_len == 9 && memcmp(image, "localhost", 9) == 0);
        if (is_host) {
            for (size_t i = 0; i < host_len; i++) {
                char ch = image[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == ':'))
                    return "bad registry host";
            }
            path = first_slash + 1;
        }
    }
    size_t path_len = repo_len - (size_t)(path - image);
    if (path_len == 0)
        return "empty repository path";
    bool prev_sep = true;
    for (size_t i = 0; i < path_len; i++) {
        char ch = path[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        bool sep = ch == '.' || ch == '_' || ch == '-' || ch == '/';
        if (!alnum && !sep)
            return "repository path must be lowercase letters, digits and . _ - /";
        if (sep && prev_sep && !(ch == '_' && i > 0 && path[i - 1] == '_'))
            return "repository path has an empty or malformed component";
        prev_sep = sep;
    }
    if (prev_sep)
        return "repository path ends with a separator";
    spec->image_repo = strndup(image, repo_len);
    return NULL;
}

static int parse_string_list(struct parse_ctx *c, const yaml_node_t *n, const char *path,
                             char ***out, size_t *n_out)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail_at(c, n, path, "expected a sequence of strings, got %s", kind_name(n));
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > VEIL_JOB_MAX_ARGS)
        return fail_at(c, n, path, "more than %d entries", VEIL_JOB_MAX_ARGS);
    char **items = calloc(count ? count : 1, sizeof *items);
    if (!items)
        return veil_err_set(c->err, VEIL_E_NOMEM, "out of memory");
    *out = items;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *it = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
        char sub[64];
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        const char *s;
        if (scalar_text(c, it, sub, "a string", &s) != 0)
            return -1;
        items[i] = strdup(s);
        *n_out = i + 1;
        if (!items[i])
            return veil_err_set(c->err, VEIL_E_NOMEM, "out of memory");
    }
    return 0;
}

static int cmp_env(const void *a, const void *b)
{
    return strcmp(((const struct veil_env_var *)a)->name, ((const struct veil_env_var *)b)->name);
}

/* Calls `fn` for each key of a mapping, refusing non-string and duplicate keys. */
typedef int (*field_fn)(struct parse_ctx *c, struct veil_job_spec *spec, const char *key,
                        yaml_node_t *key_node, yaml_node_t *value);

static int walk_map(struct parse_ctx *c, struct veil_job_spec *spec, yaml_node_t *map,
                    const char *path, field_fn fn)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail_at(c, map, path, "expected a mapping, got %s", kind_name(map));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return fail_at(c, k, path, "keys must be strings");
        const char *key = (const char *)k->data.scalar.value;
        if (strlen(key) != k->data.scalar.length || k->data.scalar.length > 256)
            return fail_at(c, k, path, "bad key");
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = yaml_document_get_node(c->doc, q->key);
            if (k2 && k2->type == YAML_SCALAR_NODE &&
                strcmp((const char *)k2->data.scalar.value, key) == 0) {
                char full[128];
                snprintf(full, sizeof full, "%s%s%s", path, *path ? "." : "", key);
                return fail_at(c, k, full, "duplicate field");
            }
        }
        if (fn(c, spec, key, k, v) != 0)
            return -1;
    }
    return 0;
}

static int resource_field(struct parse_ctx *c, struct veil_job_spec *spec, const char *key,
                          yaml_node_t *k, yaml_node_t *v)
{
    static const struct {
        const char *name;
        int unit_exp10;
        const char *example;
        size_t offset;
    } fields[] = {
        {"cpu", -3, "500m", offsetof(struct veil_job_spec, cpu_millis)},
        {"memory", 0, "64Mi", offsetof(struct veil_job_spec, memory_bytes)},
        {"disk", 0, "1Gi", offsetof(struct veil_job_spec, disk_bytes)},
        {"gpu", 0, "1", offsetof(struct veil_job_spec, gpus)},
    };
    char path[64];
    snprintf(path, sizeof path, "resources.%s", key);
    for (size_t i = 0; i < VEIL_ARRAY_LEN(fields); i++) {
        if (strcmp(key, fields[i].name) != 0)
            continue;
        const char *s;
        if (scalar_text(c, v, path, "a quantity", &s) != 0)
            return -1;
        veil_err qerr = {0};
        uint64_t q;
        if (veil_quantity_parse(s, fields[i].unit_exp10, &q, &qerr) != 0) {
            if (qerr.code == VEIL_E_PARSE)
                return fail_at(c, v, path, "\"%s\" is not a quantity (e.g. %s)", s,
                               fields[i].example);
            return fail_at(c, v, path, "\"%s\": %s", s, qerr.msg);
        }
        *(uint64_t *)((char *)spec + fields[i].offset) = q;
        return 0;
    }
    return fail_at(c, k, path, "unknown field (expected cpu, memory, disk, gpu)");
}

/* latency_to: the landmark slot; latency_weight, load_weight: the weighted
 * cost's weights (their bounds keep the cost inside the circuit's key). */
static int placement_number(struct parse_ctx *c, struct veil_job_spec *spec, const char *key,
                            yaml_node_t *v)
{
    uint64_t u;
    if (strcmp(key, "latency_to") == 0) {
        if (parse_uint(c, v, "latency_to", 0, VEIL_LATENCY_SLOTS - 1, &u) != 0)
            return -1;
        spec->latency_to = (uint8_t)u;
        c->have_latency_to = true;
        return 0;
    }
    bool lat = strcmp(key, "latency_weight") == 0;
    if (parse_uint(c, v, key, 0, lat ? VEIL_WEIGHT_LATENCY_MAX : VEIL_WEIGHT_LOAD_MAX, &u) != 0)
        return -1;
    *(lat ? &spec->latency_weight : &spec->load_weight) = (uint8_t)u;
    *(lat ? &c->have_latency_weight : &c->have_load_weight) = true;
    return 0;
}

static bool is_placement(int p)
{
    return p == VEIL_POLICY_LATENCY || p == VEIL_POLICY_WEIGHTED;
}

/* policy: any policy; placement: lowest-latency or weighted (an alias that
 * may not contradict policy); the numbers: placement_number. */
static int placement_field(struct parse_ctx *c, struct veil_job_spec *spec, const char *key,
                           yaml_node_t *v)
{
    const char *s;
    if (strcmp(key, "policy") != 0 && strcmp(key, "placement") != 0)
        return placement_number(c, spec, key, v);
    bool placement = strcmp(key, "placement") == 0;
    if (scalar_text(c, v, key, "a string", &s) != 0)
        return -1;
    int found = -1;
    for (int p = VEIL_POLICY_BINPACK; p <= VEIL_POLICY_LAST; p++)
        if (strcmp(s, veil_policy_name((enum veil_policy)p)) == 0)
            found = p;
    if (placement && !is_placement(found))
        return fail_at(c, v, key, "\"%s\" is not a placement (lowest-latency, weighted)", s);
    if (found < 0)
        return fail_at(c, v, key,
                       "\"%s\" is not a policy (binpack, spread, priority, lowest-latency, "
                       "weighted)",
                       s);
    if ((placement && c->have_policy && spec->policy != (enum veil_policy)found) ||
        (!placement && c->have_placement && spec->policy != (enum veil_policy)found))
        return fail_at(c, v, key, "placement: %s contradicts policy: %s",
                       veil_policy_name(placement ? (enum veil_policy)found : spec->policy),
                       veil_policy_name(placement ? spec->policy : (enum veil_policy)found));
    spec->policy = (enum veil_policy)found;
    *(placement ? &c->have_placement : &c->have_policy) = true;
    return 0;
}

static int constraint_field(struct parse_ctx *c, struct veil_job_spec *spec, const char *key,
                            yaml_node_t *k, yaml_node_t *v)
{
    char path[64];
    snprintf(path, sizeof path, "constraints.%s", key);
    uint64_t code;
    if (strcmp(key, "region") == 0) {
        const char *s;
        if (scalar_text(c, v, path, "a region name or code", &s) != 0)
            return -1;
        uint8_t rc;
        if (veil_region_code(s, &rc) == 0) {
            spec->region = rc;
            return 0;
        }
        if (!is_plain(v) || !*s || strspn(s, "0123456789") != strlen(s))
            return fail_at(c, v, path,
                           "\"%s\" is not a known region (e.g. eu-west) or a code 1..%d", s,
                           VEIL_LABEL_MAX);
        if (parse_uint(c, v, path, 1, VEIL_LABEL_MAX, &code) != 0)
            return -1;
        spec->region = (uint8_t)code;
        return 0;
    }
    if (strcmp(key, "zone") == 0) {
        if (parse_uint(c, v, path, 1, VEIL_LABEL_MAX, &code) != 0)
            return -1;
        spec->zone = (uint8_t)code;
        return 0;
    }
    return fail_at(c, k, path, "unknown field (expected region, zone)");
}

static int env_field(struct parse_ctx *c, struct veil_job_spec *spec, const char *key,
                     yaml_node_t *k, yaml_node_t *v)
{
    char path[300];
    snprintf(path, sizeof path, "env.%s", key);
    if (!valid_env_name(key))
        return fail_at(c, k, path, "not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)");
    if (spec->n_env >= VEIL_JOB_MAX_ENV)
        return fail_at(c, k, "env", "more than %d variables", VEIL_JOB_MAX_ENV);
    const char *s;
    if (scalar_text(c, v, path, "a string", &s) != 0)
        return -1;
    struct veil_env_var *e = &spec->env[spec->n_env];
    e->name = strdup(key);
    e->value = strdup(s);
    spec->n_env++;
    if (!e->name || !e->value)
        return veil_err_set(c->err, VEIL_E_NOMEM, "out of memory");
    return 0;
}

/* expose[i].to: job names, kept sorted and unique. */
static int parse_expose_to(struct parse_ctx *c, struct veil_job_expose *e, yaml_node_t *v,
                           const char *path)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return fail_at(c, v, path, "expected a sequence of job names, got %s", kind_name(v));
    size_t count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (count > VEIL_JOB_MAX_EXPOSE_TO)
        return fail_at(c, v, path, "more than %d jobs", VEIL_JOB_MAX_EXPOSE_TO);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *it = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
        const char *s;
        if (!it || scalar_text(c, it, path, "a job name", &s) != 0)
            return -1;
        if (!valid_job_name(s))
            return fail_at(c, it, path, "\"%s\" is not a job name", s);
        size_t at = 0;
        while (at < e->n_to && strcmp(e->to[at], s) < 0)
            at++;
        if (at < e->n_to && strcmp(e->to[at], s) == 0)
            continue;
        memmove(e->to[at + 1], e->to[at], (e->n_to - at) * sizeof e->to[0]);
        snprintf(e->to[at], sizeof e->to[at], "%s", s);
        e->n_to++;
    }
    return 0;
}

static int expose_field(struct parse_ctx *c, struct veil_job_spec *spec, const char *key,
                        yaml_node_t *k, yaml_node_t *v)
{
    (void)spec;
    struct veil_job_expose *e = c->expose;
    uint64_t u;
    const char *s;
    if (strcmp(key, "port") == 0) {
        if (parse_uint(c, v, "expose.port", 1, 65535, &u) != 0)
            return -1;
        e->port = (uint16_t)u;
        return 0;
    }
    if (strcmp(key, "protocol") == 0) {
        if (scalar_text(c, v, "expose.protocol", "tcp or udp", &s) != 0)
            return -1;
        if (strcmp(s, "tcp") != 0 && strcmp(s, "udp") != 0)
            return fail_at(c, v, "expose.protocol", "\"%s\" is not tcp or udp", s);
        e->proto = s[0] == 't' ? 6 : 17;
        return 0;
    }
    if (strcmp(key, "to") == 0)
        return parse_expose_to(c, e, v, "expose.to");
    return fail_at(c, k, "expose", "unknown field (expected port, protocol, to)");
}

static int cmp_expose(const void *a, const void *b)
{
    const struct veil_job_expose *x = a, *y = b;
    return x->proto != y->proto ? (int)x->proto - (int)y->proto : (int)x->port - (int)y->port;
}

/* expose: [{port, protocol (tcp), to: [job...]}]; sorted by (protocol,
 * port), each at most once. */
static int parse_expose(struct parse_ctx *c, struct veil_job_spec *spec, yaml_node_t *v)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return fail_at(c, v, "expose", "expected a sequence, got %s", kind_name(v));
    size_t count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (count > VEIL_JOB_MAX_EXPOSE)
        return fail_at(c, v, "expose", "more than %d ports", VEIL_JOB_MAX_EXPOSE);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *it = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
        struct veil_job_expose *e = &spec->expose[i];
        memset(e, 0, sizeof *e);
        e->proto = 6;
        c->expose = e;
        if (!it || walk_map(c, spec, it, "expose", expose_field) != 0)
            return -1;
        if (e->port == 0)
            return fail_at(c, it, "expose", "port is required");
        for (size_t j = 0; j < i; j++)
            if (spec->expose[j].port == e->port && spec->expose[j].proto == e->proto)
                return fail_at(c, it, "expose", "port %u listed twice", e->port);
        spec->n_expose = i + 1;
    }
    qsort(spec->expose, spec->n_expose, sizeof spec->expose[0], cmp_expose);
    return 0;
}

static int top_field(struct parse_ctx *c, struct veil_job_spec *spec, const char *key,
                     yaml_node_t *k, yaml_node_t *v)
{
    const char *s;
    uint64_t u;
    if (strcmp(key, "name") == 0) {
        if (scalar_text(c, v, "name", "a string", &s) != 0)
            return -1;
        if (!valid_job_name(s))
            return fail_at(c, v, "name",
                           "\"%s\" must be 1..63 lowercase letters, digits or '-', not starting "
                           "or ending with '-'",
                           s);
        return (spec->name = strdup(s)) ? 0 : veil_err_set(c->err, VEIL_E_NOMEM, "out of memory");
    }
    if (strcmp(key, "image") == 0) {
        if (scalar_text(c, v, "image", "a string", &s) != 0)
            return -1;
        const char *why = split_image(spec, s);
        if (why)
            return fail_at(c, v, "image", "\"%s\": %s", s, why);
        return (spec->image = strdup(s)) ? 0 : veil_err_set(c->err, VEIL_E_NOMEM, "out of memory");
    }
    if (strcmp(key, "command") == 0)
        return parse_string_list(c, v, "command", &spec->command, &spec->n_command);
    if (strcmp(key, "args") == 0)
        return parse_string_list(c, v, "args", &spec->args, &spec->n_args);
    if (strcmp(key, "env") == 0) {
        if (v->type != YAML_MAPPING_NODE)
            return fail_at(c, v, "env", "expected a mapping, got %s", kind_name(v));
        spec->env = calloc(VEIL_JOB_MAX_ENV, sizeof *spec->env);
        if (!spec->env)
            return veil_err_set(c->err, VEIL_E_NOMEM, "out of memory");
        if (walk_map(c, spec, v, "env", env_field) != 0)
            return -1;
        qsort(spec->env, spec->n_env, sizeof *spec->env, cmp_env);
        return 0;
    }
    if ((strcmp(key, "resources") == 0 || strcmp(key, "constraints") == 0) &&
        v->type == YAML_SCALAR_NODE &&
        strcmp((const char *)v->data.scalar.value, "confidential") == 0) {
        if (key[0] == 'r')
            c->redacted_resources = true;
        else
            c->redacted_constraints = true;
        return 0;
    }
    if (strcmp(key, "resources") == 0)
        return walk_map(c, spec, v, "resources", resource_field);
    if (strcmp(key, "constraints") == 0)
        return walk_map(c, spec, v, "constraints", constraint_field);
    if (strcmp(key, "request_digest") == 0) {
        if (scalar_text(c, v, "request_digest", "64 hex digits", &s) != 0)
            return -1;
        if (strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64 ||
            veil_hex_decode(spec->request_digest, 32, s, 64, false, NULL) != 32)
            return fail_at(c, v, "request_digest", "\"%s\" is not 64 lowercase hex digits", s);
        c->have_digest = true;
        return 0;
    }
    if (strcmp(key, "replicas") == 0) {
        if (parse_uint(c, v, "replicas", 1, VEIL_JOB_MAX_REPLICAS, &u) != 0)
            return -1;
        spec->replicas = (uint32_t)u;
        return 0;
    }
    if (strcmp(key, "policy") == 0 || strcmp(key, "placement") == 0 ||
        strcmp(key, "latency_to") == 0 || strcmp(key, "latency_weight") == 0 ||
        strcmp(key, "load_weight") == 0)
        return placement_field(c, spec, key, v);
    if (strcmp(key, "expose") == 0)
        return parse_expose(c, spec, v);
    if (strcmp(key, "tenant") == 0) {
        if (scalar_text(c, v, "tenant", "a tenant name", &s) != 0)
            return -1;
        if (!valid_job_name(s))
            return fail_at(c, v, "tenant", "\"%s\" is not a tenant name (as a job name)", s);
        snprintf(spec->tenant, sizeof spec->tenant, "%s", s);
        return 0;
    }
    if (strcmp(key, "confidential") == 0) {
        if (scalar_text(c, v, "confidential", "a boolean", &s) != 0)
            return -1;
        if (is_plain(v) && strcmp(s, "true") == 0)
            spec->confidential = true;
        else if (is_plain(v) && strcmp(s, "false") == 0)
            spec->confidential = false;
        else
            return fail_at(c, v, "confidential", "\"%s\" is not a boolean (true or false)", s);
        return 0;
    }
    return fail_at(c, k, key,
                   "unknown field (expected name, image, command, args, env, resources, "
                   "replicas, policy, placement, latency_to, latency_weight, load_weight, "
                   "constraints, confidential, "
                   "request_digest, expose, tenant)");
}

const char *veil_policy_name(enum veil_policy p)
{
    switch (p) {
    case VEIL_POLICY_BINPACK:
        return "binpack";
    case VEIL_POLICY_SPREAD:
        return "spread";
    case VEIL_POLICY_PRIORITY:
        return "priority";
    case VEIL_POLICY_LATENCY:
        return "lowest-latency";
    case VEIL_POLICY_WEIGHTED:
        return "weighted";
    }
    return "?";
}

void veil_job_spec_free(struct veil_job_spec *spec)
{
    if (!spec)
        return;
    free(spec->name);
    free(spec->image);
    free(spec->image_repo);
    free(spec->image_tag);
    for (size_t i = 0; i < spec->n_command; i++)
        free(spec->command[i]);
    free(spec->command);
    for (size_t i = 0; i < spec->n_args; i++)
        free(spec->args[i]);
    free(spec->args);
    for (size_t i = 0; i < spec->n_env; i++) {
        free(spec->env[i].name);
        free(spec->env[i].value);
    }
    free(spec->env);
    memset(spec, 0, sizeof *spec);
}

/* After the whole document: the placement numbers belong to their policy,
 * a weighted job's weights default to 1 and are not both 0. */
static int placement_check(struct parse_ctx *c, struct veil_job_spec *spec, yaml_node_t *root)
{
    bool weighted = spec->policy == VEIL_POLICY_WEIGHTED;
    if (c->have_latency_to && !is_placement((int)spec->policy))
        return fail_at(c, root, "latency_to", "only with placement: lowest-latency or weighted");
    if ((c->have_latency_weight || c->have_load_weight) && !weighted)
        return fail_at(c, root, c->have_latency_weight ? "latency_weight" : "load_weight",
                       "only with placement: weighted");
    if (!weighted)
        return 0;
    if (!c->have_latency_weight)
        spec->latency_weight = VEIL_WEIGHT_LATENCY_DEFAULT;
    if (!c->have_load_weight)
        spec->load_weight = VEIL_WEIGHT_LOAD_DEFAULT;
    if (spec->latency_weight == 0 && spec->load_weight == 0)
        return fail_at(c, root, "latency_weight",
                       "latency_weight and load_weight are both 0: nothing to weigh (use "
                       "policy: binpack, spread or priority)");
    return 0;
}

int veil_job_spec_parse(struct veil_job_spec *spec, const char *text, size_t len,
                        const char *origin, veil_err *err)
{
    memset(spec, 0, sizeof *spec);
    spec->replicas = 1;
    if (!origin)
        origin = "job";
    if (len > VEIL_JOB_SPEC_MAX_BYTES)
        return veil_err_set(err, VEIL_E_RANGE, "%s: larger than %d bytes", origin,
                            VEIL_JOB_SPEC_MAX_BYTES);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        int rc = veil_err_set(err, VEIL_E_PARSE, "%s:%lu: YAML syntax error: %s", origin,
                              (unsigned long)parser.problem_mark.line + 1,
                              parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        return rc;
    }
    struct parse_ctx c = {.doc = &doc, .origin = origin, .err = err};
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = veil_err_set(err, VEIL_E_INVALID, "%s: empty document", origin);
    } else if (root->type != YAML_MAPPING_NODE) {
        rc = fail_at(&c, root, "", "expected a mapping at the top level, got %s", kind_name(root));
    } else {
        rc = walk_map(&c, spec, root, "", top_field);
        if (rc == 0 && !spec->name)
            rc = fail_at(&c, root, "name", "missing (required)");
        if (rc == 0 && !spec->image)
            rc = fail_at(&c, root, "image", "missing (required)");
        bool any = c.redacted_resources || c.redacted_constraints || c.have_digest;
        bool all = c.redacted_resources && c.redacted_constraints && c.have_digest;
        if (rc == 0 && any && !all)
            rc = fail_at(&c, root, c.have_digest ? "resources" : "request_digest",
                         "a redacted confidential spec has resources and constraints "
                         "\"confidential\" and a request_digest (all three)");
        if (rc == 0 && all && !spec->confidential)
            rc = fail_at(&c, root, "confidential",
                         "must be true in a redacted spec (its request is encrypted)");
        spec->redacted = rc == 0 && all;
        if (rc == 0)
            rc = placement_check(&c, spec, root);
    }
    if (rc == 0) {
        /* Only one document: a second one would be silently ignored. */
        yaml_document_t extra;
        if (!yaml_parser_load(&parser, &extra)) {
            rc = veil_err_set(err, VEIL_E_PARSE, "%s:%lu: YAML syntax error: %s", origin,
                              (unsigned long)parser.problem_mark.line + 1,
                              parser.problem ? parser.problem : "unknown");
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&extra);
            if (r2)
                rc = veil_err_set(err, VEIL_E_INVALID, "%s:%lu: more than one YAML document",
                                  origin, (unsigned long)r2->start_mark.line + 1);
            yaml_document_delete(&extra);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc != 0)
        veil_job_spec_free(spec);
    return rc;
}

int veil_job_spec_load(struct veil_job_spec *spec, const char *path, veil_err *err)
{
    uint8_t *data;
    size_t len;
    memset(spec, 0, sizeof *spec);
    if (veil_file_read(path, VEIL_JOB_SPEC_MAX_BYTES, &data, &len, err) != 0)
        return -1;
    int rc = veil_job_spec_parse(spec, (const char *)data, len, path, err);
    free(data);
    return rc;
}

static json_t *string_array(char **items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

static json_t *expose_json(const struct veil_job_spec *spec)
{
    json_t *a = json_array();
    for (size_t i = 0; i < spec->n_expose; i++) {
        const struct veil_job_expose *e = &spec->expose[i];
        json_t *to = json_array();
        for (size_t j = 0; j < e->n_to; j++)
            json_array_append_new(to, json_string(e->to[j]));
        json_array_append_new(a, json_pack("{s:i, s:s, s:o}", "port", (int)e->port, "protocol",
                                           e->proto == 6 ? "tcp" : "udp", "to", to));
    }
    return a;
}

char *veil_job_spec_canonical_json(const struct veil_job_spec *spec, veil_err *err)
{
    json_t *root = json_object();
    json_object_set_new(root, "name", json_string(spec->name));
    json_object_set_new(root, "image", json_string(spec->image));
    json_object_set_new(root, "command", string_array(spec->command, spec->n_command));
    json_object_set_new(root, "args", string_array(spec->args, spec->n_args));
    json_t *env = json_object();
    for (size_t i = 0; i < spec->n_env; i++)
        json_object_set_new(env, spec->env[i].name, json_string(spec->env[i].value));
    json_object_set_new(root, "env", env);
    /* CPU as a millicore string (an integer would mean whole cores); the
     * others as integers of bytes / devices. */
    char cpu[32];
    snprintf(cpu, sizeof cpu, "%llum", (unsigned long long)spec->cpu_millis);
    if (spec->redacted) {
        char hex[65];
        veil_hex_encode(hex, sizeof hex, spec->request_digest, 32);
        json_object_set_new(root, "resources", json_string("confidential"));
        json_object_set_new(root, "constraints", json_string("confidential"));
        json_object_set_new(root, "request_digest", json_string(hex));
    } else {
        json_object_set_new(root, "resources",
                            json_pack("{s:s, s:I, s:I, s:I}", "cpu", cpu, "memory",
                                      (json_int_t)spec->memory_bytes, "disk",
                                      (json_int_t)spec->disk_bytes, "gpu", (json_int_t)spec->gpus));
        json_t *cons = json_object();
        if (spec->region) {
            const char *rn = veil_region_name(spec->region);
            json_object_set_new(cons, "region", rn ? json_string(rn) : json_integer(spec->region));
        }
        if (spec->zone)
            json_object_set_new(cons, "zone", json_integer(spec->zone));
        json_object_set_new(root, "constraints", cons);
    }
    json_object_set_new(root, "replicas", json_integer(spec->replicas));
    json_object_set_new(root, "policy", json_string(veil_policy_name(spec->policy)));
    /* only for lowest-latency: other specs keep their canonical form and id */
    if (is_placement((int)spec->policy))
        json_object_set_new(root, "latency_to", json_integer(spec->latency_to));
    if (spec->policy == VEIL_POLICY_WEIGHTED) {
        json_object_set_new(root, "latency_weight", json_integer(spec->latency_weight));
        json_object_set_new(root, "load_weight", json_integer(spec->load_weight));
    }
    json_object_set_new(root, "confidential", json_boolean(spec->confidential));
    /* VeilNet fields only when set: the canonical form (and the id) of a
     * spec without them is what it was before they existed */
    if (spec->n_expose > 0)
        json_object_set_new(root, "expose", expose_json(spec));
    if (spec->tenant[0])
        json_object_set_new(root, "tenant", json_string(spec->tenant));
    char *out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    if (!out)
        veil_err_set(err, VEIL_E_NOMEM, "cannot encode the job spec as JSON");
    return out;
}

int veil_job_id(uint8_t out[32], const struct veil_job_spec *spec, const uint8_t *submitter,
                size_t submitter_len, const uint8_t nonce[VEIL_JOB_NONCE_LEN], veil_err *err)
{
    char *canon = veil_job_spec_canonical_json(spec, err);
    if (!canon)
        return -1;
    static const char domain[] = "veil-job-id-v1";
    uint8_t len4[4];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof domain - 1);
    size_t cl = strlen(canon);
    len4[0] = (uint8_t)(cl >> 24), len4[1] = (uint8_t)(cl >> 16), len4[2] = (uint8_t)(cl >> 8),
    len4[3] = (uint8_t)cl;
    crypto_generichash_update(&st, len4, 4);
    crypto_generichash_update(&st, (const uint8_t *)canon, cl);
    len4[0] = (uint8_t)(submitter_len >> 24), len4[1] = (uint8_t)(submitter_len >> 16),
    len4[2] = (uint8_t)(submitter_len >> 8), len4[3] = (uint8_t)submitter_len;
    crypto_generichash_update(&st, len4, 4);
    crypto_generichash_update(&st, submitter, submitter_len);
    crypto_generichash_update(&st, nonce, VEIL_JOB_NONCE_LEN);
    crypto_generichash_final(&st, out, 32);
    free(canon);
    return 0;
}

void veil_job_request_digest(uint8_t out[32], const uint8_t *ct, size_t len)
{
    static const char domain[] = "veil-job-request-v1";
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof domain - 1);
    crypto_generichash_update(&st, ct, len);
    crypto_generichash_final(&st, out, 32);
}

int veil_job_spec_redact(struct veil_job_spec *spec, const uint8_t *request_ct, size_t len,
                         veil_err *err)
{
    if (!spec->confidential)
        return veil_err_set(err, VEIL_E_INVALID, "only a confidential job is redacted");
    if (!request_ct || len == 0)
        return veil_err_set(err, VEIL_E_INVALID, "a confidential job needs its request ciphertext");
    /* the values are gone from this process's copy too */
    veil_memzero(&spec->cpu_millis, sizeof spec->cpu_millis);
    veil_memzero(&spec->memory_bytes, sizeof spec->memory_bytes);
    veil_memzero(&spec->disk_bytes, sizeof spec->disk_bytes);
    veil_memzero(&spec->gpus, sizeof spec->gpus);
    spec->region = spec->zone = 0;
    veil_job_request_digest(spec->request_digest, request_ct, len);
    spec->redacted = true;
    return 0;
}
