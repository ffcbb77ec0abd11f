// SPDX-License-Identifier: Apache-2.0
/*
 * jwt_json.c - the JSON form of NATS JWT claims, as nats-io/jwt v2 writes
 * and reads it: standard claims (exp, jti, iat, iss, name, nbf, sub) and the
 * "nats" object (type, version 2, tags; operator: signing_keys,
 * system_account; account: limits, signing_keys, revocations; user:
 * pub/sub allow/deny, resp, subs/data/payload, bearer_token, issuer_account).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jwt_json.h"

static const char *kind_name(enum veil_jwt_kind k)
{
    return k == VEIL_JWT_OPERATOR ? "operator" : k == VEIL_JWT_ACCOUNT ? "account" : "user";
}

static json_t *list_json(const veil_strlist *l)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < l->n; i++)
        json_array_append_new(a, json_string(l->items[i]));
    return a;
}

static void put_perm(json_t *nats, const char *key, const veil_strlist *allow,
                     const veil_strlist *deny)
{
    if (allow->n == 0 && deny->n == 0)
        return;
    json_t *p = json_object();
    if (allow->n > 0)
        json_object_set_new(p, "allow", list_json(allow));
    if (deny->n > 0)
        json_object_set_new(p, "deny", list_json(deny));
    json_object_set_new(nats, key, p);
}

static void put_user(json_t *n, const veil_jwt *c)
{
    put_perm(n, "pub", &c->pub_allow, &c->pub_deny);
    put_perm(n, "sub", &c->sub_allow, &c->sub_deny);
    if (c->resp_max > 0) {
        json_t *r = json_object();
        json_object_set_new(r, "max", json_integer(c->resp_max));
        json_object_set_new(r, "ttl", json_integer(c->resp_ttl_ns));
        json_object_set_new(n, "resp", r);
    }
    json_object_set_new(n, "subs", json_integer(c->limits.subs));
    json_object_set_new(n, "data", json_integer(c->limits.data));
    json_object_set_new(n, "payload", json_integer(c->limits.payload));
    if (c->bearer_token)
        json_object_set_new(n, "bearer_token", json_true());
    if (c->issuer_account[0] != '\0')
        json_object_set_new(n, "issuer_account", json_string(c->issuer_account));
}

static void put_account(json_t *n, const veil_jwt *c)
{
    json_t *l = json_object();
    json_object_set_new(l, "subs", json_integer(c->limits.subs));
    json_object_set_new(l, "data", json_integer(c->limits.data));
    json_object_set_new(l, "payload", json_integer(c->limits.payload));
    json_object_set_new(l, "imports", json_integer(c->limits.imports));
    json_object_set_new(l, "exports", json_integer(c->limits.exports));
    json_object_set_new(l, "wildcards", json_boolean(c->limits.wildcards));
    json_object_set_new(l, "conn", json_integer(c->limits.conn));
    json_object_set_new(l, "leaf", json_integer(c->limits.leaf));
    json_object_set_new(n, "limits", l);
    if (c->signing_keys.n > 0)
        json_object_set_new(n, "signing_keys", list_json(&c->signing_keys));
    if (c->n_revocations > 0) {
        json_t *r = json_object();
        for (size_t i = 0; i < c->n_revocations; i++)
            json_object_set_new(r, c->revocations[i].key, json_integer(c->revocations[i].at));
        json_object_set_new(n, "revocations", r);
    }
}

static void put_operator(json_t *n, const veil_jwt *c)
{
    if (c->signing_keys.n > 0)
        json_object_set_new(n, "signing_keys", list_json(&c->signing_keys));
    if (c->system_account[0] != '\0')
        json_object_set_new(n, "system_account", json_string(c->system_account));
}

static json_t *nats_json(const veil_jwt *c)
{
    json_t *n = json_object();
    if (c->kind == VEIL_JWT_USER)
        put_user(n, c);
    else if (c->kind == VEIL_JWT_ACCOUNT)
        put_account(n, c);
    else
        put_operator(n, c);
    if (c->tags.n > 0)
        json_object_set_new(n, "tags", list_json(&c->tags));
    json_object_set_new(n, "type", json_string(kind_name(c->kind)));
    json_object_set_new(n, "version", json_integer(2));
    return n;
}

int veil_jwt_claims_dump(const veil_jwt *c, char **out, veil_err *err)
{
    json_t *o = json_object();
    if (c->exp != 0)
        json_object_set_new(o, "exp", json_integer(c->exp));
    if (c->jti[0] != '\0')
        json_object_set_new(o, "jti", json_string(c->jti));
    json_object_set_new(o, "iat", json_integer(c->iat));
    json_object_set_new(o, "iss", json_string(c->iss));
    if (c->name != NULL)
        json_object_set_new(o, "name", json_string(c->name));
    if (c->nbf != 0)
        json_object_set_new(o, "nbf", json_integer(c->nbf));
    json_object_set_new(o, "sub", json_string(c->sub));
    json_object_set_new(o, "nats", nats_json(c));
    *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (*out == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "jwt: cannot serialise claims (bad UTF-8?)");
    return 0;
}

/* ---- loading ---- */

static int get_str(json_t *o, const char *key, char *out, size_t cap, bool required, veil_err *err)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return required ? veil_err_set(err, VEIL_E_PARSE, "jwt: missing \"%s\"", key) : 0;
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return veil_err_set(err, VEIL_E_PARSE, "jwt: \"%s\" is not a string of < %zu bytes", key,
                            cap);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int get_int(json_t *o, const char *key, int64_t *out, veil_err *err)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return veil_err_set(err, VEIL_E_PARSE, "jwt: \"%s\" is not an integer", key);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int get_list(json_t *o, const char *key, veil_strlist *out, veil_err *err)
{
    json_t *a = json_object_get(o, key);
    if (a == NULL || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return veil_err_set(err, VEIL_E_PARSE, "jwt: \"%s\" is not a list", key);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        /* signing_keys may hold scoped-signer objects {"key": ...} */
        json_t *s = json_is_object(v) ? json_object_get(v, "key") : v;
        if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s))
            return veil_err_set(err, VEIL_E_PARSE, "jwt: \"%s\" holds a non-string", key);
        if (veil_strlist_add(out, json_string_value(s), err) != 0)
            return -1;
    }
    return 0;
}

static int get_perm(json_t *n, const char *key, veil_strlist *allow, veil_strlist *deny,
                    veil_err *err)
{
    json_t *p = json_object_get(n, key);
    if (p == NULL)
        return 0;
    if (!json_is_object(p))
        return veil_err_set(err, VEIL_E_PARSE, "jwt: \"%s\" is not an object", key);
    if (get_list(p, "allow", allow, err) != 0 || get_list(p, "deny", deny, err) != 0)
        return -1;
    return 0;
}

static int get_user(json_t *n, veil_jwt *c, veil_err *err)
{
    json_t *resp = json_object_get(n, "resp");
    if (resp != NULL && (!json_is_object(resp) || get_int(resp, "max", &c->resp_max, err) != 0 ||
                         get_int(resp, "ttl", &c->resp_ttl_ns, err) != 0))
        return veil_err_set(err, VEIL_E_PARSE, "jwt: bad \"resp\"");
    json_t *bearer = json_object_get(n, "bearer_token");
    if (bearer != NULL && !json_is_boolean(bearer))
        return veil_err_set(err, VEIL_E_PARSE, "jwt: \"bearer_token\" is not a boolean");
    c->bearer_token = json_is_true(bearer);
    if (get_perm(n, "pub", &c->pub_allow, &c->pub_deny, err) != 0 ||
        get_perm(n, "sub", &c->sub_allow, &c->sub_deny, err) != 0 ||
        get_int(n, "subs", &c->limits.subs, err) != 0 ||
        get_int(n, "data", &c->limits.data, err) != 0 ||
        get_int(n, "payload", &c->limits.payload, err) != 0)
        return -1;
    return get_str(n, "issuer_account", c->issuer_account, sizeof(c->issuer_account), false, err);
}

static int get_revocations(json_t *n, veil_jwt *c, veil_err *err)
{
    json_t *r = json_object_get(n, "revocations");
    if (r == NULL)
        return 0;
    if (!json_is_object(r))
        return veil_err_set(err, VEIL_E_PARSE, "jwt: \"revocations\" is not an object");
    const char *key;
    json_t *v;
    json_object_foreach(r, key, v)
    {
        if (!json_is_integer(v))
            return veil_err_set(err, VEIL_E_PARSE, "jwt: revocation time is not an integer");
        if (veil_jwt_add_revocation(c, key, (int64_t)json_integer_value(v), err) != 0)
            return -1;
    }
    return 0;
}

static int get_account(json_t *n, veil_jwt *c, veil_err *err)
{
    json_t *l = json_object_get(n, "limits");
    if (l != NULL) {
        json_t *w = json_object_get(l, "wildcards");
        if (!json_is_object(l) || (w != NULL && !json_is_boolean(w)))
            return veil_err_set(err, VEIL_E_PARSE, "jwt: bad account \"limits\"");
        c->limits.wildcards = w == NULL || json_is_true(w);
        if (get_int(l, "subs", &c->limits.subs, err) != 0 ||
            get_int(l, "data", &c->limits.data, err) != 0 ||
            get_int(l, "payload", &c->limits.payload, err) != 0 ||
            get_int(l, "imports", &c->limits.imports, err) != 0 ||
            get_int(l, "exports", &c->limits.exports, err) != 0 ||
            get_int(l, "conn", &c->limits.conn, err) != 0 ||
            get_int(l, "leaf", &c->limits.leaf, err) != 0)
            return -1;
    }
    if (get_list(n, "signing_keys", &c->signing_keys, err) != 0)
        return -1;
    return get_revocations(n, c, err);
}

static int get_kind(json_t *n, veil_jwt *c, veil_err *err)
{
    char type[16];
    int64_t version = 0;
    if (get_str(n, "type", type, sizeof(type), true, err) != 0 ||
        get_int(n, "version", &version, err) != 0)
        return -1;
    if (version != 2)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "jwt: claims version %lld (want 2)",
                            (long long)version);
    if (strcmp(type, "operator") == 0)
        c->kind = VEIL_JWT_OPERATOR;
    else if (strcmp(type, "account") == 0)
        c->kind = VEIL_JWT_ACCOUNT;
    else if (strcmp(type, "user") == 0)
        c->kind = VEIL_JWT_USER;
    else
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "jwt: unsupported claims type \"%s\"", type);
    return 0;
}

static int get_nats(json_t *n, veil_jwt *c, veil_err *err)
{
    if (!json_is_object(n))
        return veil_err_set(err, VEIL_E_PARSE, "jwt: missing \"nats\" object");
    if (get_kind(n, c, err) != 0 || get_list(n, "tags", &c->tags, err) != 0)
        return -1;
    if (c->kind == VEIL_JWT_USER)
        return get_user(n, c, err);
    if (c->kind == VEIL_JWT_ACCOUNT)
        return get_account(n, c, err);
    if (get_list(n, "signing_keys", &c->signing_keys, err) != 0)
        return -1;
    return get_str(n, "system_account", c->system_account, sizeof(c->system_account), false, err);
}

static int get_name(json_t *o, veil_jwt *c, veil_err *err)
{
    json_t *v = json_object_get(o, "name");
    if (v == NULL)
        return 0;
    if (!json_is_string(v) || json_string_length(v) > 1024)
        return veil_err_set(err, VEIL_E_PARSE, "jwt: \"name\" is not a short string");
    c->name = strdup(json_string_value(v));
    return c->name ? 0 : veil_err_set(err, VEIL_E_NOMEM, "jwt: out of memory");
}

int veil_jwt_claims_load(const char *json, size_t len, veil_jwt *c, veil_err *err)
{
    json_error_t jerr;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return veil_err_set(err, VEIL_E_PARSE, "jwt: claims are not a JSON object");
    }
    int rc = get_str(o, "iss", c->iss, sizeof(c->iss), true, err);
    if (rc == 0)
        rc = get_str(o, "sub", c->sub, sizeof(c->sub), true, err);
    if (rc == 0)
        rc = get_str(o, "jti", c->jti, sizeof(c->jti), false, err);
    if (rc == 0 && (get_int(o, "iat", &c->iat, err) != 0 || get_int(o, "exp", &c->exp, err) != 0 ||
                    get_int(o, "nbf", &c->nbf, err) != 0))
        rc = -1;
    if (rc == 0)
        rc = get_name(o, c, err);
    if (rc == 0)
        rc = get_nats(json_object_get(o, "nats"), c, err);
    json_decref(o);
    return rc;
}
