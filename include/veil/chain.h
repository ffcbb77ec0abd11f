// SPDX-License-Identifier: Apache-2.0
/*
 * veil/chain.h - Veil's Ethereum client: Keccak-256, RLP, the contract ABI,
 * signed transactions (EIP-1559 and legacy with EIP-155), EIP-55 addresses,
 * keystore v3 files, JSON-RPC over HTTP, a nonce manager, receipt waiting,
 * log following, Merkle batches, and typed calls of the VeilRegistry
 * contract (contracts/src/VeilRegistry.sol).
 *
 * Conventions follow veil/base.h: 0/-1 returns with a veil_err. Quantities
 * that fit are uint64_t; 256-bit words are big-endian byte arrays.
 */
#ifndef VEIL_CHAIN_H
#define VEIL_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Keccak-256 (the original Keccak padding 0x01 that Ethereum uses, not     */
/* FIPS 202 SHA3's 0x06).                                                   */
/* ------------------------------------------------------------------------ */

typedef struct veil_keccak {
    uint64_t a[25];
    uint8_t block[136];
    size_t fill;
} veil_keccak;

void veil_keccak_init(veil_keccak *k);
void veil_keccak_update(veil_keccak *k, const void *data, size_t len);
void veil_keccak_final(veil_keccak *k, uint8_t out[32]);
void veil_keccak256(const void *data, size_t len, uint8_t out[32]);
/* First four bytes of keccak256(signature): "transfer(address,uint256)". */
void veil_abi_selector(const char *signature, uint8_t out[4]);

/* ------------------------------------------------------------------------ */
/* RLP (Ethereum Yellow Paper, appendix B).                                 */
/* ------------------------------------------------------------------------ */

void veil_rlp_put_bytes(veil_buf *b, const void *data, size_t len);
/* An integer: big-endian without leading zeros (0 is the empty string). */
void veil_rlp_put_uint(veil_buf *b, uint64_t v);
void veil_rlp_put_u256(veil_buf *b, const uint8_t word[32]);
/* Wraps `payload` (already encoded items) as a list. */
void veil_rlp_put_list(veil_buf *b, const void *payload, size_t len);

enum veil_rlp_kind { VEIL_RLP_STRING, VEIL_RLP_LIST };

typedef struct veil_rlp_item {
    enum veil_rlp_kind kind;
    const uint8_t *payload; /* borrowed from the input */
    size_t len;
} veil_rlp_item;

/* Reads one item (strict: canonical lengths, single bytes < 0x80 not
 * wrapped). On failure the reader is failed and err says why. */
int veil_rlp_read(veil_reader *r, veil_rlp_item *out, veil_err *err);
/* Decodes a canonical RLP integer (at most 8 bytes, no leading zero). */
int veil_rlp_item_uint(const veil_rlp_item *it, uint64_t *out, veil_err *err);

/* ------------------------------------------------------------------------ */
/* ABI (Solidity ABI specification: head/tail encoding of tuples).          */
/* ------------------------------------------------------------------------ */

enum veil_abi_kind {
    VEIL_ABI_UINT, /* uintN */
    VEIL_ABI_INT,  /* intN (two's complement word) */
    VEIL_ABI_ADDRESS,
    VEIL_ABI_BOOL,
    VEIL_ABI_FIXED_BYTES, /* bytesN, N <= 32 */
    VEIL_ABI_BYTES,
    VEIL_ABI_STRING,
    VEIL_ABI_ARRAY, /* T[] or T[k] */
    VEIL_ABI_TUPLE,
};

/* A parsed ABI type ("uint64", "bytes32[]", "(string,uint32[])[2]"). */
typedef struct veil_abi_type {
    enum veil_abi_kind kind;
    unsigned bits;                 /* uint/int: 8..256; bytesN: N */
    long fixed_len;                /* arrays: -1 dynamic, else k */
    struct veil_abi_type *elem;    /* arrays */
    struct veil_abi_type *members; /* tuples */
    size_t n_members;
} veil_abi_type;

int veil_abi_type_parse(const char *text, veil_abi_type **out, veil_err *err);
void veil_abi_type_free(veil_abi_type *t);
bool veil_abi_type_is_dynamic(const veil_abi_type *t);

/* A value tree matching a type. Scalars keep their 32-byte ABI word. */
typedef struct veil_abi_value {
    enum veil_abi_kind kind;
    uint8_t word[32]; /* uint, int, address, bool, bytesN */
    uint8_t *data;    /* bytes, string (NUL-terminated copy) */
    size_t len;
    struct veil_abi_value *items; /* array, tuple */
    size_t n_items;
} veil_abi_value;

/* Constructors fill a caller-owned value (free with veil_abi_value_clear). */
void veil_abi_set_uint(veil_abi_value *v, uint64_t x);
void veil_abi_set_word(veil_abi_value *v, enum veil_abi_kind kind, const uint8_t word[32]);
void veil_abi_set_address(veil_abi_value *v, const uint8_t addr[20]);
void veil_abi_set_bool(veil_abi_value *v, bool x);
void veil_abi_set_bytes32(veil_abi_value *v, const uint8_t b[32]);
int veil_abi_set_bytes(veil_abi_value *v, const void *data, size_t len);
int veil_abi_set_string(veil_abi_value *v, const char *s);
/* Array or tuple of n zeroed items. */
int veil_abi_set_list(veil_abi_value *v, enum veil_abi_kind kind, size_t n);
void veil_abi_value_clear(veil_abi_value *v);
/* The low 64 bits of a word; false if the word does not fit. */
bool veil_abi_word_u64(const veil_abi_value *v, uint64_t *out);

/* Encodes `value` (a tuple) as the arguments of type `types` ("(a,b,...)"). */
int veil_abi_encode(const veil_abi_type *types, const veil_abi_value *value, veil_buf *out,
                    veil_err *err);
/* selector(signature) || encode(args). The argument types come from the
 * signature ("registerNode(uint64,address,bytes)"). */
int veil_abi_encode_call(const char *signature, const veil_abi_value *args, veil_buf *out,
                         veil_err *err);
/* Strict decoding: offsets and lengths must lie inside the data, bools are
 * 0/1, addresses and small ints have zero padding; bounded recursion. */
int veil_abi_decode(const veil_abi_type *types, const uint8_t *data, size_t len,
                    veil_abi_value *out, veil_err *err);
int veil_abi_decode_text(const char *types, const uint8_t *data, size_t len, veil_abi_value *out,
                         veil_err *err);
/* Appends a value in human form (decimal ints, 0x-hex bytes, EIP-55
 * addresses, "(..)" tuples, "[..]" arrays) - for messages and CLI output. */
void veil_abi_value_format(const veil_abi_value *v, veil_buf *out);

/* Known error shapes of revert data: Error(string), Panic(uint256) and the
 * given custom error signatures ("NotOperator(uint64,address)"). Writes a
 * message such as `NotOperator(1, 0xAbC...)` or `reverted: "reason"` or
 * `panic 0x11 (arithmetic overflow)`. */
void veil_abi_decode_revert(const uint8_t *data, size_t len, const char *const *custom_errors,
                            size_t n_custom, char *out, size_t out_cap);

/* ------------------------------------------------------------------------ */
/* Keys, addresses (EIP-55), signing.                                       */
/* ------------------------------------------------------------------------ */

typedef struct veil_eth_address {
    uint8_t b[20];
} veil_eth_address;

/* "0x" + EIP-55 mixed-case checksum hex, 43 bytes with the NUL. */
void veil_eth_address_format(const veil_eth_address *a, char out[43]);
/* Accepts all-lower, all-upper or a correct checksum; a mixed-case address
 * with a wrong checksum fails (VEIL_E_CRYPTO). */
int veil_eth_address_parse(const char *text, veil_eth_address *out, veil_err *err);

typedef struct veil_eth_key {
    uint8_t secret[32];
    veil_eth_address address;
} veil_eth_key;

/* Checks the secret is a valid secp256k1 scalar and derives the address. */
int veil_eth_key_from_secret(veil_eth_key *key, const uint8_t secret[32], veil_err *err);
int veil_eth_key_generate(veil_eth_key *key, veil_err *err);
void veil_eth_key_wipe(veil_eth_key *key);
/* Recoverable signature of a 32-byte hash (RFC 6979 nonces, low-s). */
int veil_eth_sign_hash(const veil_eth_key *key, const uint8_t hash[32], uint8_t r[32],
                       uint8_t s[32], int *recid, veil_err *err);
/* Recovers the signer's address. */
int veil_eth_recover(const uint8_t hash[32], const uint8_t r[32], const uint8_t s[32], int recid,
                     veil_eth_address *out, veil_err *err);

/* ------------------------------------------------------------------------ */
/* Transactions.                                                            */
/* ------------------------------------------------------------------------ */

enum veil_tx_type { VEIL_TX_LEGACY = 0, VEIL_TX_EIP1559 = 2 };

typedef struct veil_tx {
    enum veil_tx_type type;
    uint64_t chain_id;
    uint64_t nonce;
    uint64_t gas_limit;
    uint64_t gas_price;                /* legacy */
    uint64_t max_priority_fee_per_gas; /* EIP-1559 */
    uint64_t max_fee_per_gas;          /* EIP-1559 */
    bool has_to;                       /* false: contract creation */
    veil_eth_address to;
    uint8_t value[32]; /* wei, big-endian */
    const uint8_t *data;
    size_t data_len;
} veil_tx;

/* The signing hash (EIP-1559: keccak(0x02 || rlp(fields)); legacy with
 * EIP-155: keccak(rlp(fields, chainId, 0, 0))). */
int veil_tx_signing_hash(const veil_tx *tx, uint8_t out[32], veil_err *err);
/* Signs and appends the raw transaction bytes (what eth_sendRawTransaction
 * takes); the transaction hash goes to tx_hash. */
int veil_tx_sign(const veil_tx *tx, const veil_eth_key *key, veil_buf *raw, uint8_t tx_hash[32],
                 veil_err *err);
/* Parses a signed raw transaction (legacy or EIP-1559), recovers its sender. */
int veil_tx_decode(const uint8_t *raw, size_t len, veil_tx *tx, veil_eth_address *sender,
                   veil_err *err);

/* ------------------------------------------------------------------------ */
/* Keystore v3 (Web3 Secret Storage): scrypt or pbkdf2-sha256 KDF,          */
/* AES-128-CTR, MAC = keccak256(dk[16..32] || ciphertext).                  */
/* ------------------------------------------------------------------------ */

typedef struct veil_keystore_params {
    unsigned scrypt_log2_n; /* 18 (geth "standard") unless tests lower it */
    unsigned scrypt_r, scrypt_p;
} veil_keystore_params;

/* Serialises `key` encrypted under `password` into a NUL-terminated JSON. */
int veil_keystore_encrypt(const veil_eth_key *key, const char *password,
                          const veil_keystore_params *params, char **json_out, veil_err *err);
int veil_keystore_decrypt(const char *json, size_t len, const char *password, veil_eth_key *key,
                          veil_err *err);
/* The same with lower KDF cost limits (scrypt n <= 2^max_scrypt_log2_n,
 * pbkdf2 iterations): for untrusted files and fuzzing. */
int veil_keystore_decrypt_limited(const char *json, size_t len, const char *password,
                                  unsigned max_scrypt_log2_n, uint64_t max_pbkdf2_iterations,
                                  veil_eth_key *key, veil_err *err);
/* File helpers (written 0600). */
int veil_keystore_save(const char *path, const veil_eth_key *key, const char *password,
                       const veil_keystore_params *params, veil_err *err);
int veil_keystore_load(const char *path, const char *password, veil_eth_key *key, veil_err *err);

/* ------------------------------------------------------------------------ */
/* JSON-RPC over HTTP.                                                      */
/* ------------------------------------------------------------------------ */

typedef struct veil_rpc veil_rpc;

typedef struct veil_rpc_options {
    long timeout_ms;  /* per request (default 10 s) */
    unsigned retries; /* transport retries (default 3) */
    long backoff_ms;  /* first backoff, doubled per retry (default 100) */
    /* The circuit breaker: after a call failed at the transport level on
     * every endpoint, calls fail at once (VEIL_E_NETWORK, no I/O) for
     * breaker_ms (0: default 1 s; < 0: no breaker), doubling per failed
     * probe up to breaker_max_ms (0: default 16 s). */
    long breaker_ms;
    long breaker_max_ms;
} veil_rpc_options;

/* `url` is one endpoint or several separated by commas or spaces (at most
 * 8): a call that fails at the transport level on one endpoint, after its
 * retries, moves on to the next, which must serve the same chain id. */
int veil_rpc_open(veil_rpc **out, const char *url, const veil_rpc_options *opts, veil_err *err);
void veil_rpc_close(veil_rpc *rpc);
/* The endpoint in use, and how many times the handle failed over. */
const char *veil_rpc_endpoint(const veil_rpc *rpc);
uint64_t veil_rpc_failovers(const veil_rpc *rpc);
/* Calls the circuit breaker failed at once (no I/O), for tests and logs. */
uint64_t veil_rpc_short_circuits(veil_rpc *rpc);
/* Raw call: `params_json` is a JSON array text. The result is returned as
 * a JSON text (malloc'd). JSON-RPC errors fail with VEIL_E_PROTOCOL; their
 * revert data (if any) goes to *revert_data (malloc'd) when non-NULL. */
int veil_rpc_call(veil_rpc *rpc, const char *method, const char *params_json, char **result_json,
                  uint8_t **revert_data, size_t *revert_len, veil_err *err);
/* Parses a JSON-RPC response body (exposed for fuzzing). */
int veil_rpc_parse_response(const char *body, size_t len, char **result_json, uint8_t **revert_data,
                            size_t *revert_len, veil_err *err);

int veil_rpc_chain_id(veil_rpc *rpc, uint64_t *out, veil_err *err);
/* The handle must serve `chain_id`: the endpoint is asked before the next
 * request is sent (a mismatch fails that request with VEIL_E_MISMATCH; an
 * unreachable endpoint fails it as unreachable and is asked again next time). */
void veil_rpc_expect_chain_id(veil_rpc *rpc, uint64_t chain_id);
int veil_rpc_block_number(veil_rpc *rpc, uint64_t *out, veil_err *err);
int veil_rpc_get_transaction_count(veil_rpc *rpc, const veil_eth_address *a, const char *block,
                                   uint64_t *out, veil_err *err);
int veil_rpc_get_balance(veil_rpc *rpc, const veil_eth_address *a, uint8_t out[32], veil_err *err);
int veil_rpc_get_code(veil_rpc *rpc, const veil_eth_address *a, uint8_t **code, size_t *len,
                      veil_err *err);
/* eth_call / eth_estimateGas. On a revert, fails with VEIL_E_STATE and the
 * decoded reason in err; raw revert data in *revert_data if wanted. */
int veil_rpc_eth_call(veil_rpc *rpc, const veil_eth_address *from, const veil_eth_address *to,
                      const uint8_t *data, size_t len, uint8_t **ret, size_t *ret_len,
                      veil_err *err);
int veil_rpc_estimate_gas(veil_rpc *rpc, const veil_eth_address *from, const veil_eth_address *to,
                          const uint8_t *data, size_t len, uint64_t *gas, veil_err *err);
int veil_rpc_max_priority_fee(veil_rpc *rpc, uint64_t *out, veil_err *err);
/* Base fee of the next block (from eth_feeHistory). */
int veil_rpc_next_base_fee(veil_rpc *rpc, uint64_t *out, veil_err *err);
int veil_rpc_send_raw(veil_rpc *rpc, const uint8_t *raw, size_t len, uint8_t tx_hash[32],
                      veil_err *err);

typedef struct veil_eth_log {
    veil_eth_address address;
    uint8_t topics[4][32];
    size_t n_topics;
    uint8_t *data;
    size_t data_len;
    uint64_t block_number;
    uint8_t block_hash[32];
    uint8_t tx_hash[32];
    uint64_t log_index;
    bool removed;
} veil_eth_log;

typedef struct veil_eth_receipt {
    bool found;
    bool status;
    uint64_t block_number;
    uint64_t gas_used;
    uint64_t effective_gas_price;
    bool has_contract;
    veil_eth_address contract_address;
    veil_eth_log *logs;
    size_t n_logs;
} veil_eth_receipt;

void veil_eth_logs_free(veil_eth_log *logs, size_t n);
void veil_eth_receipt_clear(veil_eth_receipt *r);
int veil_rpc_get_receipt(veil_rpc *rpc, const uint8_t tx_hash[32], veil_eth_receipt *out,
                         veil_err *err);
/* eth_getLogs for one address, blocks [from, to], topic0..n filter (NULL = any). */
int veil_rpc_get_logs(veil_rpc *rpc, const veil_eth_address *address, uint64_t from_block,
                      uint64_t to_block, const uint8_t *const *topics, size_t n_topics,
                      veil_eth_log **logs, size_t *n_logs, veil_err *err);
/* The same over [from, to] in pages of `page` blocks (0 = the default),
 * halving a page the provider refuses (public providers cap the range or
 * the result count); logs in chain order. */
#define VEIL_RPC_LOGS_PAGE_DEFAULT 2000
int veil_rpc_get_logs_paged(veil_rpc *rpc, const veil_eth_address *address, uint64_t from_block,
                            uint64_t to_block, const uint8_t *const *topics, size_t n_topics,
                            uint64_t page, veil_eth_log **logs, size_t *n_logs,
                            veil_err *err) VEIL_WARN_UNUSED;
int veil_rpc_block_hash(veil_rpc *rpc, uint64_t number, uint8_t hash[32], veil_err *err);

/* Parses JSON log objects (exposed for fuzzing / reuse). */
int veil_eth_logs_from_json(const char *json, veil_eth_log **logs, size_t *n_logs, veil_err *err);

/* ------------------------------------------------------------------------ */
/* The client: RPC + chain id + signer + nonce manager.                     */
/* ------------------------------------------------------------------------ */

typedef struct veil_chain_client veil_chain_client;

typedef struct veil_chain_options {
    const char *rpc_url;
    uint64_t expected_chain_id; /* 0 = accept what the node says */
    const veil_eth_key *signer; /* copied; NULL for read-only use */
    veil_eth_address contract;  /* VeilRegistry */
    bool has_contract;
    long receipt_timeout_ms;   /* default 60 s */
    enum veil_tx_type tx_type; /* default EIP-1559 */
    veil_rpc_options rpc;
    /* An endpoint unreachable at open (transport failure) with
     * expected_chain_id set: open anyway with that chain id, the endpoint's
     * checked before its first request is used (veil_rpc_expect_chain_id).
     * veild restarted during an RPC outage (issue 18). */
    bool defer_chain_check;
} veil_chain_options;

int veil_chain_client_open(veil_chain_client **out, const veil_chain_options *opts, veil_err *err);
void veil_chain_client_close(veil_chain_client *c);
veil_rpc *veil_chain_client_rpc(veil_chain_client *c);
uint64_t veil_chain_client_chain_id(const veil_chain_client *c);
const veil_eth_address *veil_chain_client_signer(const veil_chain_client *c);
void veil_chain_client_set_contract(veil_chain_client *c, const veil_eth_address *a);
/* The registry address, or -1 when none is set. */
int veil_chain_client_contract(const veil_chain_client *c, veil_eth_address *out);

/* Result of a transaction sent and mined. */
typedef struct veil_tx_result {
    uint8_t tx_hash[32];
    veil_eth_receipt receipt;
} veil_tx_result;

void veil_tx_result_clear(veil_tx_result *r);

/* One of the signer's transactions sent but not mined yet. */
typedef struct veil_pending_tx {
    uint64_t nonce;
    uint8_t hash[32];
    uint8_t *input; /* calldata (malloc'd) */
    size_t input_len;
} veil_pending_tx;

/* The signer's unmined transactions: the nonces between its mined count
 * ("latest") and its pending count, each looked up by sender and nonce
 * (eth_getTransactionBySenderAndNonce). A restarted sender uses it to find
 * a transaction it sent before a crash instead of sending another. Fails
 * with VEIL_E_UNSUPPORTED when the endpoint cannot look a nonce up (then
 * *n_pending still says how many are pending). */
int veil_chain_pending_txs(veil_chain_client *c, veil_pending_tx **out, size_t *n,
                           uint64_t *n_pending, veil_err *err) VEIL_WARN_UNUSED;
void veil_pending_txs_free(veil_pending_tx *t, size_t n);

/* Sends a transaction with the next nonce (thread-safe: concurrent sends
 * get consecutive nonces, none reused or skipped), estimates gas (x1.25),
 * fills fees, waits for the receipt. A revert found while estimating fails
 * with VEIL_E_STATE and the decoded reason; a mined-but-failed tx too.
 * `to` NULL deploys `data` as a contract. */
int veil_chain_send(veil_chain_client *c, const veil_eth_address *to, const uint8_t *data,
                    size_t len, veil_tx_result *res, veil_err *err);
/* Waits for a receipt (polling) until timeout_ms. */
int veil_chain_wait_receipt(veil_chain_client *c, const uint8_t tx_hash[32], long timeout_ms,
                            veil_eth_receipt *out, veil_err *err);
/* The nonce the manager will hand out next (fetches it on first use). */
int veil_chain_next_nonce(veil_chain_client *c, uint64_t *out, veil_err *err);

/* ------------------------------------------------------------------------ */
/* Log following with a confirmation depth: a log is delivered once its     */
/* block is `confirmations` deep; the follower remembers the hash of the    */
/* last block it processed and rewinds when a reorg replaced it.            */
/* ------------------------------------------------------------------------ */

typedef int (*veil_log_cb)(const veil_eth_log *log, void *user);

typedef struct veil_log_follower {
    uint64_t next_block; /* first block not yet processed */
    uint64_t confirmations;
    uint8_t last_hash[32]; /* hash of block next_block - 1 when processed */
    bool have_last;
    uint64_t max_range; /* blocks per eth_getLogs (default 1000) */
    uint64_t reorgs_seen;
} veil_log_follower;

void veil_log_follower_init(veil_log_follower *f, uint64_t from_block, uint64_t confirmations);
/* Processes every newly confirmed block once; calls cb per log in order. */
int veil_log_follower_poll(veil_log_follower *f, veil_rpc *rpc, const veil_eth_address *address,
                           veil_log_cb cb, void *user, veil_err *err);

/* ------------------------------------------------------------------------ */
/* Merkle batches (leaf and pair hashing documented in VeilRegistry.sol).   */
/* ------------------------------------------------------------------------ */

void veil_chain_merkle_leaf(uint64_t cluster_id, const uint8_t job_id[32],
                            const uint8_t assignment_hash[32], uint8_t out[32]);
/* Root over n >= 1 leaves. */
int veil_chain_merkle_root(const uint8_t (*leaves)[32], size_t n, uint8_t root[32], veil_err *err);
/* Sibling path for leaf `index` (at most 64 entries); *n_proof set. */
int veil_chain_merkle_proof(const uint8_t (*leaves)[32], size_t n, size_t index,
                            uint8_t (*proof)[32], size_t max_proof, size_t *n_proof, veil_err *err);
bool veil_chain_merkle_verify(const uint8_t root[32], const uint8_t leaf[32],
                              const uint8_t (*proof)[32], size_t n_proof);

/* ------------------------------------------------------------------------ */
/* VeilRegistry calls.                                                      */
/* ------------------------------------------------------------------------ */

/* Custom error signatures of the contract, for veil_abi_decode_revert. */
extern const char *const veil_contract_errors[];
extern const size_t veil_contract_errors_len;

/* The compiled contract (generated at build time from contracts/src by
 * contracts/tools/build-artifact.js): creation bytecode. */
extern const uint8_t veil_contract_bytecode[];
extern const size_t veil_contract_bytecode_len;

typedef struct veil_contract_policy {
    uint8_t (*image_digests)[32];
    size_t n_image_digests;
    char *scheduler_policy;
    uint32_t *weights;
    size_t n_weights;
    uint8_t fhe_key_hash[32];
    veil_eth_address *decryptors;
    size_t n_decryptors;
    uint8_t (*guardian_keys)[32];
    size_t n_guardian_keys;
    /* The outcome budget (docs/THREAT_MODEL.md, H2): placement outcomes per
     * member per period of outcome_period_s seconds; 0 = no budget. */
    uint32_t outcomes_per_period;
    uint32_t outcome_period_s;
    /* Sharded rounds (issue 20, docs/SCHEDULING.md): shards of shard_size
     * consecutive candidates (0 = never sharded), shard_redundancy
     * schedulers each (0 = the default; the contract refuses more than
     * VEIL_POLICY_MAX_SHARD_REDUNDANCY). */
    uint32_t shard_size;
    uint8_t shard_redundancy;
    /* Scheduling switches every node applies alike (schedFlags; 0 = every
     * one on): VEIL_POLICY_SCHED_* bits, each turning one off. */
    uint8_t sched_flags;
    uint64_t version; /* from getClusterPolicy */
} veil_contract_policy;

#define VEIL_POLICY_MAX_SHARD_REDUNDANCY 3
/* schedFlags bits (docs/SCHEDULING.md): one round per replica instead of a
 * job's replicas in one round (issue 20), and the key computed in the
 * circuit instead of by the candidates (node-computed keys). The contract
 * refuses any other bit. */
#define VEIL_POLICY_SCHED_NO_BATCH     0x01u
#define VEIL_POLICY_SCHED_NO_NODE_KEYS 0x02u
#define VEIL_POLICY_SCHED_FLAGS_ALL    0x03u
/* The largest useful shard size: the member cap (issue 20); the CLI refuses
 * more (the contract stores a uint32). */
#define VEIL_POLICY_MAX_SHARD_SIZE 65536

void veil_contract_policy_clear(veil_contract_policy *p);
/* getClusterPolicy's return data (the policy tuple, then the version):
 * encode (tests, fuzzing) and strict decode into a caller-owned policy
 * (freed with veil_contract_policy_clear, also after a failure). */
int veil_contract_policy_encode(const veil_contract_policy *p, veil_buf *out,
                                veil_err *err) VEIL_WARN_UNUSED;
int veil_contract_policy_decode(const uint8_t *data, size_t len, veil_contract_policy *out,
                                veil_err *err) VEIL_WARN_UNUSED;

int veil_contract_deploy(veil_chain_client *c, veil_eth_address *out, veil_tx_result *res,
                         veil_err *err);
/* founder_orgs[i] indexes org_names. Returns the new cluster id. */
int veil_contract_create_cluster(veil_chain_client *c, const char *name,
                                 const char *const *org_names, size_t n_orgs,
                                 const veil_eth_address *founders, const uint32_t *founder_orgs,
                                 size_t n_founders, uint16_t threshold, uint64_t *cluster_id,
                                 veil_tx_result *res, veil_err *err);
int veil_contract_propose_org(veil_chain_client *c, uint64_t cluster_id, const char *name,
                              const veil_eth_address *operators, size_t n, uint64_t ttl_s,
                              uint64_t *proposal_id, veil_tx_result *res, veil_err *err);
int veil_contract_register_node(veil_chain_client *c, uint64_t cluster_id,
                                const veil_eth_address *node, const uint8_t *peer_id,
                                size_t peer_id_len, veil_tx_result *res, veil_err *err);
int veil_contract_deactivate_node(veil_chain_client *c, const veil_eth_address *node,
                                  veil_tx_result *res, veil_err *err);
int veil_contract_active_nodes(veil_chain_client *c, uint64_t cluster_id, veil_eth_address **nodes,
                               size_t *n, veil_err *err);
int veil_contract_get_node(veil_chain_client *c, const veil_eth_address *node, uint64_t *cluster_id,
                           veil_eth_address *operator_addr, bool *active, uint8_t peer_key[32],
                           veil_err *err);
/* The node address registered for a peer ID (raw 32-byte key or identity
 * multihash); the zero address when none is. */
int veil_contract_node_by_peer_id(veil_chain_client *c, const uint8_t *peer_id, size_t len,
                                  veil_eth_address *node, veil_err *err);
int veil_contract_propose_policy(veil_chain_client *c, uint64_t cluster_id,
                                 const veil_contract_policy *p, uint64_t ttl_s,
                                 uint64_t *proposal_id, veil_tx_result *res, veil_err *err);
/* *executed tells whether this vote reached the threshold. */
int veil_contract_vote(veil_chain_client *c, uint64_t proposal_id, bool *executed,
                       veil_tx_result *res, veil_err *err);
int veil_contract_get_policy(veil_chain_client *c, uint64_t cluster_id, veil_contract_policy *out,
                             veil_err *err);
int veil_contract_anchor_deployment(veil_chain_client *c, uint64_t cluster_id,
                                    const uint8_t job_id[32], const uint8_t assignment_hash[32],
                                    veil_tx_result *res, veil_err *err);
/* One batch per (cluster, epoch): when a batch of `epoch` is anchored
 * already, the contract reverts BatchEpochAnchored and this fails with
 * VEIL_E_EXISTS (the existing root: veil_contract_find_batch_root). */
int veil_contract_anchor_batch(veil_chain_client *c, uint64_t cluster_id, uint64_t epoch,
                               const uint8_t root[32], uint32_t count, veil_tx_result *res,
                               veil_err *err);
/* Finds the BatchAnchored root for (cluster, epoch) in the logs: the first
 * batch of that epoch (VEIL_E_NOTFOUND when there is none). */
int veil_contract_find_batch_root(veil_chain_client *c, uint64_t cluster_id, uint64_t epoch,
                                  uint8_t root[32], uint32_t *count, veil_err *err);
/* Asks the contract's verifyInclusion view. */
int veil_contract_verify_inclusion(veil_chain_client *c, const uint8_t root[32],
                                   uint64_t cluster_id, const uint8_t job_id[32],
                                   const uint8_t assignment_hash[32], const uint8_t (*proof)[32],
                                   size_t n_proof, bool *ok, veil_err *err);
int veil_contract_open_dispute(veil_chain_client *c, uint64_t cluster_id,
                               const uint8_t anchor_id[32], const uint8_t evidence_hash[32],
                               uint64_t *dispute_id, veil_tx_result *res, veil_err *err);
/* *resolved / *status after the vote (status 1 open, 2 upheld, 3 rejected). */
int veil_contract_resolve_dispute(veil_chain_client *c, uint64_t dispute_id, bool uphold,
                                  uint8_t *status, veil_tx_result *res, veil_err *err);
/* anchorId as the contract computes it: kind 0 single (a=jobId, b=hash),
 * kind 1 batch (a=epoch as a word, b=root). */
void veil_contract_anchor_id(uint8_t kind, uint64_t cluster_id, const uint8_t a[32],
                             const uint8_t b[32], uint8_t out[32]);

/* BatchAnchored is an anonymous event (its encoding saves anchorBatch gas,
 * see VeilRegistry.sol): topic0 = the first 24 bytes of
 * keccak256("BatchAnchored(uint64,bytes32,uint256)") followed by the cluster id
 * (8 bytes big-endian); data = abi.encode(bytes32 merkleRoot, uint256 batch)
 * with batch = clusterId << 96 | epoch << 32 | count, which is also
 * anchorBatch's second argument. */
typedef struct veil_contract_batch {
    uint64_t cluster_id;
    uint64_t epoch;
    uint32_t count;
    uint8_t merkle_root[32];
} veil_contract_batch;

/* The topic0 that selects a cluster's BatchAnchored logs in eth_getLogs. */
void veil_contract_batch_topic(uint64_t cluster_id, uint8_t out[32]);
/* The packed `batch` word. */
void veil_contract_batch_word(uint64_t cluster_id, uint64_t epoch, uint32_t count, uint8_t out[32]);
/* Decodes a BatchAnchored log; -1 (err set, err may be NULL) when the log is
 * not one or is malformed (wrong topic count or prefix, data not 64 bytes,
 * bits above 160 set, cluster id of the data differing from the topic's). */
int veil_contract_decode_batch_log(const veil_eth_log *log, veil_contract_batch *out,
                                   veil_err *err);

/* A membership event: NodeRegistered or NodeDeactivated (both carry the
 * cluster id and the node's address as their first two indexed topics). */
typedef struct veil_contract_node_event {
    bool registered; /* false: deactivated */
    uint64_t cluster_id;
    veil_eth_address node;
} veil_contract_node_event;
/* Decodes a NodeRegistered / NodeDeactivated log; -1 for any other log, or
 * one whose topics are malformed (wrong count, a cluster id or an address
 * with bits set outside its width). */
int veil_contract_decode_node_log(const veil_eth_log *log, veil_contract_node_event *out);

/* A policy change: PolicyChanged(uint64 indexed clusterId, uint64 version,
 * uint256 proposalId), emitted when a policy proposal executes. */
typedef struct veil_contract_policy_event {
    uint64_t cluster_id;
    uint64_t version;
} veil_contract_policy_event;
/* Decodes a PolicyChanged log; -1 for any other log, or one that is
 * malformed (not 2 topics, data not 64 bytes, a cluster id or version with
 * bits set above 64). */
int veil_contract_decode_policy_log(const veil_eth_log *log, veil_contract_policy_event *out);

/* Decodes a registry event into a one-line description ("NodeRegistered
 * cluster=1 node=0x.. ..."); returns -1 for unknown events. */
int veil_contract_describe_log(const veil_eth_log *log, veil_buf *out);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_CHAIN_H */
