// SPDX-License-Identifier: Apache-2.0
/*
 * dashboard_chain.c - the dashboard's chain views (issue 19): the cluster's
 * policy as the registry contract holds it, and one replica's anchor
 * inclusion proof checked by the contract's verifyInclusion (the check
 * `veil chain anchor verify` makes). Each call opens its own read-only chain
 * client from the node's config (rpc_url, chain_id, contract_address,
 * cluster_id): it runs on the API's thread, never sharing veild's client.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <veil/chain.h>
#include <veil/node.h>

#define PROOF_MAX 64

static unsigned fail(unsigned code, const veil_err *err, const char *ctx, void **reply)
{
    *reply = json_pack("{s:s++}", "error", ctx, ": ", err->msg);
    return code;
}

static int open_reader(const veil_config *cfg, veil_chain_client **out, uint64_t *cluster_id,
                       veil_err *err)
{
    veil_chain_options co = {0};
    co.rpc_url = veil_config_str(cfg, "rpc_url", "http://127.0.0.1:8545");
    co.expected_chain_id = (uint64_t)veil_config_int(cfg, "chain_id", 0);
    co.rpc.retries = 1;
    co.rpc.timeout_ms = 5000;
    const char *contract = veil_config_str(cfg, "contract_address", NULL);
    const char *cid_text = veil_config_str(cfg, "cluster_id", "");
    char *end = NULL;
    unsigned long long cid = strtoull(cid_text, &end, 10);
    if (!contract || !*cid_text || *end || cid == 0)
        return veil_err_set(err, VEIL_E_INVALID, "no contract_address or cluster_id in the config");
    if (veil_eth_address_parse(contract, &co.contract, err) != 0)
        return veil_err_wrap(err, "contract_address");
    co.has_contract = true;
    *cluster_id = (uint64_t)cid;
    return veil_chain_client_open(out, &co, err);
}

static json_t *hex_list(const uint8_t (*items)[32], size_t n, const char *prefix)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char hex[65];
        veil_hex_encode(hex, sizeof hex, items[i], 32);
        json_array_append_new(a, json_sprintf("%s%s", prefix, hex));
    }
    return a;
}

static json_t *policy_json(const veil_contract_policy *p, uint64_t cluster_id)
{
    json_t *holders = json_array(), *weights = json_array();
    for (size_t i = 0; i < p->n_decryptors; i++) {
        char a[43];
        veil_eth_address_format(&p->decryptors[i], a);
        json_array_append_new(holders, json_string(a));
    }
    for (size_t i = 0; i < p->n_weights; i++)
        json_array_append_new(weights, json_integer(p->weights[i]));
    char key_hash[65];
    veil_hex_encode(key_hash, sizeof key_hash, p->fhe_key_hash, 32);
    return json_pack(
        "{s:I, s:I, s:o, s:s, s:o, s:s, s:o, s:o}", "cluster_id", (json_int_t)cluster_id, "version",
        (json_int_t)p->version, "allowed_images",
        hex_list((const uint8_t(*)[32])p->image_digests, p->n_image_digests, "sha256:"),
        "scheduler_policy", p->scheduler_policy ? p->scheduler_policy : "", "weights", weights,
        "fhe_key_hash", key_hash, "key_holders", holders, "guardian_keys",
        hex_list((const uint8_t(*)[32])p->guardian_keys, p->n_guardian_keys, ""));
}

static unsigned policy_view(const veil_config *cfg, void **reply)
{
    veil_err err = {0};
    veil_chain_client *c = NULL;
    uint64_t cid = 0;
    if (open_reader(cfg, &c, &cid, &err) != 0)
        return fail(503, &err, "chain", reply);
    veil_contract_policy p = {0};
    int rc = veil_contract_get_policy(c, cid, &p, &err);
    veil_chain_client_close(c);
    if (rc != 0)
        return fail(502, &err, "getClusterPolicy", reply);
    *reply = policy_json(&p, cid);
    veil_contract_policy_clear(&p);
    return 200;
}

/* The last row of `rows` whose "replica" is `replica`. */
static json_t *last_of_replica(json_t *rows, int replica)
{
    json_t *found = NULL, *row;
    size_t i;
    json_array_foreach(rows, i, row)
    {
        if (json_integer_value(json_object_get(row, "replica")) == replica)
            found = row;
    }
    return found;
}

static int hex32(const char *s, uint8_t out[32], const char *what, veil_err *err)
{
    if (!s || veil_hex_decode(out, 32, s, strlen(s), true, err) != 32)
        return veil_err_set(err, VEIL_E_PARSE, "%s is not 32 bytes of hex", what);
    return 0;
}

struct proof_check {
    uint8_t root[32], job[32], commitment[32];
    uint8_t proof[PROOF_MAX][32];
    size_t n_proof;
};

/* The anchor of replica `replica` of job `job_hex` in the store, parsed. */
static int load_proof(veil_store *store, const char *job_hex, int replica, struct proof_check *pc,
                      json_t **anchor_out, veil_err *err)
{
    json_t *job = veil_store_job_json(store, job_hex, err);
    if (!job)
        return -1;
    json_t *anchor = last_of_replica(json_object_get(job, "anchors"), replica);
    json_t *asg = last_of_replica(json_object_get(job, "assignments"), replica);
    json_t *proof = json_object_get(anchor, "proof");
    int rc = -1;
    if (!anchor || !asg) {
        veil_err_set(err, VEIL_E_NOTFOUND, "replica %d of job %.16s has no anchor yet", replica,
                     job_hex);
    } else if (json_array_size(proof) > PROOF_MAX) {
        veil_err_set(err, VEIL_E_RANGE, "inclusion proof longer than %d", PROOF_MAX);
    } else if (hex32(json_string_value(json_object_get(anchor, "root")), pc->root, "root", err) ==
                   0 &&
               hex32(job_hex, pc->job, "job id", err) == 0 &&
               hex32(json_string_value(json_object_get(asg, "commitment")), pc->commitment,
                     "commitment", err) == 0) {
        rc = 0;
        pc->n_proof = json_array_size(proof);
        for (size_t i = 0; rc == 0 && i < pc->n_proof; i++)
            rc = hex32(json_string_value(json_array_get(proof, i)), pc->proof[i], "proof", err);
    }
    if (rc == 0) {
        *anchor_out = json_deep_copy(anchor);
        json_object_set(*anchor_out, "commitment", json_object_get(asg, "commitment"));
    }
    json_decref(job);
    return rc;
}

static unsigned verify_view(const veil_config *cfg, veil_store *store, const char *job_hex,
                            int replica, void **reply)
{
    veil_err err = {0};
    struct proof_check *pc = calloc(1, sizeof *pc);
    json_t *anchor = NULL;
    if (!pc) {
        *reply = json_pack("{s:s}", "error", "out of memory");
        return 500;
    }
    if (load_proof(store, job_hex, replica, pc, &anchor, &err) != 0) {
        free(pc);
        return fail(err.code == VEIL_E_NOTFOUND ? 404 : 500, &err, "verify", reply);
    }
    veil_chain_client *c = NULL;
    uint64_t cid = 0;
    bool included = false;
    int rc = open_reader(cfg, &c, &cid, &err);
    if (rc == 0)
        rc = veil_contract_verify_inclusion(c, pc->root, cid, pc->job, pc->commitment,
                                            (const uint8_t(*)[32])pc->proof, pc->n_proof, &included,
                                            &err);
    veil_chain_client_close(c);
    free(pc);
    if (rc != 0) {
        json_decref(anchor);
        return fail(502, &err, "verifyInclusion", reply);
    }
    json_object_set_new(anchor, "job", json_string(job_hex));
    json_object_set_new(anchor, "cluster_id", json_integer((json_int_t)cid));
    json_object_set_new(anchor, "included", json_boolean(included));
    json_object_set_new(anchor, "checked_by", json_string("VeilRegistry.verifyInclusion"));
    *reply = anchor;
    return 200;
}

unsigned veil_dashboard_chain_view(const veil_config *node_cfg, veil_store *store, const char *what,
                                   const char *job_hex, int replica, void **reply)
{
    if (strcmp(what, "policy") == 0)
        return policy_view(node_cfg, reply);
    if (strcmp(what, "verify") == 0 && job_hex)
        return verify_view(node_cfg, store, job_hex, replica, reply);
    *reply = json_pack("{s:s}", "error", "unknown chain view");
    return 404;
}
