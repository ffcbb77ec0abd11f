// SPDX-License-Identifier: Apache-2.0
/*
 * dashboard_chain.c - the dashboard's views that need the libraries veild
 * links beyond veil_node (issue 19), reached through the function pointer
 * veild passes (veil_api_config.dash_chain). The runtime's view: where the
 * container of a replica lives and its status (veil_container_inspect), so
 * that the API can read the end of its output. The chain views: the cluster's
 * policy as the registry contract holds it, one replica's anchor inclusion
 * proof checked by the contract's verifyInclusion (the check `veil chain
 * anchor verify` makes), the contract's dispute count and one dispute
 * (getDispute) of this cluster. Each call opens its own read-only chain
 * client from the node's config (rpc_url, chain_id, contract_address,
 * cluster_id), never sharing veild's client. They are called only by the
 * dashboard cache's refresher thread (dashboard_cache.c), never on the
 * API's thread: a stopped RPC delays the cache, not an answer.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <veil/chain.h>
#include <veil/node.h>
#include <veil/runtime.h>

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
    co.rpc.timeout_ms = 4000;
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
        "{s:I, s:I, s:o, s:s, s:o, s:s, s:o, s:o, s:{s:I, s:I}}", "cluster_id",
        (json_int_t)cluster_id, "version", (json_int_t)p->version, "allowed_images",
        hex_list((const uint8_t(*)[32])p->image_digests, p->n_image_digests, "sha256:"),
        "scheduler_policy", p->scheduler_policy ? p->scheduler_policy : "", "weights", weights,
        "fhe_key_hash", key_hash, "key_holders", holders, "guardian_keys",
        hex_list((const uint8_t(*)[32])p->guardian_keys, p->n_guardian_keys, ""), "shards", "size",
        (json_int_t)p->shard_size, "redundancy", (json_int_t)p->shard_redundancy);
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

/* One view call of the registry: `sig` with `args` (NULL: none), the
 * answer decoded as `ret_types` into *out. */
static int registry_call(const veil_config *cfg, const char *sig, const veil_abi_value *args,
                         const char *ret_types, veil_abi_value *out, uint64_t *cluster_id,
                         veil_err *err)
{
    veil_chain_client *c = NULL;
    veil_buf data;
    veil_buf_init(&data);
    veil_abi_value none = {.kind = VEIL_ABI_TUPLE};
    uint8_t *ret = NULL;
    size_t ret_len = 0;
    veil_eth_address contract;
    int rc = open_reader(cfg, &c, cluster_id, err);
    if (rc == 0 && veil_chain_client_contract(c, &contract) != 0)
        rc = veil_err_set(err, VEIL_E_INVALID, "no contract address");
    if (rc == 0)
        rc = veil_abi_encode_call(sig, args ? args : &none, &data, err);
    if (rc == 0)
        rc = veil_rpc_eth_call(veil_chain_client_rpc(c), NULL, &contract, data.data, data.len, &ret,
                               &ret_len, err);
    if (rc == 0)
        rc = veil_abi_decode_text(ret_types, ret, ret_len, out, err);
    free(ret);
    veil_buf_free(&data);
    veil_chain_client_close(c);
    return rc;
}

static unsigned dispute_count_view(const veil_config *cfg, void **reply)
{
    veil_err err = {0};
    veil_abi_value out = {0};
    uint64_t cid = 0, n = 0;
    if (registry_call(cfg, "disputeCount()", NULL, "(uint64)", &out, &cid, &err) != 0)
        return fail(502, &err, "disputeCount", reply);
    bool ok = veil_abi_word_u64(&out.items[0], &n) && n <= (uint64_t)INT32_MAX;
    veil_abi_value_clear(&out);
    if (!ok) {
        veil_err_set(&err, VEIL_E_RANGE, "more disputes than the dashboard counts (2^31)");
        return fail(502, &err, "disputeCount", reply);
    }
    *reply = json_pack("{s:I}", "count", (json_int_t)n);
    return 200;
}

static json_t *hex32_json(const uint8_t w[32], const char *prefix)
{
    char hex[65];
    veil_hex_encode(hex, sizeof hex, w, 32);
    return json_sprintf("%s%s", prefix, hex);
}

static const char *dispute_status_name(uint64_t s)
{
    static const char *const names[] = {"unknown", "open", "upheld", "rejected"};
    return s < 4 ? names[s] : "unknown";
}

/* getDispute(id): this cluster's dispute as JSON, 404 when it is another
 * cluster's or unknown (the contract reverts UnknownDispute). */
static unsigned dispute_view(const veil_config *cfg, int id, void **reply)
{
    veil_err err = {0};
    veil_abi_value args = {0}, out = {0};
    uint64_t cid = 0, f[4] = {0};
    if (id <= 0 || veil_abi_set_list(&args, VEIL_ABI_TUPLE, 1) != 0) {
        *reply = json_pack("{s:s}", "error", id <= 0 ? "no such dispute" : "out of memory");
        return id <= 0 ? 404 : 500;
    }
    veil_abi_set_uint(&args.items[0], (uint64_t)id);
    int rc =
        registry_call(cfg, "getDispute(uint256)", &args,
                      "(uint64,uint8,uint16,uint16,address,bytes32,bytes32)", &out, &cid, &err);
    veil_abi_value_clear(&args);
    if (rc != 0)
        return fail(err.code == VEIL_E_STATE ? 404 : 502, &err, "getDispute", reply);
    for (int i = 0; i < 4; i++)
        (void)veil_abi_word_u64(&out.items[i], &f[i]);
    if (f[0] != cid) {
        veil_abi_value_clear(&out);
        *reply = json_pack("{s:s}", "error", "another cluster's dispute");
        return 404;
    }
    veil_eth_address opener;
    memcpy(opener.b, out.items[4].word + 12, 20);
    char addr[43];
    veil_eth_address_format(&opener, addr);
    *reply = json_pack("{s:i, s:I, s:s, s:I, s:I, s:s, s:o, s:o}", "id", id, "cluster_id",
                       (json_int_t)cid, "status", dispute_status_name(f[1]), "uphold_votes",
                       (json_int_t)f[2], "reject_votes", (json_int_t)f[3], "opener", addr,
                       "anchor_id", hex32_json(out.items[5].word, "0x"), "evidence_hash",
                       hex32_json(out.items[6].word, "0x"));
    veil_abi_value_clear(&out);
    return *reply ? 200 : 500;
}

/* Replica `replica` of job `job_hex`'s container on this node (the runtime
 * names it veil-<16 hex>-<replica>): {dir, container: {id, name, status,
 * exit_code, oom_killed, started, finished}}; 404 when there is none, 501
 * when Docker runs the containers (its logs are Docker's). */
static unsigned container_view(const veil_config *cfg, const char *job_hex, int replica,
                               void **reply)
{
    veil_err err = {0};
    struct veil_runtime_config rc;
    if (veil_runtime_config_load(cfg, NULL, &rc, &err) != 0)
        return fail(500, &err, "runtime", reply);
    if (rc.docker_socket) {
        *reply = json_pack("{s:s}", "error", "containers run by Docker: use veil job logs");
        return 501;
    }
    char name[64];
    snprintf(name, sizeof name, "veil-%.16s-%d", job_hex, replica);
    struct veil_container_info info;
    if (veil_container_inspect(&rc.runtime, name, &info, &err) != 0)
        return fail(404, &err, "no container for this replica on this node yet", reply);
    *reply = json_pack("{s:s++, s:{s:s, s:s, s:s, s:i, s:b, s:I, s:I}}", "dir", rc.data_dir,
                       "/containers/", info.id, "container", "id", info.id, "name", info.name,
                       "status", veil_container_status_name(info.status), "exit_code",
                       info.exit_code, "oom_killed", info.oom_killed, "started",
                       (json_int_t)info.started, "finished", (json_int_t)info.finished);
    return *reply ? 200 : 500;
}

unsigned veil_dashboard_chain_view(const veil_config *node_cfg, veil_store *store, const char *what,
                                   const char *job_hex, int replica, void **reply)
{
    if (strcmp(what, "policy") == 0)
        return policy_view(node_cfg, reply);
    if (strcmp(what, "verify") == 0 && job_hex)
        return verify_view(node_cfg, store, job_hex, replica, reply);
    if (strcmp(what, "container") == 0 && job_hex)
        return container_view(node_cfg, job_hex, replica, reply);
    if (strcmp(what, "dispute_count") == 0)
        return dispute_count_view(node_cfg, reply);
    if (strcmp(what, "dispute") == 0)
        return dispute_view(node_cfg, replica, reply);
    *reply = json_pack("{s:s}", "error", "unknown chain view");
    return 404;
}
