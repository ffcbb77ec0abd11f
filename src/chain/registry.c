// SPDX-License-Identifier: Apache-2.0
/*
 * registry.c - typed calls of the VeilRegistry contract
 * (contracts/src/VeilRegistry.sol): calldata built with the ABI encoder,
 * transactions through veil_chain_send, results read back from the events
 * of the receipt or decoded from eth_call, and a decoder of the contract's
 * events and custom errors. The signatures here must match the contract;
 * tests/integration/chain checks them against the deployed code.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/chain.h>

#include "chain_internal.h"

const char *const veil_contract_errors[] = {
    "UnknownCluster(uint64)",
    "InvalidThreshold(uint256,uint256)",
    "InvalidArgument(string)",
    "TooMany(string,uint256,uint256)",
    "NotOperator(uint64,address)",
    "AlreadyOperator(uint64,address)",
    "NotActiveNode(uint64,address)",
    "NodeAlreadyRegistered(address)",
    "PeerIdTaken(bytes32)",
    "UnknownNode(address)",
    "NodeInactive(address)",
    "NotNodeOperator(address,address)",
    "UnknownProposal(uint256)",
    "ProposalExpired(uint256,uint64)",
    "ProposalAlreadyExecuted(uint256)",
    "AlreadyVoted(uint256,address)",
    "UnknownDispute(uint256)",
    "DisputeClosed(uint256)",
    "BatchEpochAnchored(uint64,uint64)",
};
const size_t veil_contract_errors_len = VEIL_ARRAY_LEN(veil_contract_errors);

/* struct Policy of the contract, field by field (policy_to_abi, policy_from_abi). */
#define POLICY_TYPE                                                                                \
    "(bytes32[],string,uint32[],bytes32,address[],bytes32[],uint32,uint32,uint32,uint8,uint8)"
#define POLICY_FIELDS 11
#define POLICY_RET    "(" POLICY_TYPE ",uint64)" /* getClusterPolicy: (policy, version) */

static int policy_to_abi(const veil_contract_policy *p, veil_abi_value *t);

struct event_def {
    const char *name;
    const char *signature;  /* for topic0 */
    const char *indexed[3]; /* types of topics 1..3 */
    const char *indexed_names[3];
    const char *data_types; /* tuple of the non-indexed parameters */
    const char *data_names; /* space separated */
};

static const struct event_def events[] = {
    {"ClusterCreated",
     "ClusterCreated(uint64,string,uint16,uint16)",
     {"uint64"},
     {"cluster"},
     "(string,uint16,uint16)",
     "name threshold operators"},
    {"OrganizationAdded",
     "OrganizationAdded(uint64,uint32,string)",
     {"uint64", "uint32"},
     {"cluster", "org"},
     "(string)",
     "name"},
    {"OperatorAdded",
     "OperatorAdded(uint64,address,uint32)",
     {"uint64", "address"},
     {"cluster", "operator"},
     "(uint32)",
     "org"},
    {"NodeRegistered",
     "NodeRegistered(uint64,address,address,bytes)",
     {"uint64", "address", "address"},
     {"cluster", "node", "operator"},
     "(bytes)",
     "peer_id"},
    {"NodeDeactivated",
     "NodeDeactivated(uint64,address,address)",
     {"uint64", "address"},
     {"cluster", "node"},
     "(address)",
     "by"},
    {"ProposalCreated",
     "ProposalCreated(uint64,uint256,uint8,address,uint64)",
     {"uint64", "uint256"},
     {"cluster", "proposal"},
     "(uint8,address,uint64)",
     "kind proposer expiry"},
    {"ProposalVoted",
     "ProposalVoted(uint256,address,uint16)",
     {"uint256", "address"},
     {"proposal", "voter"},
     "(uint16)",
     "yes_votes"},
    {"ProposalExecuted",
     "ProposalExecuted(uint64,uint256,uint8)",
     {"uint64", "uint256"},
     {"cluster", "proposal"},
     "(uint8)",
     "kind"},
    {"PolicyChanged",
     "PolicyChanged(uint64,uint64,uint256)",
     {"uint64"},
     {"cluster"},
     "(uint64,uint256)",
     "version proposal"},
    {"DeploymentAnchored",
     "DeploymentAnchored(uint64,bytes32,bytes32)",
     {"uint64", "bytes32"},
     {"cluster", "job"},
     "(bytes32)",
     "assignment_hash"},
    {"DisputeOpened",
     "DisputeOpened(uint64,uint256,bytes32,bytes32,address)",
     {"uint64", "uint256", "bytes32"},
     {"cluster", "dispute", "anchor"},
     "(bytes32,address)",
     "evidence_hash opener"},
    {"DisputeVoted",
     "DisputeVoted(uint256,address,bool)",
     {"uint256", "address"},
     {"dispute", "voter"},
     "(bool)",
     "uphold"},
    {"DisputeResolved",
     "DisputeResolved(uint64,uint256,bool)",
     {"uint64", "uint256"},
     {"cluster", "dispute"},
     "(bool)",
     "upheld"},
};

static void topic_of(const char *signature, uint8_t out[32])
{
    veil_keccak256(signature, strlen(signature), out);
}

/* BatchAnchored is anonymous and not in the table above (its topic0 is not
 * a signature hash); see veil_contract_batch in veil/chain.h. The function
 * name's suffix is mined for the selector 0x000000f6 (VeilRegistry.sol). */
#define BATCH_TOPIC_SIG  "BatchAnchored(uint64,bytes32,uint256)"
#define ANCHOR_BATCH_SIG "anchorBatch_lqy32(bytes32,uint256)"

static void put_be(uint8_t *out, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *in, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | in[i];
    return v;
}

void veil_contract_batch_topic(uint64_t cluster_id, uint8_t out[32])
{
    topic_of(BATCH_TOPIC_SIG, out);
    put_be(out + 24, cluster_id, 8);
}

void veil_contract_batch_word(uint64_t cluster_id, uint64_t epoch, uint32_t count, uint8_t out[32])
{
    memset(out, 0, 12);
    put_be(out + 12, cluster_id, 8);
    put_be(out + 20, epoch, 8);
    put_be(out + 28, count, 4);
}

int veil_contract_decode_batch_log(const veil_eth_log *log, veil_contract_batch *out, veil_err *err)
{
    uint8_t prefix[32];
    topic_of(BATCH_TOPIC_SIG, prefix);
    if (log->n_topics != 1 || memcmp(log->topics[0], prefix, 24) != 0)
        return veil_err_set(err, VEIL_E_INVALID, "not a BatchAnchored log");
    if (log->data_len != 64)
        return veil_err_set(err, VEIL_E_PROTOCOL, "BatchAnchored data is %zu bytes, not 64",
                            log->data_len);
    const uint8_t *w = log->data + 32;
    for (int i = 0; i < 12; i++)
        if (w[i] != 0)
            return veil_err_set(err, VEIL_E_PROTOCOL, "BatchAnchored batch word above 160 bits");
    if (memcmp(w + 12, log->topics[0] + 24, 8) != 0)
        return veil_err_set(err, VEIL_E_PROTOCOL,
                            "BatchAnchored cluster %llu in the data, %llu in the topic",
                            (unsigned long long)get_be(w + 12, 8),
                            (unsigned long long)get_be(log->topics[0] + 24, 8));
    out->cluster_id = get_be(w + 12, 8);
    out->epoch = get_be(w + 20, 8);
    out->count = (uint32_t)get_be(w + 28, 4);
    memcpy(out->merkle_root, log->data, 32);
    return 0;
}

static const struct event_def *event_by_name(const char *name)
{
    for (size_t i = 0; i < VEIL_ARRAY_LEN(events); i++)
        if (strcmp(events[i].name, name) == 0)
            return &events[i];
    return NULL;
}

/* First log of the receipt from the contract with the named event. */
static const veil_eth_log *find_event(const veil_chain_client *c_unused, const veil_eth_receipt *r,
                                      const veil_eth_address *contract, const char *name)
{
    (void)c_unused;
    const struct event_def *e = event_by_name(name);
    uint8_t t0[32];
    topic_of(e->signature, t0);
    for (size_t i = 0; i < r->n_logs; i++) {
        const veil_eth_log *l = &r->logs[i];
        if (l->n_topics > 0 && memcmp(l->topics[0], t0, 32) == 0 &&
            memcmp(l->address.b, contract->b, 20) == 0)
            return l;
    }
    return NULL;
}

static uint64_t topic_u64(const uint8_t t[32])
{
    uint64_t v = 0;
    for (int i = 24; i < 32; i++)
        v = (v << 8) | t[i];
    return v;
}

/* The contract address every call needs. */
struct reg_ctx {
    veil_chain_client *c;
    veil_eth_address contract;
};

static int need_contract(veil_chain_client *c, struct reg_ctx *rc, veil_err *err)
{
    rc->c = c;
    if (veil_chain_client_contract(c, &rc->contract) != 0)
        return veil_err_set(err, VEIL_E_INVALID,
                            "no registry contract address (--contract or VEIL_CONTRACT_ADDRESS)");
    return 0;
}

static int send_call(veil_chain_client *c, const char *sig, const veil_abi_value *args,
                     veil_eth_address *contract, veil_tx_result *res, veil_err *err)
{
    struct reg_ctx rc;
    if (need_contract(c, &rc, err) != 0)
        return -1;
    *contract = rc.contract;
    veil_buf data;
    veil_buf_init(&data);
    if (veil_abi_encode_call(sig, args, &data, err) != 0) {
        veil_buf_free(&data);
        return -1;
    }
    int r = veil_chain_send(c, &rc.contract, data.data, data.len, res, err);
    veil_buf_free(&data);
    if (r != 0)
        veil_err_wrap(err, "%.*s", (int)(strchr(sig, '(') - sig), sig);
    return r;
}

/* eth_call of a view; *ret (caller frees) is its non-empty return data. */
static int view_call_raw(veil_chain_client *c, const char *sig, const veil_abi_value *args,
                         uint8_t **ret, size_t *ret_len, veil_err *err)
{
    struct reg_ctx rc;
    if (need_contract(c, &rc, err) != 0)
        return -1;
    veil_buf data;
    veil_buf_init(&data);
    if (veil_abi_encode_call(sig, args, &data, err) != 0) {
        veil_buf_free(&data);
        return -1;
    }
    *ret = NULL;
    *ret_len = 0;
    int r = veil_rpc_eth_call(veil_chain_client_rpc(c), veil_chain_client_signer(c), &rc.contract,
                              data.data, data.len, ret, ret_len, err);
    veil_buf_free(&data);
    if (r != 0)
        return veil_err_wrap(err, "%.*s", (int)(strchr(sig, '(') - sig), sig);
    if (*ret_len == 0) {
        free(*ret);
        *ret = NULL;
        return veil_err_set(err, VEIL_E_NOTFOUND,
                            "%.*s returned nothing (is there a VeilRegistry at the address?)",
                            (int)(strchr(sig, '(') - sig), sig);
    }
    return 0;
}

/* eth_call of a view; decodes the return data as `ret_types`. */
static int view_call(veil_chain_client *c, const char *sig, const veil_abi_value *args,
                     const char *ret_types, veil_abi_value *out, veil_err *err)
{
    uint8_t *ret;
    size_t ret_len;
    if (view_call_raw(c, sig, args, &ret, &ret_len, err) != 0)
        return -1;
    int r = veil_abi_decode_text(ret_types, ret, ret_len, out, err);
    free(ret);
    return r;
}

void veil_contract_policy_clear(veil_contract_policy *p)
{
    free(p->image_digests);
    free(p->scheduler_policy);
    free(p->weights);
    free(p->decryptors);
    free(p->guardian_keys);
    memset(p, 0, sizeof *p);
}

int veil_contract_deploy(veil_chain_client *c, veil_eth_address *out, veil_tx_result *res,
                         veil_err *err)
{
    if (veil_chain_send(c, NULL, veil_contract_bytecode, veil_contract_bytecode_len, res, err) != 0)
        return veil_err_wrap(err, "deploying VeilRegistry");
    if (!res->receipt.has_contract)
        return veil_err_set(err, VEIL_E_PROTOCOL, "deploy receipt has no contract address");
    *out = res->receipt.contract_address;
    /* A creation that ran out of gas or returned nothing leaves no code. */
    uint8_t *code = NULL;
    size_t code_len = 0;
    if (veil_rpc_get_code(veil_chain_client_rpc(c), out, &code, &code_len, err) != 0)
        return veil_err_wrap(err, "checking the deployed code");
    free(code);
    if (code_len == 0)
        return veil_err_set(err, VEIL_E_STATE, "no code at the deployed address");
    veil_chain_client_set_contract(c, out);
    return 0;
}

int veil_contract_create_cluster(veil_chain_client *c, const char *name,
                                 const char *const *org_names, size_t n_orgs,
                                 const veil_eth_address *founders, const uint32_t *founder_orgs,
                                 size_t n_founders, uint16_t threshold, uint64_t *cluster_id,
                                 veil_tx_result *res, veil_err *err)
{
    veil_abi_value args;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 5) != 0 ||
        veil_abi_set_string(&args.items[0], name) != 0 ||
        veil_abi_set_list(&args.items[1], VEIL_ABI_ARRAY, n_orgs) != 0 ||
        veil_abi_set_list(&args.items[2], VEIL_ABI_ARRAY, n_founders) != 0 ||
        veil_abi_set_list(&args.items[3], VEIL_ABI_ARRAY, n_founders) != 0) {
        veil_abi_value_clear(&args);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_orgs; i++)
        veil_abi_set_string(&args.items[1].items[i], org_names[i]);
    for (size_t i = 0; i < n_founders; i++) {
        veil_abi_set_address(&args.items[2].items[i], founders[i].b);
        veil_abi_set_uint(&args.items[3].items[i], founder_orgs[i]);
    }
    veil_abi_set_uint(&args.items[4], threshold);
    veil_eth_address contract;
    int r = send_call(c, "createCluster(string,string[],address[],uint32[],uint16)", &args,
                      &contract, res, err);
    veil_abi_value_clear(&args);
    if (r != 0)
        return -1;
    const veil_eth_log *l = find_event(c, &res->receipt, &contract, "ClusterCreated");
    if (!l || l->n_topics < 2)
        return veil_err_set(err, VEIL_E_PROTOCOL, "createCluster: no ClusterCreated event");
    *cluster_id = topic_u64(l->topics[1]);
    return 0;
}

int veil_contract_propose_org(veil_chain_client *c, uint64_t cluster_id, const char *name,
                              const veil_eth_address *operators, size_t n, uint64_t ttl_s,
                              uint64_t *proposal_id, veil_tx_result *res, veil_err *err)
{
    veil_abi_value args;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 4) != 0 ||
        veil_abi_set_string(&args.items[1], name) != 0 ||
        veil_abi_set_list(&args.items[2], VEIL_ABI_ARRAY, n) != 0) {
        veil_abi_value_clear(&args);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    veil_abi_set_uint(&args.items[0], cluster_id);
    for (size_t i = 0; i < n; i++)
        veil_abi_set_address(&args.items[2].items[i], operators[i].b);
    veil_abi_set_uint(&args.items[3], ttl_s);
    veil_eth_address contract;
    int r = send_call(c, "proposeOrganization(uint64,string,address[],uint64)", &args, &contract,
                      res, err);
    veil_abi_value_clear(&args);
    if (r != 0)
        return -1;
    const veil_eth_log *l = find_event(c, &res->receipt, &contract, "ProposalCreated");
    if (!l || l->n_topics < 3)
        return veil_err_set(err, VEIL_E_PROTOCOL, "proposeOrganization: no ProposalCreated event");
    *proposal_id = topic_u64(l->topics[2]);
    return 0;
}

int veil_contract_register_node(veil_chain_client *c, uint64_t cluster_id,
                                const veil_eth_address *node, const uint8_t *peer_id,
                                size_t peer_id_len, veil_tx_result *res, veil_err *err)
{
    veil_abi_value args;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 3) != 0 ||
        veil_abi_set_bytes(&args.items[2], peer_id, peer_id_len) != 0) {
        veil_abi_value_clear(&args);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    veil_abi_set_uint(&args.items[0], cluster_id);
    veil_abi_set_address(&args.items[1], node->b);
    veil_eth_address contract;
    int r = send_call(c, "registerNode(uint64,address,bytes)", &args, &contract, res, err);
    veil_abi_value_clear(&args);
    return r;
}

int veil_contract_deactivate_node(veil_chain_client *c, const veil_eth_address *node,
                                  veil_tx_result *res, veil_err *err)
{
    veil_abi_value args;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 1) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    veil_abi_set_address(&args.items[0], node->b);
    veil_eth_address contract;
    int r = send_call(c, "deactivateNode(address)", &args, &contract, res, err);
    veil_abi_value_clear(&args);
    return r;
}

int veil_contract_active_nodes(veil_chain_client *c, uint64_t cluster_id, veil_eth_address **nodes,
                               size_t *n, veil_err *err)
{
    veil_abi_value args, out;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 1) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    veil_abi_set_uint(&args.items[0], cluster_id);
    int r = view_call(c, "getActiveNodes(uint64)", &args, "(address[])", &out, err);
    veil_abi_value_clear(&args);
    if (r != 0)
        return -1;
    const veil_abi_value *arr = &out.items[0];
    *n = arr->n_items;
    *nodes = calloc(arr->n_items ? arr->n_items : 1, sizeof **nodes);
    if (!*nodes) {
        veil_abi_value_clear(&out);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < arr->n_items; i++)
        memcpy((*nodes)[i].b, arr->items[i].word + 12, 20);
    veil_abi_value_clear(&out);
    return 0;
}

int veil_contract_get_node(veil_chain_client *c, const veil_eth_address *node, uint64_t *cluster_id,
                           veil_eth_address *operator_addr, bool *active, uint8_t peer_key[32],
                           veil_err *err)
{
    veil_abi_value args, out;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 1) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    veil_abi_set_address(&args.items[0], node->b);
    int r = view_call(c, "getNode(address)", &args, "(uint64,address,bool,bytes32)", &out, err);
    veil_abi_value_clear(&args);
    if (r != 0)
        return -1;
    veil_abi_word_u64(&out.items[0], cluster_id);
    memcpy(operator_addr->b, out.items[1].word + 12, 20);
    *active = out.items[2].word[31] != 0;
    memcpy(peer_key, out.items[3].word, 32);
    veil_abi_value_clear(&out);
    return 0;
}

int veil_contract_node_by_peer_id(veil_chain_client *c, const uint8_t *peer_id, size_t len,
                                  veil_eth_address *node, veil_err *err)
{
    veil_abi_value args, out;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 1) != 0 ||
        veil_abi_set_bytes(&args.items[0], peer_id, len) != 0) {
        veil_abi_value_clear(&args);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    int r = view_call(c, "nodeByPeerId(bytes)", &args, "(address)", &out, err);
    veil_abi_value_clear(&args);
    if (r != 0)
        return -1;
    memcpy(node->b, out.items[0].word + 12, 20);
    veil_abi_value_clear(&out);
    return 0;
}

int veil_contract_propose_policy(veil_chain_client *c, uint64_t cluster_id,
                                 const veil_contract_policy *p, uint64_t ttl_s,
                                 uint64_t *proposal_id, veil_tx_result *res, veil_err *err)
{
    veil_abi_value args;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 3) != 0 || policy_to_abi(p, &args.items[1]) != 0) {
        veil_abi_value_clear(&args);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    veil_abi_set_uint(&args.items[0], cluster_id);
    veil_abi_set_uint(&args.items[2], ttl_s);
    veil_eth_address contract;
    int r =
        send_call(c, "proposePolicy(uint64," POLICY_TYPE ",uint64)", &args, &contract, res, err);
    veil_abi_value_clear(&args);
    if (r != 0)
        return -1;
    const veil_eth_log *l = find_event(c, &res->receipt, &contract, "ProposalCreated");
    if (!l || l->n_topics < 3)
        return veil_err_set(err, VEIL_E_PROTOCOL, "proposePolicy: no ProposalCreated event");
    *proposal_id = topic_u64(l->topics[2]);
    return 0;
}

int veil_contract_vote(veil_chain_client *c, uint64_t proposal_id, bool *executed,
                       veil_tx_result *res, veil_err *err)
{
    veil_abi_value args;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 1) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    veil_abi_set_uint(&args.items[0], proposal_id);
    veil_eth_address contract;
    int r = send_call(c, "vote(uint256)", &args, &contract, res, err);
    veil_abi_value_clear(&args);
    if (r != 0)
        return -1;
    *executed = find_event(c, &res->receipt, &contract, "ProposalExecuted") != NULL;
    return 0;
}

static int copy_words(const veil_abi_value *arr, uint8_t (**out)[32], size_t *n)
{
    *n = arr->n_items;
    *out = NULL;
    if (!arr->n_items)
        return 0;
    *out = calloc(arr->n_items, 32);
    if (!*out)
        return -1;
    for (size_t i = 0; i < arr->n_items; i++)
        memcpy((*out)[i], arr->items[i].word, 32);
    return 0;
}

/* The low 32 bits of a word the strict decoder checked to be a uint32 or
 * narrower. */
static uint32_t word_u32(const veil_abi_value *v)
{
    uint64_t x = 0;
    veil_abi_word_u64(v, &x);
    return (uint32_t)x;
}

/* The contract's Policy tuple from p (t: a cleared value); -1 = out of memory. */
static int policy_to_abi(const veil_contract_policy *p, veil_abi_value *t)
{
    if (veil_abi_set_list(t, VEIL_ABI_TUPLE, POLICY_FIELDS) != 0)
        return -1;
    veil_abi_value *pv = t->items;
    bool ok = veil_abi_set_list(&pv[0], VEIL_ABI_ARRAY, p->n_image_digests) == 0 &&
              veil_abi_set_string(&pv[1], p->scheduler_policy ? p->scheduler_policy : "") == 0 &&
              veil_abi_set_list(&pv[2], VEIL_ABI_ARRAY, p->n_weights) == 0 &&
              veil_abi_set_list(&pv[4], VEIL_ABI_ARRAY, p->n_decryptors) == 0 &&
              veil_abi_set_list(&pv[5], VEIL_ABI_ARRAY, p->n_guardian_keys) == 0;
    if (!ok)
        return -1;
    for (size_t i = 0; i < p->n_image_digests; i++)
        veil_abi_set_bytes32(&pv[0].items[i], p->image_digests[i]);
    for (size_t i = 0; i < p->n_weights; i++)
        veil_abi_set_uint(&pv[2].items[i], p->weights[i]);
    veil_abi_set_bytes32(&pv[3], p->fhe_key_hash);
    for (size_t i = 0; i < p->n_decryptors; i++)
        veil_abi_set_address(&pv[4].items[i], p->decryptors[i].b);
    for (size_t i = 0; i < p->n_guardian_keys; i++)
        veil_abi_set_bytes32(&pv[5].items[i], p->guardian_keys[i]);
    veil_abi_set_uint(&pv[6], p->outcomes_per_period);
    veil_abi_set_uint(&pv[7], p->outcome_period_s);
    veil_abi_set_uint(&pv[8], p->shard_size);
    veil_abi_set_uint(&pv[9], p->shard_redundancy);
    veil_abi_set_uint(&pv[10], p->sched_flags);
    return 0;
}

/* A decoded Policy tuple into out (zeroed by the caller); -1 = out of
 * memory (out keeps what was allocated, for veil_contract_policy_clear). */
static int policy_from_abi(const veil_abi_value *p, veil_contract_policy *out)
{
    bool ok = copy_words(&p[0], &out->image_digests, &out->n_image_digests) == 0 &&
              copy_words(&p[5], &out->guardian_keys, &out->n_guardian_keys) == 0;
    out->scheduler_policy = strdup((const char *)p[1].data);
    out->weights = calloc(p[2].n_items ? p[2].n_items : 1, sizeof *out->weights);
    out->decryptors = calloc(p[4].n_items ? p[4].n_items : 1, sizeof *out->decryptors);
    if (!ok || !out->scheduler_policy || !out->weights || !out->decryptors)
        return -1;
    out->n_weights = p[2].n_items;
    for (size_t i = 0; i < p[2].n_items; i++)
        out->weights[i] = word_u32(&p[2].items[i]);
    memcpy(out->fhe_key_hash, p[3].word, 32);
    out->n_decryptors = p[4].n_items;
    for (size_t i = 0; i < p[4].n_items; i++)
        memcpy(out->decryptors[i].b, p[4].items[i].word + 12, 20);
    out->outcomes_per_period = word_u32(&p[6]);
    out->outcome_period_s = word_u32(&p[7]);
    out->shard_size = word_u32(&p[8]);
    out->shard_redundancy = (uint8_t)word_u32(&p[9]);
    out->sched_flags = (uint8_t)word_u32(&p[10]);
    return 0;
}

int veil_contract_policy_encode(const veil_contract_policy *p, veil_buf *out, veil_err *err)
{
    veil_abi_type *ty = NULL;
    veil_abi_value v;
    if (veil_abi_type_parse(POLICY_RET, &ty, err) != 0)
        return -1;
    int r = -1;
    if (veil_abi_set_list(&v, VEIL_ABI_TUPLE, 2) != 0 || policy_to_abi(p, &v.items[0]) != 0)
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    else {
        veil_abi_set_uint(&v.items[1], p->version);
        r = veil_abi_encode(ty, &v, out, err);
    }
    veil_abi_value_clear(&v);
    veil_abi_type_free(ty);
    return r;
}

int veil_contract_policy_decode(const uint8_t *data, size_t len, veil_contract_policy *out,
                                veil_err *err)
{
    memset(out, 0, sizeof *out);
    veil_abi_value v;
    if (veil_abi_decode_text(POLICY_RET, data, len, &v, err) != 0)
        return veil_err_wrap(err, "getClusterPolicy's return data");
    int r = 0;
    if (policy_from_abi(v.items[0].items, out) != 0)
        r = veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    else
        veil_abi_word_u64(&v.items[1], &out->version);
    veil_abi_value_clear(&v);
    if (r != 0)
        veil_contract_policy_clear(out);
    return r;
}

int veil_contract_get_policy(veil_chain_client *c, uint64_t cluster_id, veil_contract_policy *out,
                             veil_err *err)
{
    memset(out, 0, sizeof *out);
    veil_abi_value args;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 1) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    veil_abi_set_uint(&args.items[0], cluster_id);
    uint8_t *ret;
    size_t ret_len;
    int r = view_call_raw(c, "getClusterPolicy(uint64)", &args, &ret, &ret_len, err);
    veil_abi_value_clear(&args);
    if (r != 0)
        return -1;
    r = veil_contract_policy_decode(ret, ret_len, out, err);
    free(ret);
    return r;
}

int veil_contract_anchor_deployment(veil_chain_client *c, uint64_t cluster_id,
                                    const uint8_t job_id[32], const uint8_t assignment_hash[32],
                                    veil_tx_result *res, veil_err *err)
{
    veil_abi_value args;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 3) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    veil_abi_set_uint(&args.items[0], cluster_id);
    veil_abi_set_bytes32(&args.items[1], job_id);
    veil_abi_set_bytes32(&args.items[2], assignment_hash);
    veil_eth_address contract;
    int r = send_call(c, "anchorDeployment(uint64,bytes32,bytes32)", &args, &contract, res, err);
    veil_abi_value_clear(&args);
    return r;
}

int veil_contract_anchor_batch(veil_chain_client *c, uint64_t cluster_id, uint64_t epoch,
                               const uint8_t root[32], uint32_t count, veil_tx_result *res,
                               veil_err *err)
{
    /* The contract keeps cluster ids in 32 bits (Node.clusterId); a larger
     * one could never be an active node's, so say so before paying for it. */
    if (cluster_id > UINT32_MAX)
        return veil_err_set(err, VEIL_E_INVALID, "cluster id %llu is out of range",
                            (unsigned long long)cluster_id);
    veil_abi_value args;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 2) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    uint8_t word[32];
    veil_contract_batch_word(cluster_id, epoch, count, word);
    veil_abi_set_bytes32(&args.items[0], root);
    veil_abi_set_word(&args.items[1], VEIL_ABI_UINT, word);
    veil_eth_address contract;
    int r = send_call(c, ANCHOR_BATCH_SIG, &args, &contract, res, err);
    veil_abi_value_clear(&args);
    /* The contract's refusal of a second batch for the epoch (found while
     * estimating, or in a mined transaction that reverted): callers treat it
     * as "already anchored", not as a failure to retry. */
    if (r != 0 && err && err->code == VEIL_E_STATE && strstr(err->msg, "BatchEpochAnchored("))
        err->code = VEIL_E_EXISTS;
    if (r == 0) {
        /* The receipt must carry exactly what was sent (anything else is not
         * our contract, or a contract out of step with this client). */
        veil_contract_batch b;
        bool seen = false;
        for (size_t i = 0; i < res->receipt.n_logs && !seen; i++)
            seen = memcmp(res->receipt.logs[i].address.b, contract.b, 20) == 0 &&
                   veil_contract_decode_batch_log(&res->receipt.logs[i], &b, NULL) == 0 &&
                   b.cluster_id == cluster_id && b.epoch == epoch && b.count == count &&
                   memcmp(b.merkle_root, root, 32) == 0;
        if (!seen) {
            veil_tx_result_clear(res);
            return veil_err_set(err, VEIL_E_PROTOCOL,
                                "anchorBatch: the receipt has no matching BatchAnchored log");
        }
    }
    return r;
}

int veil_contract_find_batch_root(veil_chain_client *c, uint64_t cluster_id, uint64_t epoch,
                                  uint8_t root[32], uint32_t *count, veil_err *err)
{
    struct reg_ctx rc;
    if (need_contract(c, &rc, err) != 0)
        return -1;
    /* The epoch is in the data, not a topic: take the cluster's batches (one
     * topic) and pick the epoch here. */
    uint8_t t0[32];
    veil_contract_batch_topic(cluster_id, t0);
    const uint8_t *topics[1] = {t0};
    uint64_t head;
    veil_eth_log *logs;
    size_t n;
    if (veil_rpc_block_number(veil_chain_client_rpc(c), &head, err) != 0 ||
        veil_rpc_get_logs_paged(veil_chain_client_rpc(c), &rc.contract, 0, head, topics, 1, 0,
                                &logs, &n, err) != 0)
        return -1;
    /* Logs come in chain order; the first anchor of an epoch counts (later
     * ones would be disputed). */
    int r = 1;
    for (size_t i = 0; i < n && r == 1; i++) {
        veil_contract_batch b;
        if (logs[i].removed)
            continue;
        if (veil_contract_decode_batch_log(&logs[i], &b, err) != 0) {
            r = veil_err_wrap(err, "log %llu of block %llu", (unsigned long long)logs[i].log_index,
                              (unsigned long long)logs[i].block_number);
        } else if (b.epoch == epoch) {
            memcpy(root, b.merkle_root, 32);
            *count = b.count;
            r = 0;
        }
    }
    veil_eth_logs_free(logs, n);
    if (r == 1)
        r = veil_err_set(err, VEIL_E_NOTFOUND, "no batch anchored for cluster %llu epoch %llu",
                         (unsigned long long)cluster_id, (unsigned long long)epoch);
    return r;
}

int veil_contract_verify_inclusion(veil_chain_client *c, const uint8_t root[32],
                                   uint64_t cluster_id, const uint8_t job_id[32],
                                   const uint8_t assignment_hash[32], const uint8_t (*proof)[32],
                                   size_t n_proof, bool *ok, veil_err *err)
{
    veil_abi_value args, out;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 5) != 0 ||
        veil_abi_set_list(&args.items[4], VEIL_ABI_ARRAY, n_proof) != 0) {
        veil_abi_value_clear(&args);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    veil_abi_set_bytes32(&args.items[0], root);
    veil_abi_set_uint(&args.items[1], cluster_id);
    veil_abi_set_bytes32(&args.items[2], job_id);
    veil_abi_set_bytes32(&args.items[3], assignment_hash);
    for (size_t i = 0; i < n_proof; i++)
        veil_abi_set_bytes32(&args.items[4].items[i], proof[i]);
    int r = view_call(c, "verifyInclusion(bytes32,uint64,bytes32,bytes32,bytes32[])", &args,
                      "(bool)", &out, err);
    veil_abi_value_clear(&args);
    if (r != 0)
        return -1;
    *ok = out.items[0].word[31] == 1;
    veil_abi_value_clear(&out);
    return 0;
}

int veil_contract_open_dispute(veil_chain_client *c, uint64_t cluster_id,
                               const uint8_t anchor_id[32], const uint8_t evidence_hash[32],
                               uint64_t *dispute_id, veil_tx_result *res, veil_err *err)
{
    veil_abi_value args;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 3) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    veil_abi_set_uint(&args.items[0], cluster_id);
    veil_abi_set_bytes32(&args.items[1], anchor_id);
    veil_abi_set_bytes32(&args.items[2], evidence_hash);
    veil_eth_address contract;
    int r = send_call(c, "openDispute(uint64,bytes32,bytes32)", &args, &contract, res, err);
    veil_abi_value_clear(&args);
    if (r != 0)
        return -1;
    const veil_eth_log *l = find_event(c, &res->receipt, &contract, "DisputeOpened");
    if (!l || l->n_topics < 3)
        return veil_err_set(err, VEIL_E_PROTOCOL, "openDispute: no DisputeOpened event");
    *dispute_id = topic_u64(l->topics[2]);
    return 0;
}

int veil_contract_resolve_dispute(veil_chain_client *c, uint64_t dispute_id, bool uphold,
                                  uint8_t *status, veil_tx_result *res, veil_err *err)
{
    veil_abi_value args;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 2) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    veil_abi_set_uint(&args.items[0], dispute_id);
    veil_abi_set_bool(&args.items[1], uphold);
    veil_eth_address contract;
    int r = send_call(c, "resolveDispute(uint256,bool)", &args, &contract, res, err);
    veil_abi_value_clear(&args);
    if (r != 0)
        return -1;
    const veil_eth_log *l = find_event(c, &res->receipt, &contract, "DisputeResolved");
    *status = !l ? 1 : (uphold ? 2 : 3);
    return 0;
}

void veil_contract_anchor_id(uint8_t kind, uint64_t cluster_id, const uint8_t a[32],
                             const uint8_t b[32], uint8_t out[32])
{
    /* keccak256(abi.encode(uint8 kind, uint64 clusterId, bytes32 a, bytes32 b)) */
    uint8_t in[128] = {0};
    in[31] = kind;
    for (int i = 0; i < 8; i++)
        in[63 - i] = (uint8_t)(cluster_id >> (8 * i));
    memcpy(in + 64, a, 32);
    memcpy(in + 96, b, 32);
    veil_keccak256(in, sizeof in, out);
}

static bool zero_bytes(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

int veil_contract_decode_node_log(const veil_eth_log *log, veil_contract_node_event *out)
{
    uint8_t reg[32], deact[32];
    topic_of("NodeRegistered(uint64,address,address,bytes)", reg);
    topic_of("NodeDeactivated(uint64,address,address)", deact);
    if (log->n_topics < 3)
        return -1;
    bool is_reg = memcmp(log->topics[0], reg, 32) == 0;
    if (!is_reg && memcmp(log->topics[0], deact, 32) != 0)
        return -1;
    /* NodeRegistered indexes the operator too (4 topics); NodeDeactivated not (3). */
    if (log->n_topics != (is_reg ? 4u : 3u))
        return -1;
    /* indexed uint64 and address: left-padded with zeros to 32 bytes */
    if (!zero_bytes(log->topics[1], 24) || !zero_bytes(log->topics[2], 12))
        return -1;
    out->registered = is_reg;
    out->cluster_id = topic_u64(log->topics[1]);
    memcpy(out->node.b, log->topics[2] + 12, 20);
    return 0;
}

int veil_contract_decode_policy_log(const veil_eth_log *log, veil_contract_policy_event *out)
{
    uint8_t t0[32];
    topic_of("PolicyChanged(uint64,uint64,uint256)", t0);
    if (log->n_topics != 2 || memcmp(log->topics[0], t0, 32) != 0 || log->data_len != 64)
        return -1;
    /* indexed uint64 topic and the uint64 version word: left-padded with zeros */
    if (!zero_bytes(log->topics[1], 24) || !zero_bytes(log->data, 24))
        return -1;
    out->cluster_id = topic_u64(log->topics[1]);
    out->version = topic_u64(log->data);
    return 0;
}

int veil_contract_describe_log(const veil_eth_log *log, veil_buf *out)
{
    if (log->n_topics == 0)
        return -1;
    veil_contract_batch b;
    if (veil_contract_decode_batch_log(log, &b, NULL) == 0) {
        /* The same text as when cluster and epoch were topics. */
        char root[65];
        veil_hex_encode(root, sizeof root, b.merkle_root, 32);
        veil_buf_printf(out, "BatchAnchored cluster=%llu epoch=%llu merkle_root=0x%s count=%u",
                        (unsigned long long)b.cluster_id, (unsigned long long)b.epoch, root,
                        (unsigned)b.count);
        return 0;
    }
    for (size_t i = 0; i < VEIL_ARRAY_LEN(events); i++) {
        const struct event_def *e = &events[i];
        uint8_t t0[32];
        topic_of(e->signature, t0);
        if (memcmp(t0, log->topics[0], 32) != 0)
            continue;
        size_t n_indexed = 0;
        while (n_indexed < 3 && e->indexed[n_indexed])
            n_indexed++;
        if (log->n_topics != n_indexed + 1)
            return -1;
        veil_abi_value data;
        if (veil_abi_decode_text(e->data_types, log->data, log->data_len, &data, NULL) != 0)
            return -1;
        veil_buf_put_str(out, e->name);
        for (size_t k = 0; k < n_indexed; k++) {
            veil_abi_value w;
            enum veil_abi_kind kind = strcmp(e->indexed[k], "address") == 0   ? VEIL_ABI_ADDRESS
                                      : strcmp(e->indexed[k], "bytes32") == 0 ? VEIL_ABI_FIXED_BYTES
                                                                              : VEIL_ABI_UINT;
            veil_abi_set_word(&w, kind, log->topics[k + 1]);
            veil_buf_printf(out, " %s=", e->indexed_names[k]);
            veil_abi_value_format(&w, out);
        }
        const char *names = e->data_names;
        for (size_t k = 0; k < data.n_items; k++) {
            const char *sp = strchr(names, ' ');
            size_t nl = sp ? (size_t)(sp - names) : strlen(names);
            veil_buf_printf(out, " %.*s=", (int)nl, names);
            veil_abi_value_format(&data.items[k], out);
            names = sp ? sp + 1 : names + nl;
        }
        veil_abi_value_clear(&data);
        return 0;
    }
    return -1;
}
