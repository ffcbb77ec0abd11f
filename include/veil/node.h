// SPDX-License-Identifier: Apache-2.0
/*
 * veil/node.h - the node daemon's building blocks (src/node/): job specs,
 * telemetry sampling and quantization, the plaintext scheduling policy (the
 * oracle and exact specification of the encrypted circuit), scheduler
 * selection and digest agreement, cluster-topic messages, assignment
 * commitments with Merkle batches, the SQLite state store and the local HTTP
 * API. Nothing here talks to FHE, libp2p, the chain or the container runtime
 * directly: those are wired in by veild (hash and key material come in as
 * parameters).
 */
#ifndef VEIL_NODE_H
#define VEIL_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Quantities and labels                                                    */
/* ------------------------------------------------------------------------ */

/* Kubernetes resource quantity ("500m", "1.5", "64Mi", "1G", "2e3"), scaled
 * to an integer count of a unit: unit_exp10 = -3 gives millis (CPU), 0 gives
 * whole units (bytes, GPUs). Negative, fractional-below-unit and overflowing
 * values are refused with a reason in err. */
int veil_quantity_parse(const char *text, int unit_exp10, uint64_t *out, veil_err *err);

/* Region label names <-> codes (1..VEIL_LABEL_MAX; 0 = no label / any). */
#define VEIL_LABEL_MAX 255
int veil_region_code(const char *name, uint8_t *code);
const char *veil_region_name(uint8_t code); /* NULL when unnamed */

/* ------------------------------------------------------------------------ */
/* Job spec (job.yaml)                                                      */
/* ------------------------------------------------------------------------ */

enum veil_policy {
    VEIL_POLICY_BINPACK = 0, /* least leftover on the requested resources */
    VEIL_POLICY_SPREAD = 1,  /* most free on the requested resources */
    VEIL_POLICY_PRIORITY = 2, /* lowest per-node priority code */
    /* `placement: lowest-latency`: the feasible node with the lowest RTT to
     * the job's latency landmark (docs/SCHEDULING.md, "Latency-aware") */
    VEIL_POLICY_LATENCY = 3,
    /* `placement: weighted`: the feasible node with the lowest cost
     * latency_weight x latency + load_weight x load (docs/SCHEDULING.md,
     * "Weighted placement") */
    VEIL_POLICY_WEIGHTED = 4
};
#define VEIL_POLICY_LAST VEIL_POLICY_WEIGHTED
/* placement: weighted: the weights' ranges (public small integers; the
 * bound 16 x 255 + 4 x 4 x 255 + 2^13 < 2^14 keeps the cost in the key's
 * score field, docs/SCHEDULING.md) and their defaults */
#define VEIL_WEIGHT_LATENCY_MAX     16
#define VEIL_WEIGHT_LOAD_MAX        4
#define VEIL_WEIGHT_LATENCY_DEFAULT 1
#define VEIL_WEIGHT_LOAD_DEFAULT    1
const char *veil_policy_name(enum veil_policy p);

#define VEIL_JOB_NAME_MAX       63
#define VEIL_JOB_MAX_ARGS       64
#define VEIL_JOB_MAX_ENV        64
#define VEIL_JOB_MAX_REPLICAS   64
#define VEIL_JOB_SPEC_MAX_BYTES (64 * 1024)

struct veil_env_var {
    char *name;
    char *value;
};

/* VeilNet (issue 16): a port a job opens to its own replicas and to the
 * jobs it names (of the same tenant); nothing else reaches its containers. */
#define VEIL_JOB_MAX_EXPOSE    8
#define VEIL_JOB_MAX_EXPOSE_TO 8
struct veil_job_expose {
    uint16_t port;
    uint8_t proto; /* 6 = tcp, 17 = udp */
    char to[VEIL_JOB_MAX_EXPOSE_TO][VEIL_JOB_NAME_MAX + 1]; /* sorted, unique */
    size_t n_to;
};

struct veil_job_spec {
    char *name;
    char *image;           /* as written */
    char *image_repo;      /* image without tag/digest */
    char *image_tag;       /* NULL when pinned by digest */
    char image_digest[72]; /* "sha256:<64 hex>" or "" when only a tag */
    char **command;
    size_t n_command;
    char **args;
    size_t n_args;
    struct veil_env_var *env; /* sorted by name, unique */
    size_t n_env;
    uint64_t cpu_millis; /* requested */
    uint64_t memory_bytes;
    uint64_t disk_bytes;
    uint64_t gpus;
    uint32_t replicas; /* >= 1 */
    enum veil_policy policy;
    uint8_t region; /* 0 = any */
    uint8_t zone;   /* 0 = any */
    /* placement: lowest-latency or weighted: the landmark slot
     * (0..VEIL_LATENCY_SLOTS-1) the latency is measured to; public even for a
     * confidential job */
    uint8_t latency_to;
    /* placement: weighted only: the cost's weights (public even for a
     * confidential job; 0..VEIL_WEIGHT_*_MAX, not both 0) */
    uint8_t latency_weight, load_weight;
    bool confidential;
    /* The form nodes see of a confidential job: no resources or constraints
     * (all zero here, "confidential" in the JSON), only the digest of the
     * request ciphertext that travels beside the spec. */
    bool redacted;
    uint8_t request_digest[32];
    struct veil_job_expose expose[VEIL_JOB_MAX_EXPOSE]; /* sorted by (proto, port), unique */
    size_t n_expose;
    char tenant[VEIL_JOB_NAME_MAX + 1]; /* the tenant taint; "" = none */
};

/* Parses and strictly validates a job spec. `origin` names the input in
 * errors ("job.yaml"); errors read "job.yaml:7: resources.memory: \"64Q\" is
 * not a quantity (e.g. 64Mi)". */
int veil_job_spec_parse(struct veil_job_spec *spec, const char *text, size_t len,
                        const char *origin, veil_err *err);
int veil_job_spec_load(struct veil_job_spec *spec, const char *path, veil_err *err);
void veil_job_spec_free(struct veil_job_spec *spec);
/* The canonical JSON form (sorted keys, no whitespace, every field present,
 * quantities as integers in base units). Caller frees. Parsing the canonical
 * form again gives the same canonical form. */
char *veil_job_spec_canonical_json(const struct veil_job_spec *spec, veil_err *err);
/* request_digest = BLAKE2b-256("veil-job-request-v1" || request ciphertext). */
void veil_job_request_digest(uint8_t out[32], const uint8_t *ct, size_t len);
/* Turns a parsed confidential spec into its redacted form (what leaves the
 * submitter): wipes the request values and records the ciphertext's digest. */
int veil_job_spec_redact(struct veil_job_spec *spec, const uint8_t *request_ct, size_t len,
                         veil_err *err);
/* job id = BLAKE2b-256("veil-job-id-v1" || u32be(len) canonical || u32be(len)
 * submitter || nonce[16]), where the submitter is the submitting node's
 * peer-ID text (base58btc, as the local API and the store record it). */
#define VEIL_JOB_NONCE_LEN 16
int veil_job_id(uint8_t out[32], const struct veil_job_spec *spec, const uint8_t *submitter,
                size_t submitter_len, const uint8_t nonce[VEIL_JOB_NONCE_LEN], veil_err *err);

/* ------------------------------------------------------------------------ */
/* Telemetry: sampling and quantization                                     */
/* ------------------------------------------------------------------------ */

/* Latency (telemetry format 2): RTT to each of the cluster's latency
 * landmarks (the bundle's first VEIL_LATENCY_SLOTS bootstrap peers, one per
 * region in a multi-region cluster), in 0.1 ms units rounded UP, saturating
 * at VEIL_LATENCY_MAX (409.4 ms); VEIL_LATENCY_UNKNOWN when not measured, so
 * a node that measured nothing is never the closest. The value fits 12 bits:
 * the circuit's score takes it as one field, no PBS. */
#define VEIL_LATENCY_SLOTS   4
#define VEIL_LATENCY_UNIT_US 100u
#define VEIL_LATENCY_MAX     4094u
#define VEIL_LATENCY_UNKNOWN 4095u
uint16_t veil_latency_quantize(uint32_t rtt_us);

/* Raw free capacity of this node. */
struct veil_telemetry_raw {
    uint64_t cpu_millis;
    uint64_t memory_bytes;
    uint64_t disk_bytes;
    uint64_t gpus;
    uint8_t region, zone, priority;
    /* RTT to each latency landmark in microseconds; 0 = not measured */
    uint32_t rtt_us[VEIL_LATENCY_SLOTS];
};

/* Quantized to the FHE widths: every resource is a 16-bit unsigned integer.
 *   cpu    in 10-millicore steps   (max 655.35 cores)
 *   memory in 4 MiB units, wide code (max 32764 GiB, ~32 TiB)
 *   disk   in 1 GiB units, wide code (max 8387584 GiB, ~8 PiB)
 *   gpu    in whole devices        (free: max 4095, so that the scheduling
 *                                    score can take it unshifted; requests
 *                                    up to 65535, above 4095 never fit)
 * Free capacity rounds DOWN and saturates at 0xFFFF (a node may under-report,
 * never over-report); requests round UP and a request above 0xFFFF units
 * cannot be represented (refused: no node could ever satisfy it). Labels
 * (region, zone, priority) are 8-bit codes carried in 16-bit words.
 * The wide code (memory, disk; docs/SCHEDULING.md): a code c below 0x8000 is c
 * units exactly; above, e = (c - 0x8000) >> 12 (0..7) and m = c & 4095 give
 * (4096 + m) << (e + 3) units: steps of 8 units up to 2^16, doubling with
 * each exponent, so the relative error stays below 1/4096. The code is
 * monotone, so codes compare as the amounts do; free amounts round down to a
 * code and requests up, so code(free) >= code(req) implies free >= req. */
enum { VEIL_RES_CPU = 0, VEIL_RES_MEMORY, VEIL_RES_DISK, VEIL_RES_GPU, VEIL_RES_COUNT };
#define VEIL_QUANT_MAX            0xFFFFu
#define VEIL_QUANT_CPU_MILLIS     10u
#define VEIL_QUANT_MEMORY_BYTES   (4u * 1024u * 1024u)
#define VEIL_QUANT_DISK_BYTES     (1024ull * 1024u * 1024u)
#define VEIL_QUANT_GPU_MAX        4095u
#define VEIL_QUANT_LINEAR         0x8000u /* wide codes below: exact unit counts */
#define VEIL_QUANT_MANT_BITS      12
#define VEIL_QUANT_CODE_MAX_UNITS (8191ull << 10) /* the value of code 0xFFFF */
/* The wide code: its value in units; the largest code at most `units`
 * (saturating at 0xFFFF); the smallest code at least `units` (-1 above the
 * largest value). */
uint64_t veil_quant_code_value(uint16_t code);
uint16_t veil_quant_code_down(uint64_t units);
VEIL_WARN_UNUSED int veil_quant_code_up(uint64_t units, uint16_t *code);

struct veil_telemetry_q {
    uint16_t res[VEIL_RES_COUNT];
    uint16_t region, zone, priority;
    uint16_t latency[VEIL_LATENCY_SLOTS];
};

void veil_telemetry_quantize_free(const struct veil_telemetry_raw *raw, struct veil_telemetry_q *q);

/* The plaintext words a node encrypts (one 16-bit ciphertext each, in this
 * order) into its telemetry message: cpu, memory, disk, gpu, region, zone,
 * priority, then latency[0..3] (format 2; format 1 had the first 7 only).
 * The scheduler deserializes the same order; a format-1 list (56 blocks)
 * fails expansion with "compact list of 56 blocks is not 11 values". */
#define VEIL_TELEMETRY_FORMAT      2
#define VEIL_TELEMETRY_WORD_LATENCY 7 /* index of latency[0] */
#define VEIL_TELEMETRY_WORDS       (VEIL_TELEMETRY_WORD_LATENCY + VEIL_LATENCY_SLOTS)
void veil_telemetry_to_words(const struct veil_telemetry_q *q, uint16_t out[VEIL_TELEMETRY_WORDS]);
void veil_telemetry_from_words(const uint16_t in[VEIL_TELEMETRY_WORDS], struct veil_telemetry_q *q);
/* Quantizes a job's request (rounding up); fails when a value exceeds the
 * representable range. */
int veil_telemetry_quantize_request(const struct veil_job_spec *spec, uint16_t req[VEIL_RES_COUNT],
                                    veil_err *err);

/* CPU sampler: free millicores from two /proc/stat readings. */
struct veil_cpu_sampler {
    uint64_t last_idle, last_total;
    bool primed;
};
/* Parses /proc/stat's aggregate "cpu" line into idle (idle+iowait) and total
 * jiffies. */
int veil_proc_stat_parse(const char *text, uint64_t *idle, uint64_t *total, veil_err *err);
/* Parses /proc/meminfo's MemAvailable (bytes). */
int veil_meminfo_parse(const char *text, uint64_t *available_bytes, veil_err *err);
/* Online CPU count limited by the cgroup quota (v2 cpu.max or v1
 * cfs_quota/period) when one is set, in millicores. */
uint64_t veil_cpu_capacity_millis(void);

/* Samples the node: free CPU = capacity x idle fraction since the previous
 * call (the first call reads twice, `first_gap_ms` apart), MemAvailable,
 * statvfs(data_dir) free for unprivileged users, GPU count = number of
 * /dev/nvidia<N> devices. Labels are copied from `labels` (may be NULL). */
int veil_telemetry_sample(struct veil_cpu_sampler *cpu, const char *data_dir,
                          const struct veil_telemetry_raw *labels, unsigned first_gap_ms,
                          struct veil_telemetry_raw *out, veil_err *err);

/* TEST-ONLY capacity override, so end-to-end tests can compare placements to
 * a plaintext oracle. Text "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0[,region=..,
 * zone=..,priority=..,latency0..3=MS]" (latencyN: RTT in milliseconds to
 * landmark N, e.g. 12.5). veild reads it from the environment variable
 * VEIL_TEST_ONLY_CAPACITY (and logs a warning that telemetry is fixed). */
#define VEIL_TEST_ONLY_CAPACITY_ENV "VEIL_TEST_ONLY_CAPACITY"
int veil_telemetry_test_override_parse(const char *text, struct veil_telemetry_raw *out,
                                       veil_err *err);

/* ------------------------------------------------------------------------ */
/* Plaintext scheduling policy: the oracle of the encrypted circuit.       */
/* ------------------------------------------------------------------------ */

/* The policy (binpack, spread, priority), exactly as the encrypted circuit
 * computes it (src/node/schedule.c specifies it op by op):
 *   - a node is feasible when free_r >= req_r for every resource (exact, on
 *     the quantized 16-bit values) and its region/zone codes equal the
 *     request's where the request names one; codes are 8-bit, compared on the
 *     low 8 bits of both words (the high bytes are always 0; code 0 = any);
 *   - its key = score + 2^14 * min(failed conditions, 3), so every feasible
 *     key is below 2^14 and every infeasible one at or above;
 *   - score: binpack = sum over requested r of term_r(free_r); spread = sum
 *     of term_r(0xFFFF - free_r); priority = priority mod 2^8 (the 8-bit
 *     code); lowest-latency = latency[latency_to] mod 2^12 (the node's RTT to
 *     the job's landmark in 0.1 ms units, < 2^12 by construction);
 *     weighted = latency_weight x latq + load_weight x loadq + 2^13 x
 *     [latency[latency_to] == 4095] (VEIL_SCHED_COST_*: an unmeasured node
 *     ranks after every measured one).
 *     term_r(x) = (x >> shift_r) mod 2^12 with shift 4 for cpu, memory
 *     and disk (16 quantization units: 160 millicores, 64 MiB, 16 GiB; a
 *     monotone 12-bit term up to 0xFFFF) and 0 for gpus (free gpus are at
 *     most 4095). "Requested" = req_r != 0; at most 4 x 4095 < 2^14. Binpack
 *     is "least leftover": sum(free_r - req_r) differs from sum(free_r) by the
 *     same constant on every node, so the request need not enter the score;
 *     12-bit terms keep the sums short (fewer carries);
 *   - the chosen node is the candidate with the smallest key, ties to the
 *     lowest index; found = (that key < 2^14). */
#define VEIL_SCHED_WIDTH         16
#define VEIL_SCHED_TERM_SHIFT    4  /* low bits dropped from cpu/memory/disk terms */
#define VEIL_SCHED_TERM_BITS     12 /* bits of each score term */
#define VEIL_SCHED_SCORE_BITS    14 /* scores are below 2^14; the top block flags */
#define VEIL_SCHED_PRIORITY_BITS 8  /* the priority code's bits in its score */
#define VEIL_SCHED_LATENCY_BITS  12 /* lowest-latency: the latency word's bits */
#define VEIL_SCHED_LABEL_BITS    8  /* region/zone codes are compared on these bits */
#define VEIL_SCHED_FLAG_BASE     (1u << VEIL_SCHED_SCORE_BITS)
#define VEIL_SCHED_MAX_NODES     65536 /* labels are 16-bit node indices */

/* weighted: cost = latency_weight x latq + load_weight x loadq + 2^13 x [unmeasured]
 * with latq = (latency >> 4) mod 2^8 (1.6 ms steps) and loadq = the sum over
 * the requested resources of lq_r: for cpu, memory and disk
 * ((0xFFFF - free_r) >> 8) mod 2^8 (the top 8 bits of spread's 12-bit term),
 * for gpus 255 - min(free, 255) (whole GPUs: a node's handful of GPUs would
 * be one step of 16 in spread's term; 256 or more free read as no load);
 * every lq_r <= 255, so the cost stays < 2^14 by the weights' bounds */
#define VEIL_SCHED_COST_BITS       8
#define VEIL_SCHED_COST_SHIFT      4 /* 12-bit latency and load terms keep their top 8 bits */
#define VEIL_SCHED_COST_UNMEASURED (1u << 13)
#define VEIL_SCHED_COST_GPU_IDLE   256u /* free gpus from here on: a GPU load of 0 */

/* What a job asks for, in quantized units (encrypted when confidential). */
struct veil_sched_request {
    uint16_t res[VEIL_RES_COUNT];
    uint16_t region, zone; /* 0 = any */
    enum veil_policy policy;
    uint8_t latency_to; /* lowest-latency, weighted: the landmark slot (public) */
    /* VEIL_POLICY_WEIGHTED: the cost's public weights (0..VEIL_WEIGHT_*_MAX) */
    uint8_t latency_weight, load_weight;
    /* true: the request is encrypted (confidential job), so the circuit
     * evaluates every resource and constraint; false: the request is public
     * and the circuit folds it in (unrequested resources and constraints cost
     * nothing). The placement is the same either way; only the cost differs. */
    bool confidential;
};

/* Counts of the circuit's operations (enum veil_sched_op below), and
 * sum_terms / argmin_inputs: fields of all SUM_BITS + SUM_MASKED / operands
 * of all ARGMIN calls. */
struct veil_sched_ops {
    uint64_t lt, ne, lt_scalar, ne_scalar, and_, not_, truncate, sum_bits, sum_masked, sum_terms,
        flag_top, argmin, argmin_inputs, constant, eq_scalar, sum_weighted;
};
/* Their sum (sum_terms and argmin_inputs not included). In PBS with the FHE
 * library's ops: lt 11, ne 5 (8-bit labels), lt_scalar 5, ne_scalar 3 (8-bit)
 * or 5, and 1, not 0, truncate 0,
 * sum_bits 0 for one operand and ~12 per further 12-bit field, sum_masked the
 * same plus 1 per field block (6 per 12-bit field), flag_top 0 for up
 * to three flags and 1 for more, argmin ~21 per input beyond the first, const 0,
 * eq_scalar ~3 (the unmeasured test), sum_weighted ~10-20 (one propagation)
 * (bench_schedule prints the measured count). */
uint64_t veil_sched_ops_total(const struct veil_sched_ops *ops);

struct veil_sched_result {
    uint32_t index; /* meaningful only when found */
    bool found;
};

/* One round: nodes[i] is node i's quantized telemetry; excluded[i] (may be
 * NULL) is a plaintext mask (dead, stale, or already chosen). ops (may be
 * NULL) accumulates the operation counts. */
int veil_sched_round(const struct veil_sched_request *req, const struct veil_telemetry_q *nodes,
                     const bool *excluded, size_t n_nodes, struct veil_sched_result *out,
                     struct veil_sched_ops *ops, veil_err *err);
/* `replicas` rounds, each excluding the nodes already chosen; out[k] for
 * replica k. Once a round finds nothing, later replicas are unschedulable too. */
int veil_sched_replicas(const struct veil_sched_request *req, const struct veil_telemetry_q *nodes,
                        const bool *excluded, size_t n_nodes, uint32_t replicas,
                        struct veil_sched_result *out, struct veil_sched_ops *ops, veil_err *err);
/* Sharded rounds (docs/SCHEDULING.md): node i's key as the circuit computes
 * it (score + VEIL_SCHED_FLAG_BASE * min(failed conditions, 3)); and a round
 * whose candidates are split into shards of shard_size consecutive indices,
 * each shard's (key, index) winner found as one round over the shard, the
 * winners merged by a final argmin (ties: the earlier shard). The merge keeps
 * "smallest key, ties to the lowest index", so the result is exactly
 * veil_sched_round's; n_shards_out (may be NULL) receives the shard count. */
uint32_t veil_sched_key(const struct veil_sched_request *req, const struct veil_telemetry_q *node);
/* Node-computed keys (docs/SCHEDULING.md "PBS per node"): for a public
 * request a candidate computes its own key on its own telemetry in the clear
 * (veil_sched_key when feasible, else 0xFFFF) and publishes it encrypted; the round is the
 * argmin over those ciphertexts with the candidates' indices as labels,
 * which places exactly as veil_sched_round. A node trusted to report its
 * telemetry is trusted no more by reporting its key. -1 for a confidential
 * request (the node does not know it) or a bad policy. */
VEIL_WARN_UNUSED int veil_sched_node_key(const struct veil_sched_request *req,
                                         const struct veil_telemetry_q *own, uint16_t *key,
                                         veil_err *err);
VEIL_WARN_UNUSED int veil_sched_round_sharded(const struct veil_sched_request *req,
                                              const struct veil_telemetry_q *nodes,
                                              const bool *excluded, size_t n_nodes,
                                              size_t shard_size, struct veil_sched_result *out,
                                              size_t *n_shards_out, veil_err *err);
/* Sharded batch rounds (docs/SCHEDULING.md): k replicas of one job in one
 * sharded round, stated as the circuits compute it: each shard's k-list (k
 * tournaments over its members' keys, each winner's key flagged before the
 * next: veil_fhe_argmin_replicas_keyed), then k tournaments over the S k
 * (key, index) entries in shard-major, rank order, tournament j over the
 * ranks <= j only, flagged by position (veil_fhe_argmin_merge_replicas).
 * out[r] for r < k equals
 * veil_sched_replicas' (test_node_schedule
 * test_sharded_replicas_equal_replicas); k <= VEIL_SCHED_MAX_REPLICAS. */
VEIL_WARN_UNUSED int veil_sched_round_sharded_replicas(
    const struct veil_sched_request *req, const struct veil_telemetry_q *nodes,
    const bool *excluded, size_t n_nodes, size_t shard_size, uint32_t k,
    struct veil_sched_result *out, size_t *n_shards_out, veil_err *err);
/* The same circuit over any backend: the plaintext one above, or the FHE
 * library (daemon_sched.c: each op is one veil_fhe_* call). Values are opaque
 * backend handles of 16-bit integers or booleans. The circuit borrows its
 * inputs and releases every intermediate it creates; outputs are new handles. */
enum veil_sched_op {
    VEIL_SCHED_OP_LT,        /* args[0] < args[1] (16-bit) -> bool */
    VEIL_SCHED_OP_NE,        /* args[0] != args[1] -> bool */
    VEIL_SCHED_OP_LT_SCALAR, /* args[0] < k -> bool */
    VEIL_SCHED_OP_NE_SCALAR, /* args[0] != k -> bool */
    VEIL_SCHED_OP_AND,       /* args[0] & args[1], bools */
    VEIL_SCHED_OP_NOT,       /* ~args[0] & 0xFFFF */
    VEIL_SCHED_OP_TRUNCATE,  /* args[0] mod 2^k as a k-bit value (k = 8: label codes) */
    /* sum_i ((args[i] >> k) mod 2^k2) over n_args 16-bit values (never wraps:
     * n_args (2^k2 - 1) < 2^16) */
    VEIL_SCHED_OP_SUM_BITS,
    /* the same over m = n_args / 2 values args[0..m) where field i counts only
     * if the bool args[m + i] is true */
    VEIL_SCHED_OP_SUM_MASKED,
    /* args[0] + 2^14 * min(number of true bools in args[1..n_args), 3); args[0]
     * must be below 2^14 (an error otherwise) */
    VEIL_SCHED_OP_FLAG_TOP,
    /* out = labels[p] for the first position p of the smallest of args[0..n),
     * as an unsigned value (the FHE backend: 8-bit when every label fits,
     * else 16-bit); out2 = bool [that minimum < 2^14] */
    VEIL_SCHED_OP_ARGMIN,
    /* out = the public constant k without randomness (noiseless, identical at
     * every scheduler), a bool when k2 == 1, else 16-bit */
    VEIL_SCHED_OP_CONST,
    /* k = call->k replicas in one evaluation (1 <= k <= VEIL_SCHED_MAX_REPLICAS):
     * out[r], out2[r] (arrays of k) are ARGMIN's (label, found) of tournament
     * r, the winner's key of each tournament flagged before the next (its top
     * two bits become min(top + 1, 3)): exactly k rounds each excluding the
     * nodes already chosen (veil_sched_replicas; FHE:
     * veil_fhe_argmin_replicas) */
    VEIL_SCHED_OP_ARGMIN_REPLICAS,
    VEIL_SCHED_OP_EQ_SCALAR, /* args[0] == k -> bool */
    /* sum_i weights[i] * (args[i] mod 2^k2), where the last k args are bools
     * (counted as their value) and the others 16-bit values; the bound
     * sum_i weights[i] (2^k2 - 1 or 1) must be below 2^16 (an error
     * otherwise; FHE: veil_fhe_sum_weighted) */
    VEIL_SCHED_OP_SUM_WEIGHTED,
};
/* Replicas one round places at once (the FHE library's limit). */
#define VEIL_SCHED_MAX_REPLICAS 64
typedef struct veil_sched_ct veil_sched_ct;
struct veil_sched_call {
    enum veil_sched_op op;
    const veil_sched_ct *const *args;
    size_t n_args;
    uint64_t k, k2;
    const uint64_t *labels;  /* ARGMIN: one per argument */
    const uint64_t *weights; /* SUM_WEIGHTED: one per argument */
};
struct veil_sched_backend {
    void *ctx;
    /* *out (and *out2, ARGMIN only) receive new handles */
    int (*eval)(void *ctx, const struct veil_sched_call *call, veil_sched_ct **out,
                veil_sched_ct **out2, veil_err *err);
    void (*release)(void *ctx, veil_sched_ct *v);
};
/* The op's result on plain values (bools 0/1, 16-bit values), shared by the
 * oracle and tests; -1 with err on an operand the FHE op would refuse.
 * ARGMIN_REPLICAS writes call->k values to out and (when not NULL) out2. */
int veil_sched_plain_eval(const struct veil_sched_call *call, const uint32_t *args, uint32_t *out,
                          uint32_t *out2, veil_err *err);

struct veil_sched_circuit_in {
    const struct veil_sched_request *req; /* policy, confidential, public values */
    /* confidential only: res[0..3], region, zone as 16-bit ciphertexts */
    const veil_sched_ct *req_words[VEIL_RES_COUNT + 2];
    /* n_nodes x VEIL_TELEMETRY_WORDS handles, row-major: node i's words
     * (veil_telemetry_to_words order) at [i * VEIL_TELEMETRY_WORDS ...] */
    const veil_sched_ct *const *node_words;
    const bool *excluded; /* may be NULL */
    size_t n_nodes;
};
/* Evaluates one round. *index (8- or 16-bit: the chosen node's position in
 * node_words) and *found (bool) are always backend values (public results are
 * CONST), unless there is no candidate at all: then both are NULL
 * (unschedulable, known publicly). */
int veil_sched_circuit(const struct veil_sched_backend *be, const struct veil_sched_circuit_in *in,
                       veil_sched_ct **index, veil_sched_ct **found, struct veil_sched_ops *ops,
                       veil_err *err);
/* The same circuit placing k replicas in one evaluation (docs/SCHEDULING.md
 * "Replicas in one round"): the keys once, then ARGMIN_REPLICAS (k = 1: the
 * plain ARGMIN, exactly veil_sched_circuit). index[0..k), found[0..k) as
 * above (all NULL when there is no candidate at all). */
VEIL_WARN_UNUSED int veil_sched_circuit_replicas(const struct veil_sched_backend *be,
                                                 const struct veil_sched_circuit_in *in, size_t k,
                                                 veil_sched_ct **index, veil_sched_ct **found,
                                                 struct veil_sched_ops *ops, veil_err *err);
/* That circuit over the plaintext backend: k replicas of one job placed by
 * one round, out[0..k) (index 0 when not found). Equal to
 * veil_sched_replicas (test_node_schedule test_batch_round_equals_replicas). */
VEIL_WARN_UNUSED int veil_sched_round_replicas(const struct veil_sched_request *req,
                                               const struct veil_telemetry_q *nodes,
                                               const bool *excluded, size_t n_nodes, uint32_t k,
                                               struct veil_sched_result *out,
                                               struct veil_sched_ops *ops, veil_err *err);

/* Operation counts of one round of `req` over n candidate (not excluded)
 * nodes, by closed formula (documents the circuit's cost; the unit test
 * checks it against the counted evaluation on random requests). */
void veil_sched_ops_formula(const struct veil_sched_request *req, size_t n_candidates,
                            struct veil_sched_ops *ops);

/* ------------------------------------------------------------------------ */
/* Scheduler selection and digest agreement                                 */
/* ------------------------------------------------------------------------ */

#define VEIL_MAX_SCHEDULERS 3
#define VEIL_PEER_ID_MAX    64 /* bytes of a binary peer ID (multihash) */

struct veil_peer_id {
    uint8_t bytes[VEIL_PEER_ID_MAX];
    uint8_t len;
};

/* Rendezvous hashing: weight(p) = BLAKE2b-256("veil-sched-v1" || job id ||
 * u8 len || peer); the up-to-k peers with the highest weights (as big-endian
 * 256-bit numbers; ties by peer bytes) in descending order. Duplicate peers
 * count once. Returns how many were chosen. */
size_t veil_select_schedulers(const uint8_t job_id[32], const struct veil_peer_id *alive,
                              size_t n_alive, size_t k, size_t *chosen /* indices into alive */);

struct veil_published_digest {
    struct veil_peer_id scheduler;
    uint8_t digest[32];
};
/* The digest that a strict majority of the `n_schedulers` selected
 * schedulers published (each counted once: its first digest; digests from
 * peers not selected are ignored). Returns true and fills `agreed`, or false
 * ("no agreement"). */
bool veil_digest_majority(const struct veil_peer_id *schedulers, size_t n_schedulers,
                          const struct veil_published_digest *published, size_t n_published,
                          uint8_t agreed[32]);

/* ------------------------------------------------------------------------ */
/* Rounds: epochs, candidate nodes, output digests, the decryptor's guard   */
/* ------------------------------------------------------------------------ */

/* Telemetry epoch of a wall-clock time: floor(unix_ms / interval_ms). */
uint64_t veil_epoch_of(uint64_t unix_ms, uint64_t interval_ms);
/* Telemetry older than this many epochs before a round is not used. */
#define VEIL_TELEMETRY_MAX_AGE_EPOCHS 3

/* What a node knows about one member's latest telemetry (never values). */
struct veil_telemetry_seen {
    struct veil_peer_id node;
    uint64_t epoch; /* epoch of the newest telemetry received */
    bool alive;     /* SWIM says alive */
};
/* The nodes a round at `epoch` schedules over, in the order every scheduler
 * must use (node index i of the circuit): alive members whose telemetry is
 * from [epoch - max_age, epoch], sorted by peer ID bytes; a peer listed
 * twice counts once (its newest entry). Fills out_idx (indices into seen)
 * and returns the count. */
size_t veil_round_candidates(const struct veil_telemetry_seen *seen, size_t n, uint64_t epoch,
                             uint64_t max_age, size_t *out_idx);

/* Digest a scheduler publishes for its output ciphertexts (serialized
 * [index, found]): BLAKE2b-256("veil/sched-output/v1" || job id || replica
 * u32be || epoch u64be || u32be len || output). Binding job, replica and
 * epoch means no other ciphertext (telemetry included) can carry it. */
void veil_sched_output_digest(uint8_t out[32], const uint8_t job_id[32], uint32_t replica,
                              uint64_t epoch, const uint8_t *output, size_t output_len);

/* The designated decryptor's rule: decrypt `output` only when its digest is
 * the one a strict majority of the job's selected schedulers published.
 * Returns 0 (may decrypt) or -1 with VEIL_E_PERMISSION and the reason. */
int veil_decrypt_guard(const uint8_t job_id[32], uint32_t replica, uint64_t epoch,
                       const uint8_t *output, size_t output_len,
                       const struct veil_peer_id *schedulers, size_t n_schedulers,
                       const struct veil_published_digest *published, size_t n_published,
                       veil_err *err);

/* Rounds whose schedulers cannot agree. A round is one attempt; when no
 * strict majority of its schedulers can form any more (every scheduler
 * published and the digests split, or the missing votes could not make a
 * majority), or the attempt's deadline passed without one, the designated
 * decryptor starts the next attempt (fresh schedulers from the members alive
 * then, a later epoch), at most VEIL_ROUND_MAX_ATTEMPTS in all; after that
 * the replica fails visibly instead of waiting forever. */
#define VEIL_ROUND_MAX_ATTEMPTS 3
enum veil_round_verdict {
    VEIL_ROUND_WAIT = 0, /* no majority yet, but one can still form */
    VEIL_ROUND_AGREED,   /* a strict majority published the same digest */
    VEIL_ROUND_RETRY,    /* no majority possible (or deadline): next attempt */
    VEIL_ROUND_GIVE_UP,  /* as RETRY, but the attempts are spent */
};
const char *veil_round_verdict_name(enum veil_round_verdict v);
struct veil_round_tally {
    size_t voted;   /* selected schedulers that published (each once) */
    size_t largest; /* the most votes one digest has */
    size_t needed;  /* a strict majority of the selected schedulers */
    bool split;     /* no majority can form any more, whatever is still to come */
};
/* `attempt` counts from 0; `deadline_passed` says the attempt ran out of
 * time. `agreed` (may be NULL) gets the digest on VEIL_ROUND_AGREED; `tally`
 * (may be NULL) gets the counts (for the log and the status). */
enum veil_round_verdict veil_round_decide(const struct veil_peer_id *schedulers,
                                          size_t n_schedulers,
                                          const struct veil_published_digest *published,
                                          size_t n_published, bool deadline_passed,
                                          uint32_t attempt, uint32_t max_attempts,
                                          uint8_t agreed[32], struct veil_round_tally *tally);
/* The earliest wall-clock time >= now_ms at which a scheduler may start an
 * evaluation that uses epoch >= epoch_min (a round at time t evaluates epoch
 * epoch_of(t) - 1), kept `guard_ms` away from an epoch boundary so that
 * schedulers hearing of the round milliseconds apart pick the same epoch. */
uint64_t veil_round_start_ms(uint64_t now_ms, uint64_t interval_ms, uint64_t guard_ms,
                             uint64_t epoch_min);
/* A round's epoch kept within the telemetry nodes hold: when the newest
 * complete epoch (now_epoch) is more than max_lag epochs past `epoch`, it
 * moves to the latest multiple of max_lag not after now_epoch (less than
 * max_lag behind), so that nodes moving it within one step of that grid
 * pick the same epoch, whenever each heard of the round; otherwise `epoch`
 * itself. max_lag 0: never moved. */
uint64_t veil_round_epoch_held(uint64_t epoch, uint64_t now_epoch, uint64_t max_lag);
/* When a (re-)planned round may start and the epoch it evaluates (issue 18).
 * Attempt 0 takes both from heard_ms, the moment this node heard of the
 * round (its request known, before any wait for admission), not from when
 * it is planned: nodes admit a queued round at different moments, and
 * would otherwise evaluate different epochs (no digest majority, a retry);
 * an epoch more than max_lag epochs old by now moves forward onto a grid of
 * max_lag epochs (veil_round_epoch_held). A retry (attempt >= 1), or an unknown heard_ms
 * (0), starts from now_ms at an epoch >= epoch_min as before. not_before_ms
 * may lie before now_ms (a queued round starts at once). */
struct veil_round_plan {
    uint64_t not_before_ms;
    uint64_t epoch;
};
void veil_round_plan_times(uint64_t heard_ms, uint64_t now_ms, uint64_t interval_ms,
                           uint64_t guard_ms, uint32_t attempt, uint64_t epoch_min,
                           uint64_t max_lag, struct veil_round_plan *out);
/* Whether a scheduler that has not started a round's evaluation (planned
 * at epoch `mine`) adopts the epoch `theirs` another of the round's
 * schedulers published a digest for in the same attempt: an earlier epoch,
 * at or after the attempt's epoch_min, complete (<= newest) and `held` in
 * this node's telemetry history (issue 18; round.c "late nodes"). */
bool veil_round_epoch_adopt(uint64_t mine, uint64_t theirs, uint64_t epoch_min, uint64_t newest,
                            bool held);

/* ---- sharded rounds in veild (docs/SCHEDULING.md "Sharded rounds in veild")
 * A round over more candidates than the cluster's shard size is split into
 * `n_shards` shard rounds, each an ordinary round (its own rendezvous choice
 * of schedulers, digests, retries) keyed by a derived job id. */
#define VEIL_ROUND_MAX_SHARDS 32
/* How many shards a round over n_members alive members gets: 1 (not
 * sharded) when shard_size is 0 or n_members <= shard_size, else
 * ceil(n_members / shard_size), at most VEIL_ROUND_MAX_SHARDS. */
size_t veil_round_shard_count(size_t n_members, size_t shard_size);
/* The id of shard `shard` of `n_shards` of (job, replica) planned at `epoch`:
 * BLAKE2b-256("veil/shard-round/v1" || job id || replica u32be || epoch u64be
 * || n_shards u32be || shard u32be). A new plan (a retry's later epoch) gives
 * new shard rounds; nothing else can collide with a job's own id. */
void veil_round_shard_id(uint8_t out[32], const uint8_t job_id[32], uint32_t replica,
                         uint64_t epoch, uint32_t n_shards, uint32_t shard);
/* Shard `shard`'s candidates: [*first, *end) of the round's `total`
 * candidates in circuit order, consecutive and balanced (sizes differ by at
 * most one), so the merge of the shards' winners equals the unsharded round
 * (veil_sched_round_sharded holds for any split into consecutive ranges). */
void veil_round_shard_range(size_t total, size_t n_shards, size_t shard, size_t *first,
                            size_t *end);

/* The lifecycle of one replica's round as a node takes part in it (veild's
 * round table, src/node/daemon_rounds.c). One state at a time, moved only
 * through veil_round_transition_ok:
 *   new        known only from digests, outputs or a retry: no request yet
 *   ready      the job's request is known; planned at the next tick once
 *              the mesh has formed (a started node, a resumed round)
 *   planned    schedulers chosen, epoch fixed; waiting for its start time
 *              (a scheduler) or for the decision (everyone)
 *   evaluating this node evaluates it on the worker pool
 *   evaluated  this node's result is published (re-sent while undecided)
 *   decided    an assignment (a node, or unschedulable) is recorded
 *   abandoned  the decryptor gave up after VEIL_ROUND_MAX_ATTEMPTS
 * A retry moves planned/evaluating/evaluated back to planned; a replica
 * whose node was lost moves decided back to ready. Abandoned is final. */
enum veil_round_state {
    VEIL_ROUND_ST_NEW = 0,
    VEIL_ROUND_ST_READY,
    VEIL_ROUND_ST_PLANNED,
    VEIL_ROUND_ST_EVALUATING,
    VEIL_ROUND_ST_EVALUATED,
    VEIL_ROUND_ST_DECIDED,
    VEIL_ROUND_ST_ABANDONED,
    VEIL_ROUND_ST_COUNT
};
const char *veil_round_state_name(enum veil_round_state s);
bool veil_round_transition_ok(enum veil_round_state from, enum veil_round_state to);
/* Decided or abandoned: nothing more happens unless the replica is lost. */
bool veil_round_state_terminal(enum veil_round_state s);

/* ------------------------------------------------------------------------ */
/* Cluster-topic messages (versioned binary)                               */
/* ------------------------------------------------------------------------ */

#define VEIL_MSG_VERSION   1
#define VEIL_MSG_MAX_BYTES (64 * 1024)

enum veil_msg_type {
    VEIL_MSG_TELEMETRY = 1,
    VEIL_MSG_JOB_SUBMIT = 2,
    VEIL_MSG_SCHED_DIGEST = 3,
    VEIL_MSG_ASSIGNMENT = 4,
    VEIL_MSG_CONTAINER_STATUS = 5,
    VEIL_MSG_ROUND_RETRY = 6,
    VEIL_MSG_PARTIAL = 7,
    VEIL_MSG_NODE_KEY = 8, /* node-computed keys (src/node/daemon_keys.c) */
};

struct veil_msg_telemetry {
    uint64_t epoch;
    struct veil_peer_id node;
    const uint8_t *ciphertext; /* borrowed (decode: points into the input) */
    size_t ciphertext_len;
};

struct veil_msg_job_submit {
    uint8_t job_id[32];
    struct veil_peer_id submitter; /* the submitter's peer-ID *text* bytes (see veil_job_id) */
    uint8_t nonce[VEIL_JOB_NONCE_LEN];
    /* The submitter's outcome-budget slot (docs/THREAT_MODEL.md, H2): the
     * budget period (unix_s / period_s) and its sequence number in it; every
     * node charges it to the submitter, so a reused or excess slot is
     * refused everywhere. 0/0 in a cluster without a budget. */
    uint64_t budget_period;
    uint32_t budget_seq;
    const uint8_t *spec_json; /* canonical JSON, borrowed */
    size_t spec_json_len;
    const uint8_t *request_ciphertext; /* confidential jobs; may be empty */
    size_t request_ciphertext_len;
};

struct veil_msg_sched_digest {
    uint8_t job_id[32];
    uint32_t replica;
    uint64_t epoch;
    struct veil_peer_id scheduler;
    uint8_t output_digest[32];
    /* Not a digest: `scheduler` (its author) holds the round planned past
     * its deadline with no digest at all and asks the nodes that know its
     * outcome to say it again (issue 18, daemon_rounds.c "rounds nobody
     * can end"); epoch and output_digest are then zero and never counted. */
    bool ask;
};

struct veil_msg_assignment {
    uint8_t job_id[32];
    uint32_t replica;
    bool schedulable; /* false: "unschedulable", node is empty */
    struct veil_peer_id node;
    uint8_t output_digest[32];
    uint64_t epoch;
    uint8_t signature[64]; /* Ed25519 by the designated decryptor */
};

enum veil_container_state {
    VEIL_CONTAINER_RUNNING = 1,
    VEIL_CONTAINER_EXITED = 2,
    VEIL_CONTAINER_FAILED = 3,
};
struct veil_msg_container_status {
    uint8_t job_id[32];
    uint32_t replica;
    struct veil_peer_id node;
    uint8_t state; /* enum veil_container_state */
    int32_t exit_code;
    uint64_t time_ms;
    char container_id[65];
};

/* The designated decryptor starts attempt `attempt` (>= 1) of a round whose
 * schedulers did not agree, evaluating at an epoch >= epoch_min; `final`
 * says the attempts are spent and the replica failed. Only the decryptor's
 * (gossip-authenticated) messages are obeyed. */
enum veil_round_retry_reason {
    VEIL_RETRY_SPLIT = 1,    /* the digests split: no majority possible */
    VEIL_RETRY_DEADLINE = 2, /* no majority before the attempt's deadline */
};
struct veil_msg_round_retry {
    uint8_t job_id[32];
    uint32_t replica;
    uint32_t attempt; /* 1..VEIL_ROUND_MAX_ATTEMPTS */
    uint64_t epoch_min;
    uint8_t reason; /* enum veil_round_retry_reason */
    bool final;
};

int veil_msg_peek_type(const uint8_t *data, size_t len, enum veil_msg_type *type, veil_err *err);

int veil_msg_telemetry_encode(veil_buf *out, const struct veil_msg_telemetry *m, veil_err *err);
int veil_msg_telemetry_decode(struct veil_msg_telemetry *m, const uint8_t *data, size_t len,
                              veil_err *err);
int veil_msg_job_submit_encode(veil_buf *out, const struct veil_msg_job_submit *m, veil_err *err);
int veil_msg_job_submit_decode(struct veil_msg_job_submit *m, const uint8_t *data, size_t len,
                               veil_err *err);
int veil_msg_sched_digest_encode(veil_buf *out, const struct veil_msg_sched_digest *m,
                                 veil_err *err);
int veil_msg_sched_digest_decode(struct veil_msg_sched_digest *m, const uint8_t *data, size_t len,
                                 veil_err *err);
int veil_msg_assignment_encode(veil_buf *out, const struct veil_msg_assignment *m, veil_err *err);
int veil_msg_assignment_decode(struct veil_msg_assignment *m, const uint8_t *data, size_t len,
                               veil_err *err);
int veil_msg_container_status_encode(veil_buf *out, const struct veil_msg_container_status *m,
                                     veil_err *err);
int veil_msg_container_status_decode(struct veil_msg_container_status *m, const uint8_t *data,
                                     size_t len, veil_err *err);
int veil_msg_round_retry_encode(veil_buf *out, const struct veil_msg_round_retry *m, veil_err *err);
int veil_msg_round_retry_decode(struct veil_msg_round_retry *m, const uint8_t *data, size_t len,
                                veil_err *err);

/* A key holder's partial decryptions of one agreed scheduler output (a
 * threshold cluster, issue 11): for each ciphertext of the output (the
 * chosen index, then the found bit) the holder's signed partial decryption
 * of its squashed form (src/threshold wire form, opaque here). The output
 * digest names the output a majority of the round's schedulers vouched for;
 * the author is the gossip signer and must be the holder. */
#define VEIL_MSG_PARTIAL_CTS     2
#define VEIL_MSG_PARTIAL_MAX_LEN 16384 /* one partial's wire form */
struct veil_msg_partial {
    uint8_t job_id[32];
    uint32_t replica;
    uint64_t epoch;
    uint8_t output_digest[32];
    struct veil_peer_id holder;
    uint8_t holder_index;                       /* 1..15, as in the dealing */
    const uint8_t *parts[VEIL_MSG_PARTIAL_CTS]; /* borrowed on decode */
    size_t part_lens[VEIL_MSG_PARTIAL_CTS];
};
int veil_msg_partial_encode(veil_buf *out, const struct veil_msg_partial *m, veil_err *err);
int veil_msg_partial_decode(struct veil_msg_partial *m, const uint8_t *data, size_t len,
                            veil_err *err);

/* What a node checks on a job submission from the topic: the spec parses
 * and validates, is byte-for-byte in canonical form, and hashes (with the
 * submitter and nonce) to the announced job id. Fills *spec on success
 * (caller veil_job_spec_free()s). */
int veil_msg_job_submit_check(const struct veil_msg_job_submit *m, struct veil_job_spec *spec,
                              veil_err *err);
/* The submitter a JOB_SUBMIT names (peer-ID text) must be the gossip
 * message's signed author (author: its binary peer ID, as gossipsub's
 * StrictSign `from` carries it), in the canonical base58 form the API hashes
 * into the job id; otherwise a member could announce jobs in another's name
 * and spend that member's outcome budget (docs/THREAT_MODEL.md, H2). */
int veil_msg_job_submit_author_check(const struct veil_msg_job_submit *m, const uint8_t *author,
                                     size_t author_len, veil_err *err) VEIL_WARN_UNUSED;

/* The bytes an assignment signature covers: "veil/assignment/v1" || 0x00 ||
 * cluster id (u64be) || the assignment body (the encoding without the
 * signature). */
int veil_assignment_signing_bytes(veil_buf *out, uint64_t cluster_id,
                                  const struct veil_msg_assignment *m, veil_err *err);
int veil_assignment_sign(struct veil_msg_assignment *m, uint64_t cluster_id,
                         const uint8_t secret_key[64] /* libsodium Ed25519 */, veil_err *err);
int veil_assignment_verify(const struct veil_msg_assignment *m, uint64_t cluster_id,
                           const uint8_t public_key[32], veil_err *err);

/* ------------------------------------------------------------------------ */
/* Commitments and Merkle batches                                           */
/* ------------------------------------------------------------------------ */

/* A 256-bit hash over a list of byte strings (concatenated). Keccak-256 in
 * production (src/chain), BLAKE2b-256 in the unit tests. */
struct veil_hash_iov {
    const void *data;
    size_t len;
};
typedef void (*veil_hash256_fn)(uint8_t out[32], const struct veil_hash_iov *parts, size_t n,
                                void *ctx);
struct veil_hasher {
    veil_hash256_fn fn;
    void *ctx;
};
/* BLAKE2b-256 (libsodium) in veil_hasher form. */
void veil_hash256_blake2b(uint8_t out[32], const struct veil_hash_iov *parts, size_t n, void *ctx);

/* The 32-byte key a peer ID is stored under on chain (VeilRegistry
 * _peerKey): a bare 32-byte key as is; an identity multihash of an Ed25519
 * key (00 24 08 01 12 20 || key) reduced to the key; anything else hashed. */
void veil_peer_key(uint8_t out[32], const struct veil_hasher *h, const struct veil_peer_id *peer);

/* commitment = H(cluster u64be || job id || replica u32be || node key (32
 * zero bytes when unschedulable) || output digest || epoch u64be): the
 * `assignmentHash` of VeilRegistry. */
void veil_assignment_commitment(uint8_t out[32], const struct veil_hasher *h, uint64_t cluster_id,
                                const uint8_t job_id[32], uint32_t replica,
                                const struct veil_peer_id *node /* NULL = unschedulable */,
                                const uint8_t output_digest[32], uint64_t epoch);

/* Merkle batch exactly as VeilRegistry.verifyInclusion checks it:
 *   leaf   = H(0x00 || cluster u64be || job id || commitment)
 *   parent = H(0x01 || min(a,b) || max(a,b))  (sorted pair, bytewise order)
 *   an odd level promotes its last node unchanged. */
void veil_merkle_leaf(uint8_t out[32], const struct veil_hasher *h, uint64_t cluster_id,
                      const uint8_t job_id[32], const uint8_t commitment[32]);
void veil_merkle_parent(uint8_t out[32], const struct veil_hasher *h, const uint8_t a[32],
                        const uint8_t b[32]);
/* Root of n leaves (n >= 1). */
int veil_merkle_root(uint8_t root[32], const struct veil_hasher *h, const uint8_t (*leaves)[32],
                     size_t n, veil_err *err);
/* Sibling path of leaf `index` from the leaf up; *n_proof <= 64. */
#define VEIL_MERKLE_MAX_DEPTH 64
int veil_merkle_proof(uint8_t (*proof)[32], size_t *n_proof, const struct veil_hasher *h,
                      const uint8_t (*leaves)[32], size_t n, size_t index, veil_err *err);
bool veil_merkle_verify(const struct veil_hasher *h, const uint8_t root[32], const uint8_t leaf[32],
                        const uint8_t (*proof)[32], size_t n_proof);

/* One epoch's batch: the (job, commitment) pairs are sorted (job id, then
 * commitment, bytewise) so that every node builds the same tree; returns the
 * root and, for each input item (in the caller's order), its inclusion proof
 * as a JSON array of "0x<64 hex>" strings (caller frees each with free()). */
struct veil_anchor_item {
    uint8_t job_id[32];
    uint8_t commitment[32];
};
int veil_anchor_batch_build(const struct veil_hasher *h, uint64_t cluster_id,
                            const struct veil_anchor_item *items, size_t n, uint8_t root[32],
                            char **proof_json, veil_err *err);
/* Checks an inclusion proof in that JSON form against a root. */
int veil_anchor_verify_json(const struct veil_hasher *h, const uint8_t root[32],
                            uint64_t cluster_id, const uint8_t job_id[32],
                            const uint8_t commitment[32], const char *proof_json, bool *ok,
                            veil_err *err);
/* The batch epoch an assignment of telemetry epoch `epoch` belongs to:
 * floor(epoch * interval_ms / batch_ms) (the identity when either is 0).
 * A batch epoch is a window of batch_ms of wall-clock time; both lengths are
 * cluster-wide settings, so every node groups commitments the same way. */
uint64_t veil_anchor_batch_epoch(uint64_t epoch, uint64_t interval_ms, uint64_t batch_ms);

/* ------------------------------------------------------------------------ */
/* State store (SQLite, WAL)                                                */
/* ------------------------------------------------------------------------ */

enum veil_replica_state {
    VEIL_REPLICA_PENDING = 0,
    VEIL_REPLICA_SCHEDULING,
    VEIL_REPLICA_AWAITING_DECRYPTION,
    VEIL_REPLICA_ASSIGNED,
    VEIL_REPLICA_RUNNING,
    VEIL_REPLICA_EXITED,
    VEIL_REPLICA_FAILED,
    VEIL_REPLICA_RESCHEDULING,
    VEIL_REPLICA_UNSCHEDULABLE,
    VEIL_REPLICA_STATE_COUNT
};
const char *veil_replica_state_name(enum veil_replica_state s);
/* True for the name of a state whose placement is still to come (pending,
 * scheduling, awaiting_decryption, rescheduling: before a round's outcome
 * or a reschedule's); false for any other name, NULL included. */
bool veil_replica_state_name_undecided(const char *name);
/* True when the state machine allows from -> to. */
bool veil_replica_transition_ok(enum veil_replica_state from, enum veil_replica_state to);

#define VEIL_STORE_SCHEMA_VERSION 7

typedef struct veil_store veil_store;

/* Opens (creating and migrating) <data_dir>/state.db in WAL mode. */
VEIL_WARN_UNUSED int veil_store_open(veil_store **out, const char *data_dir, veil_err *err);
/* Opens a database file by path (tests). */
VEIL_WARN_UNUSED int veil_store_open_path(veil_store **out, const char *path, veil_err *err);
/* A second connection to the store `s` opened (its own handle, for another
 * thread: SQLite's WAL lets it read and write beside the first). */
VEIL_WARN_UNUSED int veil_store_open_again(const veil_store *s, veil_store **out, veil_err *err);
void veil_store_close(veil_store *s);
VEIL_WARN_UNUSED int veil_store_schema_version(veil_store *s, int *version, veil_err *err);

struct veil_store_node {
    char peer_id[96]; /* text (base58btc) */
    char organization[96];
    bool alive;
    uint64_t last_epoch;
};
VEIL_WARN_UNUSED int veil_store_node_upsert(veil_store *s, const struct veil_store_node *n,
                                            veil_err *err);

struct veil_store_job {
    char id[65]; /* hex */
    char name[VEIL_JOB_NAME_MAX + 1];
    char *spec_json; /* owned by the store call result; free with free() */
    char submitter[96];
    char nonce[2 * VEIL_JOB_NONCE_LEN + 1]; /* hex; with the submitter it re-derives the id */
    uint32_t replicas;
    int64_t created_ms;
    uint8_t *request_ct; /* a confidential job's request ciphertext (else NULL) */
    size_t request_ct_len;
};
/* Inserts the job and its `replicas` pending replicas in one transaction.
 * Returns 0, or -1 with VEIL_E_EXISTS when the job id is already there
 * (nothing is changed: submitting twice never duplicates). */
VEIL_WARN_UNUSED int veil_store_job_insert(veil_store *s, const char *id_hex, const char *name,
                                           const char *spec_json, const char *submitter,
                                           const char *nonce_hex, uint32_t replicas, veil_err *err);
/* The same with a confidential job's request ciphertext, in the same
 * transaction (a job is never stored without the request it needs). */
VEIL_WARN_UNUSED int veil_store_job_insert_ct(veil_store *s, const char *id_hex, const char *name,
                                              const char *spec_json, const char *submitter,
                                              const char *nonce_hex, uint32_t replicas,
                                              const uint8_t *request_ct, size_t request_ct_len,
                                              veil_err *err);
VEIL_WARN_UNUSED int veil_store_job_get(veil_store *s, const char *id_hex,
                                        struct veil_store_job *job, veil_err *err);
void veil_store_job_free(struct veil_store_job *job);

/* Moves a replica; refuses transitions the state machine forbids
 * (VEIL_E_STATE). `node` (may be NULL) records the node it is bound to. */
VEIL_WARN_UNUSED int veil_store_replica_set_state(veil_store *s, const char *job_hex,
                                                  uint32_t replica, enum veil_replica_state to,
                                                  const char *node, veil_err *err);
VEIL_WARN_UNUSED int veil_store_replica_get_state(veil_store *s, const char *job_hex,
                                                  uint32_t replica, enum veil_replica_state *state,
                                                  veil_err *err);
/* The node a replica is bound to ("" when none). */
VEIL_WARN_UNUSED int veil_store_replica_get_node(veil_store *s, const char *job_hex,
                                                 uint32_t replica, char *node, size_t cap,
                                                 veil_err *err);
/* Why the replica is where it is, shown by `veil job status` (a round
 * retried after its schedulers disagreed, or abandoned); "" clears it. */
VEIL_WARN_UNUSED int veil_store_replica_set_note(veil_store *s, const char *job_hex,
                                                 uint32_t replica, const char *note, veil_err *err);

struct veil_store_assignment {
    char job_id[65];
    uint32_t replica;
    char node[96]; /* "" = unschedulable */
    char output_digest[65];
    uint64_t epoch;
    char signature[129];
    char commitment[65];
};
/* Records an assignment and moves the replica to assigned (or
 * unschedulable) in one transaction; idempotent for the same (job, replica,
 * epoch). */
VEIL_WARN_UNUSED int
veil_store_assignment_record(veil_store *s, const struct veil_store_assignment *a, veil_err *err);
/* Records an assignment row alone (idempotent likewise), the replica's
 * state and node unchanged: a later assignment of a replica that already
 * runs (or ran to its end) where it names, kept as its current one.
 * *added (may be NULL) says whether the row is new. */
VEIL_WARN_UNUSED int veil_store_assignment_add(veil_store *s, const struct veil_store_assignment *a,
                                               bool *added, veil_err *err);
/* Records a later assignment of a replica that ran to its end (issue 18,
 * session 9): the row, and the replica bound to the node it names, its state
 * kept exited, in one transaction; idempotent likewise. A replica that is
 * not exited, or an unschedulable assignment, is refused (VEIL_E_STATE,
 * VEIL_E_INVALID) and nothing changes. */
VEIL_WARN_UNUSED int veil_store_assignment_record_ended(veil_store *s,
                                                        const struct veil_store_assignment *a,
                                                        veil_err *err);
/* The epoch of the newest assignment recorded for (job, replica); *found is
 * false when there is none (issue 18: a decided round takes an assignment of
 * a later epoch, never an older one delivered again). */
VEIL_WARN_UNUSED int veil_store_assignment_latest_epoch(veil_store *s, const char *job_hex,
                                                        uint32_t replica, uint64_t *epoch,
                                                        bool *found, veil_err *err);

/* A node was declared dead (SWIM): marks it not alive and, in one
 * transaction, moves every replica bound to it that is assigned or running
 * to rescheduling, or to pending for a job held at intake (a deferral row,
 * not taken in: placed again only after this node's own check, as
 * veil_store_replicas_hold). *moved (may be NULL) gets how many. */
VEIL_WARN_UNUSED int veil_store_node_lost(veil_store *s, const char *peer_id, size_t *moved,
                                          veil_err *err);

/* Calls fn for every replica in `state` (oldest first): what a restarted
 * veild resumes (pending, scheduling, awaiting_decryption, rescheduling...).
 * A non-zero return from fn stops the walk. */
typedef int (*veil_store_replica_fn)(void *ctx, const char *job_hex, uint32_t replica,
                                     const char *node /* NULL when unbound */);
VEIL_WARN_UNUSED int veil_store_each_replica(veil_store *s, enum veil_replica_state state,
                                             veil_store_replica_fn fn, void *ctx, veil_err *err);

/* Creates the container record of (job, replica) unless one exists; *created
 * tells which. The UNIQUE (job, replica) key is what keeps a restarted node
 * from starting a replica twice. */
VEIL_WARN_UNUSED int veil_store_container_ensure(veil_store *s, const char *job_hex,
                                                 uint32_t replica, const char *container_id,
                                                 bool *created, veil_err *err);
VEIL_WARN_UNUSED int veil_store_container_set_state(veil_store *s, const char *container_id,
                                                    const char *state, int exit_code,
                                                    veil_err *err);
/* A replica chosen again for this node after its copy here ended (stopped
 * when the replica moved away, failed or refused), or whose start failed and
 * is tried again (`start_failed`): its container record goes back to
 * `created` in one statement, so exactly one caller starts it (*rearmed). A
 * record that is created or running is left alone. */
VEIL_WARN_UNUSED int veil_store_container_rearm(veil_store *s, const char *job_hex,
                                                uint32_t replica, bool *rearmed, veil_err *err);
/* At a start, before any container is started: every record still
 * `created` belongs to a start the last run never finished (killed while it
 * pulled or ran the image); each becomes `start_failed`, so that the
 * executor starts it again (*n: how many). */
VEIL_WARN_UNUSED int veil_store_container_interrupted(veil_store *s, size_t *n, veil_err *err);

struct veil_store_anchor {
    char commitment[65];
    uint64_t epoch;
    char root[65];
    char tx_hash[67];
    char *proof_json; /* JSON array of hex hashes; may be NULL */
};
VEIL_WARN_UNUSED int veil_store_anchor_record(veil_store *s, const struct veil_store_anchor *a,
                                              veil_err *err);

/* Outcome-budget slots (docs/THREAT_MODEL.md, H2): per job, the slot its
 * submitter claimed and this node's verdict on it (the caller's code: the
 * daemon stores enum veil_privacy_verdict, or -1 for its own job's slot
 * reserved before the announcement). The rows accepted for a member are
 * that member's ledger, so charges survive restarts. */
struct veil_store_slot {
    char job_id[65];
    uint8_t member[32]; /* the submitter's key as on chain (veil_peer_key) */
    uint64_t period;
    uint32_t seq;
    int verdict;
};
/* Inserts, or replaces the row of the same job. */
VEIL_WARN_UNUSED int veil_store_slot_put(veil_store *s, const struct veil_store_slot *slot,
                                         veil_err *err);
/* VEIL_E_NOTFOUND when the job has no slot. */
VEIL_WARN_UNUSED int veil_store_slot_get(veil_store *s, const char *job_hex,
                                         struct veil_store_slot *out, veil_err *err);
/* A member's slots of period >= period_min with the given verdict, by
 * period and seq (*out malloc'd, caller frees; NULL when none). */
VEIL_WARN_UNUSED int veil_store_slots_of(veil_store *s, const uint8_t member[32],
                                         uint64_t period_min, int verdict,
                                         struct veil_store_slot **out, size_t *n, veil_err *err);
/* Drops the slots recorded before older_than_ms (unix ms). */
VEIL_WARN_UNUSED int veil_store_slots_prune(veil_store *s, int64_t older_than_ms, veil_err *err);

/* Jobs held at intake while the cluster's policy cannot be read
 * (src/node/daemon_intake.c, issue 18), kept so that a restarted node still
 * holds them and checks them itself before any round: the announcement as
 * received, its gossip author (from_len 0: this node's own job), when the
 * job was first deferred (unix ms: the longest wait counts from there,
 * across restarts) and how many of its checks failed since. */
struct veil_store_deferral {
    char job_id[65];
    uint8_t *msg; /* 1..VEIL_MSG_MAX_BYTES bytes; a listing's, freed with the list */
    size_t msg_len;
    uint8_t from[VEIL_PEER_ID_MAX];
    size_t from_len;
    uint64_t first_ms;
    uint32_t attempts;
};
/* Inserts the job's row, or updates its attempts (the first deferral's
 * time, announcement and author are kept). */
VEIL_WARN_UNUSED int veil_store_deferral_put(veil_store *s, const struct veil_store_deferral *d,
                                             veil_err *err);
/* Removes the job's row (taken in or refused); none is no error. */
VEIL_WARN_UNUSED int veil_store_deferral_drop(veil_store *s, const char *job_hex, veil_err *err);
/* At most `max` rows, first deferred first (*out malloc'd, NULL when none;
 * free with veil_store_deferrals_free). A row whose job id or lengths are
 * out of bounds can never be held: it is removed and counted in *corrupt
 * (at most `max` per call), so it is reported once. *rest gets how many
 * rows stay stored unread (past the bound). */
VEIL_WARN_UNUSED int veil_store_deferrals_list(veil_store *s, size_t max,
                                               struct veil_store_deferral **out, size_t *n,
                                               size_t *corrupt, size_t *rest, veil_err *err);
void veil_store_deferrals_free(struct veil_store_deferral *v, size_t n);

/* This node's intake check passed the job (schema 6): recorded once (the
 * first time is kept), so that a re-announcement or a restart takes the job
 * in without checking it again. VEIL_E_NOTFOUND when the job is not stored. */
VEIL_WARN_UNUSED int veil_store_job_set_taken_in(veil_store *s, const char *job_hex, veil_err *err);
/* *taken_in: whether the job passed this node's intake check (false for a
 * job the store does not hold). */
VEIL_WARN_UNUSED int veil_store_job_taken_in(veil_store *s, const char *job_hex, bool *taken_in,
                                             veil_err *err);
/* A job held at intake (a deferral row, not taken in): every replica that
 * moved on while it waits - scheduling, awaiting_decryption, rescheduling
 * (its node died after an assignment this node recorded) - back to pending
 * in one transaction, the one way to pending from those states: no round of
 * it resumes, and once its check ran the intake plans or refuses every one
 * of them like a new job's. *back gets how many. VEIL_E_STATE for a job not
 * held or taken in, VEIL_E_NOTFOUND for one not stored. */
VEIL_WARN_UNUSED int veil_store_replicas_hold(veil_store *s, const char *job_hex, uint32_t *back,
                                              veil_err *err);

/* The chain's view a node starts from while its chain RPC is unreachable
 * (issue 18, schema 7): the last successful read of the cluster's policy
 * (getClusterPolicy's return data, decoded again with the chain's strict
 * decoder) and of the registry's active nodes (address and Ed25519 key),
 * each with the block it was read at. Public data only: nothing secret. */
#define VEIL_STORE_CHAIN_MEMBERS_MAX 65536 /* the member cap (issue 20) */
#define VEIL_STORE_POLICY_MAX_BYTES  (1u << 20)
struct veil_store_chain_member {
    uint8_t address[20];
    uint8_t ed25519[32];
};
/* Replaces the stored policy of the cluster (one row per cluster). */
VEIL_WARN_UNUSED int veil_store_chain_policy_put(veil_store *s, uint64_t cluster_id,
                                                 uint64_t block, const uint8_t *abi, size_t len,
                                                 veil_err *err);
/* The stored policy: *found false when none is stored for the cluster;
 * otherwise *abi (malloc'd, caller frees) of *len bytes and its block. A
 * row out of bounds is VEIL_E_RANGE. */
VEIL_WARN_UNUSED int veil_store_chain_policy_get(veil_store *s, uint64_t cluster_id, uint8_t **abi,
                                                 size_t *len, uint64_t *block, bool *found,
                                                 veil_err *err);
/* Replaces the whole stored member set of the cluster (one transaction). */
VEIL_WARN_UNUSED int veil_store_chain_members_put(veil_store *s, uint64_t cluster_id,
                                                  uint64_t block,
                                                  const struct veil_store_chain_member *v, size_t n,
                                                  veil_err *err);
/* One member changed at `block` (a registry event): key set = active
 * (added or replaced), key NULL = no longer active (removed). */
VEIL_WARN_UNUSED int veil_store_chain_member_set(veil_store *s, uint64_t cluster_id,
                                                 uint64_t block, const uint8_t address[20],
                                                 const uint8_t *ed25519, veil_err *err);
/* The stored member set: *found false when none was ever stored for the
 * cluster; otherwise *v (malloc'd, caller frees; NULL when empty), *n and
 * the block of the last change. A malformed row is VEIL_E_RANGE. */
VEIL_WARN_UNUSED int veil_store_chain_members_get(veil_store *s, uint64_t cluster_id,
                                                  struct veil_store_chain_member **v, size_t *n,
                                                  uint64_t *block, bool *found, veil_err *err);

/* Counters for /metrics. */
VEIL_WARN_UNUSED int veil_store_count_replicas_by_state(veil_store *s,
                                                        uint64_t counts[VEIL_REPLICA_STATE_COUNT],
                                                        veil_err *err);
VEIL_WARN_UNUSED int veil_store_count(veil_store *s, const char *table, uint64_t *count,
                                      veil_err *err);

/* JSON listings used by the HTTP API (jansson json_t*, returned as void* so
 * that this header does not need jansson). Caller json_decref()s. */
VEIL_WARN_UNUSED void *veil_store_list_json(veil_store *s,
                                            const char *what /* nodes|jobs|assignments|anchors */,
                                            veil_err *err);
VEIL_WARN_UNUSED void *veil_store_job_json(veil_store *s, const char *id_hex, veil_err *err);

/* ------------------------------------------------------------------------ */
/* Local HTTP JSON API                                                      */
/* ------------------------------------------------------------------------ */

typedef struct veil_api veil_api;

/* The dashboard's chain views (veil_dashboard_chain_view, dashboard_chain.c):
 * `what` is "policy" (the cluster's policy from chain), "verify" (replica
 * `replica` of job `job_hex`: its anchor's inclusion proof checked by the
 * contract), "dispute_count", "dispute" (`replica` is the dispute id) or
 * "container" (replica `replica` of job `job_hex` as this node runs it).
 * Called only from the dashboard cache's refresher thread
 * (dashboard_cache.c), never on the API's thread. Returns the HTTP status;
 * *reply is a jansson json_t*. */
typedef unsigned (*veil_api_dash_chain_fn)(const veil_config *node_cfg, veil_store *store,
                                           const char *what, const char *job_hex, int replica,
                                           void **reply);
unsigned veil_dashboard_chain_view(const veil_config *node_cfg, veil_store *store, const char *what,
                                   const char *job_hex, int replica, void **reply);

struct veil_api_config {
    const char *listen;     /* "127.0.0.1:PORT" (port 0 = any free port); loopback only */
    const char *token_file; /* created 0600 with a fresh token when missing */
    const char *submitter;  /* peer ID text recorded as the submitter of POSTed jobs */
    /* The dashboard (optional): the node's config (chain settings) and its
     * chain views; without them those endpoints answer 503. */
    const veil_config *node_cfg;
    veil_api_dash_chain_fn dash_chain;
};

int veil_api_start(veil_api **out, const struct veil_api_config *cfg, veil_store *store,
                   veil_err *err);
uint16_t veil_api_port(const veil_api *api);
/* veild calls this each time it publishes a telemetry epoch (/metrics). */
void veil_api_note_telemetry_published(veil_api *api);
void veil_api_stop(veil_api *api);
/* Reads (or creates, 0600) the bearer token file; token is hex text. */
int veil_api_token_load_or_create(const char *path, char token[65], veil_err *err);

/* The node's VeilNet view (api_overlay.c): <data_dir>/overlay/status.json as
 * veild's overlay role wrote it (address, peers, handshake counters), with
 * only the replicas node `self` (peer-ID text) runs: the role knows every
 * placement, a member may see only its own (H4, docs/THREAT_MODEL.md).
 * VEIL_E_NOTFOUND without an overlay. Returns a new reference (a json_t *;
 * void here to keep jansson out). */
void *veil_api_overlay_status(const veil_config *cfg, const char *self, veil_err *err);

/* The token file path: api.token_file, else <data_dir>/api.token. */
int veil_api_token_path(const veil_config *cfg, char *out, size_t cap, veil_err *err);

/* ------------------------------------------------------------------------ */
/* Local HTTP API client (the CLI side)                                     */
/* ------------------------------------------------------------------------ */

struct veil_api_client {
    char base_url[64];
    char token[65];
};

/* From api.listen and the token file of `cfg`. */
int veil_api_client_init(struct veil_api_client *c, const veil_config *cfg, veil_err *err);
/* One request; on a 2xx answer *json_out (may be NULL) receives the parsed
 * body (jansson json_t*, caller json_decref()s). Other statuses fail with
 * the server's error message; *status (may be NULL) gets the HTTP status. */
int veil_api_client_call(const struct veil_api_client *c, const char *method, const char *path,
                         const void *body, size_t body_len, long *status, void **json_out,
                         veil_err *err);
void veil_api_client_clear(struct veil_api_client *c);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_NODE_H */
