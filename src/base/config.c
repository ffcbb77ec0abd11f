// SPDX-License-Identifier: Apache-2.0
/*
 * config.c - layered configuration: defaults < YAML file < VEIL_* environment
 * < command-line flags. Keys are declared in a caller-owned table (see
 * config_keys.c for Veil's); nested YAML maps address dotted keys. Every
 * value remembers where it came from, so errors and `veil config show` can
 * say "veil.yaml:12" or "env VEIL_LIBP2P_BOOTSTRAP".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include <veil/base.h>

#define CONFIG_FILE_MAX (1u << 20)
#define CONFIG_KEY_MAX 128
#define CONFIG_LIST_MAX 256

static void value_clear(struct veil_config_value *v)
{
    free(v->text);
    for (size_t i = 0; i < v->n_items; i++)
        free(v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

static int find_key(const veil_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_keys; i++)
        if (strcmp(cfg->keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

int veil_parse_duration_ms(const char *text, int64_t *out_ms, veil_err *err)
{
    char *end;
    errno = 0;
    if (!text || !*text || *text == '-' || *text == '+' || *text == ' ')
        return veil_err_set(err, VEIL_E_INVALID, "'%s' is not a duration (e.g. 500ms, 10s, 5m)",
                            text ? text : "");
    double v = strtod(text, &end);
    if (errno || end == text || v < 0)
        return veil_err_set(err, VEIL_E_INVALID, "'%s' is not a duration (e.g. 500ms, 10s, 5m)",
                            text);
    double scale;
    if (*end == '\0' || strcmp(end, "s") == 0)
        scale = 1000;
    else if (strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "m") == 0)
        scale = 60000;
    else if (strcmp(end, "h") == 0)
        scale = 3600000;
    else
        return veil_err_set(err, VEIL_E_INVALID, "'%s': unknown duration unit '%s' (ms, s, m, h)",
                            text, end);
    double ms = v * scale;
    if (ms > 9.2e15)
        return veil_err_set(err, VEIL_E_RANGE, "duration '%s' is too long", text);
    *out_ms = (int64_t)(ms + 0.5);
    return 0;
}

int veil_parse_size(const char *text, uint64_t *out, veil_err *err)
{
    char *end;
    if (!text || !*text || *text == '-' || *text == '+' || *text == ' ')
        return veil_err_set(err, VEIL_E_INVALID, "'%s' is not a size (e.g. 64m, 1Gi, 4096)",
                            text ? text : "");
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text)
        return veil_err_set(err, VEIL_E_INVALID, "'%s' is not a size (e.g. 64m, 1Gi, 4096)",
                            text);
    uint64_t mult = 1;
    /* Docker-style (k, m, g: powers of 1024) and Kubernetes-style (Ki, Mi, Gi,
     * and K, M, G as powers of 1000) suffixes, optionally followed by b/B. */
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        {"", 1},          {"b", 1},           {"B", 1},           {"k", 1024},
        {"kb", 1024},     {"K", 1000},        {"Ki", 1024},       {"KiB", 1024},
        {"KB", 1024},     {"m", 1u << 20},    {"mb", 1u << 20},   {"M", 1000000},
        {"Mi", 1u << 20}, {"MiB", 1u << 20},  {"MB", 1u << 20},   {"g", 1u << 30},
        {"gb", 1u << 30}, {"G", 1000000000},  {"Gi", 1u << 30},   {"GiB", 1u << 30},
        {"GB", 1u << 30}, {"Ti", 1ull << 40}, {"T", 1000000000000ull},
    };
    size_t i;
    for (i = 0; i < VEIL_ARRAY_LEN(units); i++)
        if (strcmp(end, units[i].suffix) == 0)
            break;
    if (i == VEIL_ARRAY_LEN(units))
        return veil_err_set(err, VEIL_E_INVALID, "'%s': unknown size unit '%s'", text, end);
    mult = units[i].mult;
    if (v > UINT64_MAX / mult)
        return veil_err_set(err, VEIL_E_RANGE, "size '%s' is too large", text);
    *out = v * mult;
    return 0;
}

static int parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1", "True", "TRUE", "Yes", "On"};
    static const char *const no[] = {"false", "no", "off", "0", "False", "FALSE", "No", "Off"};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(yes); i++)
        if (strcmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
    for (size_t i = 0; i < VEIL_ARRAY_LEN(no); i++)
        if (strcmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    return -1;
}

/* Splits "a, b,c" into trimmed non-empty items. */
static int split_list(const char *text, char ***items_out, size_t *n_out, veil_err *err)
{
    char **items = NULL;
    size_t n = 0;
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            if (n == CONFIG_LIST_MAX)
                goto too_many;
            char **grown = realloc(items, (n + 1) * sizeof *items);
            if (!grown)
                goto nomem;
            items = grown;
            items[n] = strndup(a, (size_t)(b - a));
            if (!items[n])
                goto nomem;
            n++;
        }
        p = comma ? comma + 1 : end;
    }
    *items_out = items;
    *n_out = n;
    return 0;
too_many:
    veil_err_set(err, VEIL_E_LIMIT, "more than %d list items", CONFIG_LIST_MAX);
    goto fail;
nomem:
    veil_err_set(err, VEIL_E_NOMEM, "out of memory");
fail:
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
    return -1;
}

static char *join_list(char **items, size_t n)
{
    veil_buf b;
    veil_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            veil_buf_put_u8(&b, ',');
        veil_buf_put_str(&b, items[i]);
    }
    veil_buf_put_u8(&b, '\0');
    if (!veil_buf_ok(&b)) {
        veil_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* Parses `text` as the key's type into a fresh value; on failure the message
 * says what was expected (the caller prefixes the origin). List values may
 * instead arrive pre-split in `items` (YAML sequences). */
static int parse_value(const struct veil_config_key *key, const char *text, char **items,
                       size_t n_items, struct veil_config_value *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    switch (key->type) {
    case VEIL_CONFIG_STRING:
        break;
    case VEIL_CONFIG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno || end == text || *end != '\0')
            return veil_err_set(err, VEIL_E_INVALID, "key '%s' expects an integer, got '%s'",
                                key->name, text);
        if ((key->min != 0 || key->max != 0) && (v < key->min || v > key->max))
            return veil_err_set(err, VEIL_E_RANGE,
                                "key '%s' must be between %" PRId64 " and %" PRId64 ", got %lld",
                                key->name, key->min, key->max, v);
        out->number = v;
        break;
    }
    case VEIL_CONFIG_BOOL: {
        bool b;
        if (parse_bool(text, &b) != 0)
            return veil_err_set(err, VEIL_E_INVALID, "key '%s' expects true or false, got '%s'",
                                key->name, text);
        out->number = b;
        break;
    }
    case VEIL_CONFIG_DURATION:
        if (veil_parse_duration_ms(text, &out->number, err) != 0)
            return veil_err_wrap(err, "key '%s'", key->name);
        break;
    case VEIL_CONFIG_LIST:
        if (items) {
            out->items = items;
            out->n_items = n_items;
        } else if (split_list(text, &out->items, &out->n_items, err) != 0) {
            return veil_err_wrap(err, "key '%s'", key->name);
        }
        out->text = join_list(out->items, out->n_items);
        if (!out->text) {
            value_clear(out);
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        }
        return 0;
    }
    out->text = strdup(text);
    if (!out->text)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    return 0;
}

static int store(veil_config *cfg, int idx, const char *text, char **items, size_t n_items,
                 enum veil_config_source source, const char *origin, veil_err *err)
{
    struct veil_config_value v;
    if (parse_value(&cfg->keys[idx], text, items, n_items, &v, err) != 0)
        return veil_err_wrap(err, "%s", origin);
    v.source = source;
    snprintf(v.origin, sizeof v.origin, "%s", origin);
    value_clear(&cfg->values[idx]);
    cfg->values[idx] = v;
    return 0;
}

int veil_config_init(veil_config *cfg, const struct veil_config_key *keys, size_t n_keys,
                     veil_err *err)
{
    cfg->keys = keys;
    cfg->n_keys = n_keys;
    cfg->values = calloc(n_keys ? n_keys : 1, sizeof *cfg->values);
    if (!cfg->values)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n_keys; i++) {
        if (!keys[i].default_value) {
            snprintf(cfg->values[i].origin, sizeof cfg->values[i].origin, "unset");
            continue;
        }
        if (store(cfg, (int)i, keys[i].default_value, NULL, 0, VEIL_CONFIG_FROM_DEFAULT,
                  "default", err) != 0) {
            veil_config_free(cfg);
            return -1;
        }
    }
    return 0;
}

void veil_config_free(veil_config *cfg)
{
    if (!cfg->values)
        return;
    for (size_t i = 0; i < cfg->n_keys; i++)
        value_clear(&cfg->values[i]);
    free(cfg->values);
    cfg->values = NULL;
}

int veil_config_set(veil_config *cfg, const char *key, const char *value,
                    enum veil_config_source source, const char *origin, veil_err *err)
{
    int idx = find_key(cfg, key);
    if (idx < 0)
        return veil_err_set(err, VEIL_E_NOTFOUND, "%s: unknown configuration key '%s'", origin,
                            key);
    return store(cfg, idx, value, NULL, 0, source, origin, err);
}

/* ---- YAML ---- */

struct yaml_walk {
    veil_config *cfg;
    yaml_document_t *doc;
    const char *origin;
    int depth;
};

static int walk_mapping(struct yaml_walk *w, yaml_node_t *map, const char *prefix,
                        veil_err *err);

/* `line` is the key's line: where a person looks for the setting. */
static int yaml_leaf(struct yaml_walk *w, const char *key, size_t line, yaml_node_t *node,
                     veil_err *err)
{
    char where[200];
    snprintf(where, sizeof where, "%s:%zu", w->origin, line);
    int idx = find_key(w->cfg, key);
    if (idx < 0)
        return veil_err_set(err, VEIL_E_NOTFOUND, "%s: unknown key '%s'", where, key);
    const struct veil_config_key *k = &w->cfg->keys[idx];

    if (node->type == YAML_SCALAR_NODE)
        return store(w->cfg, idx, (const char *)node->data.scalar.value, NULL, 0,
                     VEIL_CONFIG_FROM_FILE, where, err);

    if (node->type == YAML_SEQUENCE_NODE) {
        if (k->type != VEIL_CONFIG_LIST)
            return veil_err_set(err, VEIL_E_INVALID, "%s: key '%s' expects a single value, got "
                                                     "a list", where, key);
        yaml_node_item_t *it = node->data.sequence.items.start;
        size_t n = (size_t)(node->data.sequence.items.top - it);
        if (n > CONFIG_LIST_MAX)
            return veil_err_set(err, VEIL_E_LIMIT, "%s: key '%s' has more than %d items", where,
                                key, CONFIG_LIST_MAX);
        char **items = calloc(n ? n : 1, sizeof *items);
        if (!items)
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *item = yaml_document_get_node(w->doc, it[i]);
            if (!item || item->type != YAML_SCALAR_NODE) {
                size_t item_line = item ? item->start_mark.line + 1 : line;
                for (size_t j = 0; j < i; j++)
                    free(items[j]);
                free(items);
                return veil_err_set(err, VEIL_E_INVALID, "%s:%zu: items of '%s' must be plain "
                                                         "values", w->origin, item_line, key);
            }
            items[i] = strdup((const char *)item->data.scalar.value);
            if (!items[i]) {
                for (size_t j = 0; j < i; j++)
                    free(items[j]);
                free(items);
                return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
            }
        }
        return store(w->cfg, idx, NULL, items, n, VEIL_CONFIG_FROM_FILE, where, err);
    }
    return veil_err_set(err, VEIL_E_INVALID, "%s: key '%s' expects a value, got a mapping", where,
                        key);
}

/* True if some declared key lives below "prefix." (so a mapping is legal). */
static bool has_key_prefix(const veil_config *cfg, const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < cfg->n_keys; i++)
        if (strncmp(cfg->keys[i].name, prefix, n) == 0 && cfg->keys[i].name[n] == '.')
            return true;
    return false;
}

static int walk_mapping(struct yaml_walk *w, yaml_node_t *map, const char *prefix, veil_err *err)
{
    if (++w->depth > 8)
        return veil_err_set(err, VEIL_E_LIMIT, "%s:%zu: mappings nested too deeply", w->origin,
                            map->start_mark.line + 1);
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
        if (!k || !v)
            return veil_err_set(err, VEIL_E_PARSE, "%s: malformed mapping", w->origin);
        if (k->type != YAML_SCALAR_NODE)
            return veil_err_set(err, VEIL_E_INVALID, "%s:%zu: keys must be plain names",
                                w->origin, k->start_mark.line + 1);
        char name[CONFIG_KEY_MAX];
        int len = snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "",
                           (const char *)k->data.scalar.value);
        if (len < 0 || (size_t)len >= sizeof name)
            return veil_err_set(err, VEIL_E_RANGE, "%s:%zu: key name too long", w->origin,
                                k->start_mark.line + 1);
        int rc;
        if (v->type == YAML_MAPPING_NODE && find_key(w->cfg, name) < 0) {
            if (!has_key_prefix(w->cfg, name))
                return veil_err_set(err, VEIL_E_NOTFOUND, "%s:%zu: unknown key '%s'", w->origin,
                                    k->start_mark.line + 1, name);
            rc = walk_mapping(w, v, name, err);
        } else {
            rc = yaml_leaf(w, name, k->start_mark.line + 1, v, err);
        }
        if (rc != 0)
            return rc;
    }
    w->depth--;
    return 0;
}

int veil_config_load_yaml(veil_config *cfg, const char *yaml, size_t len, const char *origin,
                          veil_err *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return veil_err_set(err, VEIL_E_NOMEM, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        veil_err_set(err, VEIL_E_PARSE, "%s:%zu: %s", origin, parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "YAML syntax error");
        yaml_parser_delete(&parser);
        return -1;
    }
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        if (root->type == YAML_MAPPING_NODE) {
            struct yaml_walk w = {.cfg = cfg, .doc = &doc, .origin = origin};
            rc = walk_mapping(&w, root, "", err);
        } else if (!(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)) {
            rc = veil_err_set(err, VEIL_E_INVALID, "%s:%zu: the configuration must be a mapping "
                                                   "of keys to values", origin,
                              root->start_mark.line + 1);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int veil_config_load_file(veil_config *cfg, const char *path, veil_err *err)
{
    uint8_t *data;
    size_t len;
    if (veil_file_read(path, CONFIG_FILE_MAX, &data, &len, err) != 0)
        return veil_err_wrap(err, "reading configuration");
    int rc = veil_config_load_yaml(cfg, (const char *)data, len, path, err);
    free(data);
    return rc;
}

int veil_config_load_env(veil_config *cfg, const char *(*getenv_fn)(const char *name),
                         veil_err *err)
{
    for (size_t i = 0; i < cfg->n_keys; i++) {
        const char *env = cfg->keys[i].env;
        if (!env)
            continue;
        const char *v = getenv_fn ? getenv_fn(env) : getenv(env);
        if (!v)
            continue;
        char origin[96];
        snprintf(origin, sizeof origin, "env %s", env);
        if (store(cfg, (int)i, v, NULL, 0, VEIL_CONFIG_FROM_ENV, origin, err) != 0)
            return -1;
    }
    return 0;
}

const struct veil_config_value *veil_config_get(const veil_config *cfg, const char *key)
{
    int idx = find_key(cfg, key);
    if (idx < 0 || cfg->values[idx].source == VEIL_CONFIG_UNSET)
        return NULL;
    return &cfg->values[idx];
}

const char *veil_config_str(const veil_config *cfg, const char *key, const char *fallback)
{
    const struct veil_config_value *v = veil_config_get(cfg, key);
    return v && v->text ? v->text : fallback;
}

int64_t veil_config_int(const veil_config *cfg, const char *key, int64_t fallback)
{
    const struct veil_config_value *v = veil_config_get(cfg, key);
    return v ? v->number : fallback;
}

bool veil_config_bool(const veil_config *cfg, const char *key, bool fallback)
{
    const struct veil_config_value *v = veil_config_get(cfg, key);
    return v ? v->number != 0 : fallback;
}

void veil_config_log(const veil_config *cfg, const char *subsystem)
{
    for (size_t i = 0; i < cfg->n_keys; i++) {
        const struct veil_config_value *v = &cfg->values[i];
        if (v->source == VEIL_CONFIG_UNSET)
            continue;
        const char *name = cfg->keys[i].name;
        size_t n = strlen(name);
        bool secret = (n >= 8 && strcmp(name + n - 8, "password") == 0) ||
                      (n >= 6 && strcmp(name + n - 6, "secret") == 0);
        veil_log(VEIL_LOG_INFO, subsystem, "config", "key=%s value=\"%s\" origin=\"%s\"", name,
                 secret ? "(set)" : v->text, v->origin);
    }
}
