// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_bundle.c - the cluster bundle (owned by the veild integration): the
 * JSON file `veil cluster init` writes beside the cluster's public FHE keys
 * and `veil node join` reads (contract, chain id, cluster id, decryptor, key
 * files, bootstrap addresses), and the chain helpers the CLI and veild share
 * (keystore password, client opening, the keccak of the FHE public key).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon.h"

#define BUNDLE_MAX_BYTES (64 * 1024)

static int copy_str(char *dst, size_t cap, json_t *o, const char *key, bool required, veil_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        dst[0] = '\0';
        return required ? veil_err_set(err, VEIL_E_PARSE, "bundle: missing \"%s\"", key) : 0;
    }
    if (!json_is_string(v))
        return veil_err_set(err, VEIL_E_PARSE, "bundle: \"%s\" is not a string", key);
    size_t n = json_string_length(v);
    if (n >= cap)
        return veil_err_set(err, VEIL_E_RANGE, "bundle: \"%s\" is too long", key);
    memcpy(dst, json_string_value(v), n + 1);
    return 0;
}

static int get_u64(uint64_t *out, json_t *o, const char *key, veil_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return veil_err_set(err, VEIL_E_PARSE, "bundle: \"%s\" must be a non-negative integer",
                            key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Resolves a key path from the bundle against the bundle's directory. */
static int resolve(char *dst, size_t cap, const char *dir, const char *rel, veil_err *err)
{
    int n = rel[0] == '/' ? snprintf(dst, cap, "%s", rel) : snprintf(dst, cap, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= cap)
        return veil_err_set(err, VEIL_E_RANGE, "bundle: key path too long");
    return 0;
}

int veil_bundle_load(struct veil_bundle *b, const char *path, veil_err *err)
{
    memset(b, 0, sizeof *b);
    char dir[PATH_MAX], file[PATH_MAX];
    struct stat st;
    if (stat(path, &st) != 0)
        return veil_err_set(err, VEIL_E_NOTFOUND, "bundle '%s' not found", path);
    if (S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", path);
        if (snprintf(file, sizeof file, "%s/%s", path, VEIL_BUNDLE_FILE) >= (int)sizeof file)
            return veil_err_set(err, VEIL_E_RANGE, "bundle path too long");
    } else {
        snprintf(file, sizeof file, "%s", path);
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof dir, ".");
    }
    uint8_t *data;
    size_t len;
    if (veil_file_read(file, BUNDLE_MAX_BYTES, &data, &len, err) != 0)
        return veil_err_wrap(err, "bundle");
    int rc = veil_bundle_parse(b, (const char *)data, len, dir, err);
    free(data);
    if (rc != 0)
        veil_err_wrap(err, "%s", file);
    return rc;
}

int veil_bundle_parse(struct veil_bundle *b, const char *text, size_t len, const char *dir,
                      veil_err *err)
{
    memset(b, 0, sizeof *b);
    if (len > BUNDLE_MAX_BYTES)
        return veil_err_set(err, VEIL_E_RANGE, "bundle over %d bytes", BUNDLE_MAX_BYTES);
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return veil_err_set(err, VEIL_E_PARSE, "line %d: %s", je.line,
                            o ? "not a JSON object" : je.text);
    }
    char pub[400], srv[400], thp[400], sqk[400];
    uint64_t version = 0;
    int rc = -1;
    if (get_u64(&version, o, "version", err) != 0)
        goto out;
    if (version != 1) {
        veil_err_set(err, VEIL_E_UNSUPPORTED, "bundle version %llu (this veil reads 1)",
                     (unsigned long long)version);
        goto out;
    }
    if (copy_str(b->name, sizeof b->name, o, "name", false, err) != 0 ||
        copy_str(b->rpc_url, sizeof b->rpc_url, o, "rpc_url", true, err) != 0 ||
        get_u64(&b->chain_id, o, "chain_id", err) != 0 ||
        copy_str(b->contract, sizeof b->contract, o, "contract", true, err) != 0 ||
        get_u64(&b->cluster_id, o, "cluster_id", err) != 0 ||
        copy_str(b->decryptor, sizeof b->decryptor, o, "decryptor", true, err) != 0 ||
        copy_str(b->fhe_key_hash, sizeof b->fhe_key_hash, o, "fhe_key_hash", true, err) != 0 ||
        copy_str(pub, sizeof pub, o, "public_key", true, err) != 0 ||
        copy_str(srv, sizeof srv, o, "server_key", true, err) != 0 ||
        copy_str(thp, sizeof thp, o, "threshold_public", false, err) != 0 ||
        copy_str(sqk, sizeof sqk, o, "squash_key", false, err) != 0)
        goto out;
    if (!thp[0] != !sqk[0]) {
        veil_err_set(err, VEIL_E_PARSE,
                     "bundle: \"threshold_public\" and \"squash_key\" go together");
        goto out;
    }
    if (thp[0] && (resolve(b->threshold_public, sizeof b->threshold_public, dir, thp, err) != 0 ||
                   resolve(b->squash_key, sizeof b->squash_key, dir, sqk, err) != 0))
        goto out;
    veil_eth_address a;
    if (veil_eth_address_parse(b->contract, &a, err) != 0 ||
        veil_eth_address_parse(b->decryptor, &a, err) != 0) {
        veil_err_wrap(err, "bundle");
        goto out;
    }
    if (resolve(b->public_key, sizeof b->public_key, dir, pub, err) != 0 ||
        resolve(b->server_key, sizeof b->server_key, dir, srv, err) != 0)
        goto out;
    json_t *boot = json_object_get(o, "bootstrap");
    if (boot && !json_is_array(boot)) {
        veil_err_set(err, VEIL_E_PARSE, "bundle: \"bootstrap\" must be an array");
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(boot, i, v)
    {
        if (!json_is_string(v)) {
            veil_err_set(err, VEIL_E_PARSE, "bundle: bootstrap[%zu] is not a string", i);
            goto out;
        }
        if (veil_bundle_add_bootstrap(b, json_string_value(v), err) != 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(o);
    if (rc != 0)
        veil_bundle_free(b);
    return rc;
}

static const char *relative_to(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) == 0 && path[n] == '/')
        return path + n + 1;
    return path;
}

int veil_bundle_save(const struct veil_bundle *b, const char *dir, veil_err *err)
{
    json_t *o = json_object();
    json_t *boot = json_array();
    for (size_t i = 0; i < b->n_bootstrap; i++)
        json_array_append_new(boot, json_string(b->bootstrap[i]));
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "name", json_string(b->name));
    json_object_set_new(o, "rpc_url", json_string(b->rpc_url));
    json_object_set_new(o, "chain_id", json_integer((json_int_t)b->chain_id));
    json_object_set_new(o, "contract", json_string(b->contract));
    json_object_set_new(o, "cluster_id", json_integer((json_int_t)b->cluster_id));
    json_object_set_new(o, "decryptor", json_string(b->decryptor));
    json_object_set_new(o, "fhe_key_hash", json_string(b->fhe_key_hash));
    json_object_set_new(o, "public_key", json_string(relative_to(b->public_key, dir)));
    json_object_set_new(o, "server_key", json_string(relative_to(b->server_key, dir)));
    if (b->threshold_public[0]) {
        json_object_set_new(o, "threshold_public",
                            json_string(relative_to(b->threshold_public, dir)));
        json_object_set_new(o, "squash_key", json_string(relative_to(b->squash_key, dir)));
    }
    json_object_set_new(o, "bootstrap", boot);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    if (!text)
        return veil_err_set(err, VEIL_E_NOMEM, "bundle: out of memory");
    char file[PATH_MAX];
    int rc;
    if (snprintf(file, sizeof file, "%s/%s", dir, VEIL_BUNDLE_FILE) >= (int)sizeof file)
        rc = veil_err_set(err, VEIL_E_RANGE, "bundle path too long");
    else
        rc = veil_file_write_atomic(file, text, strlen(text), 0644, err);
    free(text);
    return rc;
}

void veil_bundle_free(struct veil_bundle *b)
{
    for (size_t i = 0; i < b->n_bootstrap; i++)
        free(b->bootstrap[i]);
    b->n_bootstrap = 0;
}

int veil_bundle_add_bootstrap(struct veil_bundle *b, const char *ma, veil_err *err)
{
    for (size_t i = 0; i < b->n_bootstrap; i++)
        if (strcmp(b->bootstrap[i], ma) == 0)
            return 0;
    if (b->n_bootstrap == VEIL_BUNDLE_MAX_BOOTSTRAP)
        return veil_err_set(err, VEIL_E_LIMIT, "bundle: more than %d bootstrap addresses",
                            VEIL_BUNDLE_MAX_BOOTSTRAP);
    if (strlen(ma) > 512)
        return veil_err_set(err, VEIL_E_RANGE, "bundle: bootstrap address too long");
    b->bootstrap[b->n_bootstrap] = strdup(ma);
    if (!b->bootstrap[b->n_bootstrap])
        return veil_err_set(err, VEIL_E_NOMEM, "bundle: out of memory");
    b->n_bootstrap++;
    return 0;
}

int veil_daemon_read_password(const char *password_file, char *out, size_t cap, veil_err *err)
{
    if (password_file)
        return veil_secret_file_read_line(password_file, out, cap, err) != 0
                   ? veil_err_wrap(err, "keystore password file")
                   : 0;
    const char *env = getenv("VEIL_KEYSTORE_PASSWORD");
    if (!env)
        return veil_err_set(err, VEIL_E_INVALID,
                            "no keystore password: set keystore_password_file or "
                            "VEIL_KEYSTORE_PASSWORD");
    if (strlen(env) >= cap)
        return veil_err_set(err, VEIL_E_RANGE, "keystore password too long");
    snprintf(out, cap, "%s", env);
    return 0;
}

/* The chain's RPC endpoint may be down when veild starts (an outage, or a
 * node restarted during one): a node that knows its chain (chain_id set) asks
 * again for up to a minute, with a log line each time, rather than dying by
 * itself (found by the chaos suite: rpc_down while a node restarts). A wrong
 * chain id is final; commands with no chain id yet fail at once. */
#define CHAIN_OPEN_TRIES   30
#define CHAIN_OPEN_PAUSE_S 2

static int chain_open_retrying(veil_chain_client **out, const veil_chain_options *co, veil_err *err)
{
    for (int i = 1;; i++) {
        if (veil_chain_client_open(out, co, err) == 0)
            return 0;
        if ((err->code != VEIL_E_NETWORK && err->code != VEIL_E_TIMEOUT) || i == CHAIN_OPEN_TRIES)
            return -1;
        veil_log(VEIL_LOG_WARN, "veild", "chain RPC unreachable: trying again",
                 "attempt=%d of=%d error=\"%s\"", i, CHAIN_OPEN_TRIES, err->msg);
        sleep(CHAIN_OPEN_PAUSE_S);
    }
}

static int chain_open(const char *rpc_url, uint64_t chain_id, const char *contract,
                      const char *keystore, const char *password_file, bool defer,
                      veil_chain_client **out, veil_err *err)
{
    veil_chain_options co = {0};
    co.rpc_url = rpc_url;
    co.expected_chain_id = chain_id;
    co.defer_chain_check = defer;
    co.receipt_timeout_ms = 60000;
    co.tx_type = VEIL_TX_EIP1559;
    co.rpc.retries = 2;
    co.rpc.timeout_ms = 10000;
    if (contract) {
        if (veil_eth_address_parse(contract, &co.contract, err) != 0)
            return veil_err_wrap(err, "contract address");
        co.has_contract = true;
    }
    veil_eth_key key;
    if (keystore) {
        char pw[256];
        if (veil_daemon_read_password(password_file, pw, sizeof pw, err) != 0)
            return -1;
        int rc = veil_keystore_load(keystore, pw, &key, err);
        veil_memzero(pw, sizeof pw);
        if (rc != 0)
            return veil_err_wrap(err, "keystore %s", keystore);
        co.signer = &key;
    }
    int rc = chain_id ? chain_open_retrying(out, &co, err) : veil_chain_client_open(out, &co, err);
    if (keystore)
        veil_eth_key_wipe(&key);
    return rc;
}

int veil_daemon_chain_open(const char *rpc_url, uint64_t chain_id, const char *contract,
                           const char *keystore, const char *password_file, veil_chain_client **out,
                           veil_err *err)
{
    return chain_open(rpc_url, chain_id, contract, keystore, password_file, false, out, err);
}

int veil_daemon_chain_open_deferred(const char *rpc_url, uint64_t chain_id, const char *contract,
                                    const char *keystore, const char *password_file,
                                    veil_chain_client **out, veil_err *err)
{
    return chain_open(rpc_url, chain_id, contract, keystore, password_file, true, out, err);
}

int veil_daemon_file_keccak(const char *path, uint8_t out[32], veil_err *err)
{
    uint8_t *data;
    size_t len;
    if (veil_file_read(path, (size_t)1 << 31, &data, &len, err) != 0)
        return -1;
    veil_keccak256(data, len, out);
    free(data);
    return 0;
}

int veil_daemon_keyset_keccak(const char *public_key, const char *threshold_public, uint8_t out[32],
                              veil_err *err)
{
    uint8_t *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    if (veil_file_read(public_key, (size_t)1 << 31, &a, &la, err) != 0)
        return -1;
    if (veil_file_read(threshold_public, (size_t)1 << 20, &b, &lb, err) != 0) {
        free(a);
        return -1;
    }
    veil_keccak k;
    veil_keccak_init(&k);
    veil_keccak_update(&k, a, la);
    veil_keccak_update(&k, b, lb);
    veil_keccak_final(&k, out);
    free(a);
    free(b);
    return 0;
}

int veil_daemon_sibling_path(char *out, size_t cap, const char *beside, const char *name,
                             veil_err *err)
{
    const char *slash = strrchr(beside, '/');
    int n = slash ? snprintf(out, cap, "%.*s/%s", (int)(slash - beside), beside, name)
                  : snprintf(out, cap, "%s", name);
    if (n < 0 || (size_t)n >= cap)
        return veil_err_set(err, VEIL_E_RANGE, "path beside %s too long", beside);
    return 0;
}
