// SPDX-License-Identifier: Apache-2.0
/*
 * schedule.c - the scheduling policy in plaintext: the oracle the encrypted
 * circuit must match and its exact specification, op by op.
 *
 * Every value below is either encrypted (node telemetry; the request of a
 * confidential job; anything computed from those) or public (constants; the
 * request of an ordinary job). Each op is one operation of the FHE library
 * (veil/fhe.h) when an encrypted operand is involved, and plain arithmetic
 * otherwise (folded: it costs nothing); the translation (daemon_sched.c):
 *   LT, NE, AND            -> veil_fhe_binop(VEIL_FHE_LT | NE | AND)
 *   TRUNCATE               -> veil_fhe_truncate   (low blocks, no PBS)
 *   LT_SCALAR, NE_SCALAR   -> veil_fhe_scalar(VEIL_FHE_LT_SCALAR | NE_SCALAR)
 *   NOT                    -> veil_fhe_not
 *   SUM_BITS, SUM_MASKED   -> veil_fhe_sum_bits(_masked) (fields summed, no wrap)
 *   FLAG_TOP               -> veil_fhe_flag_top   (flags into the top block)
 *   ARGMIN                 -> veil_fhe_argmin_labeled (index by label + found)
 *   ARGMIN_REPLICAS        -> veil_fhe_argmin_replicas (k of them, one round)
 *   EQ_SCALAR              -> veil_fhe_scalar(VEIL_FHE_EQ_SCALAR)
 *   SUM_WEIGHTED           -> veil_fhe_sum_weighted (public weights, one propagation)
 *   CONST                  -> veil_fhe_trivial    (no fresh randomness, so the
 *                             redundant schedulers' outputs stay identical)
 *
 * The circuit runs over a backend (struct veil_sched_backend): the plaintext
 * one here is the oracle (veil_sched_round, ops by veil_sched_plain_eval);
 * the FHE wiring implements the same eval callback with the FHE library and
 * then evaluates exactly this code on ciphertexts.
 *
 * One round over the candidate nodes i (every value 16-bit, bools 1-bit;
 * R = the requested resources: req_r != 0 when public, all four when
 * confidential; T_r = 4 for cpu, memory, disk and 0 for gpus (free gpus are
 * at most 4095), B = VEIL_SCHED_TERM_BITS = 12):
 *   per round: req8_l = TRUNCATE(req_l, 8) for l in region, zone (labels are
 *             8-bit codes); confidential only: want_r = NE_SCALAR(req_r, 0)
 *             (scored policies), con_l = NE_SCALAR(req8_l, 0)
 *   per node: fails  = LT_SCALAR(free_ir, req_r)       r in R  (public)
 *                      LT(free_ir, req_r)              all r   (confidential;
 *                                                      req_r = 0 never fails)
 *                    + NE_SCALAR(TRUNCATE(label_il, 8), req8_l)
 *                                                      l with req8_l != 0 (public)
 *                      AND(con_l, NE(TRUNCATE(label_il, 8), req8_l))
 *                                                      both l  (confidential)
 *             term_r = SUM_BITS(free_ir (binpack) | NOT(free_ir) (spread);
 *                               shift T_r, bits B)  (one field: no PBS)
 *             score  = SUM_BITS(term_r for r in R; shift 0, bits B)   (public;
 *                               one requested resource: its term)
 *                      SUM_MASKED(term_r masked by want_r, all r; 0, B) (confidential)
 *                      SUM_BITS(priority_i; shift 0, bits 8)          (priority)
 *                      SUM_BITS(latency_i,s; shift 0, bits 12)  (lowest-latency to
 *                               landmark s = req.latency_to, a public slot: the
 *                               word is chosen in the clear, the field is a
 *                               block move, no PBS; latency < 2^12)
 *                      weighted (W = latency_weight, L = load_weight, public;
 *                               lat = latency_i,s, s = req.latency_to):
 *                      SUM_WEIGHTED(latq, lq_r for r in R, u; W, L.., 2^13; bits 8)
 *                               latq = SUM_BITS(lat; shift 4, bits 8)
 *                               lq_r (if L) for cpu, memory, disk:
 *                                      SUM_BITS(NOT(free_ir); T_r + 4, 8)     (public)
 *                                      SUM_MASKED(NOT(free_ir), want_r; T_r + 4, 8)
 *                                                                   (confidential)
 *                               lq_g (if L) for gpus, 255 - min(free_ig, 255):
 *                                      SUM_MASKED(NOT(free_ig), keep; 0, 8) with
 *                                      keep = LT_SCALAR(free_ig, 256)          (public)
 *                                             AND(want_g, LT_SCALAR(free_ig, 256))
 *                                                                   (confidential)
 *                                      (whole GPUs: +5 PBS per node public, +2
 *                                      confidential; issue 20, session 9)
 *                               u    = EQ_SCALAR(lat, 4095)  (unmeasured: +2^13)
 *                               cost <= 16 x 255 + 4 x 4 x 255 = 8160 < 2^13, so
 *                               every measured node's key is below every
 *                               unmeasured one's and the score is < 2^14
 *             key    = FLAG_TOP(score, fails)   (just score when no fail flag)
 *   per round: (index, found) = ARGMIN(keys; labels = node indices i)
 *              or, k replicas of one job in one round (veil_sched_circuit_replicas),
 *              (index_r, found_r)_{r<k} = ARGMIN_REPLICAS(keys; labels; k)
 * so key = score + 2^14 min(#failed, 3): a feasible node's key is its score
 * (< 2^14: at most 4 x 4095, or 255) and an infeasible node's is >= 2^14; the
 * blocks a priority key never uses (bits 8..13) are trivially zero in every
 * key, so the argmin neither compares nor selects them; argmin takes
 * the smallest key with ties to the lowest index, found = (min < 2^14). When
 * every key is public (a public request with nothing requested and no
 * constraint under binpack/spread) the first candidate wins and (index, found)
 * are CONSTs. Op counts: veil_sched_ops_formula. In PBS with the FHE library
 * (2-bit blocks): per node 1-5 per requested resource (a public request's
 * digits that are 0 cost nothing), 3 per constraint, 12 for summing two
 * fields (~23 for three or four), 0-2 for the flags; the argmin ~19 per
 * candidate (labels packed two bits per block): 605 PBS for 16 nodes and two
 * resources (645 before issue 20). Confidential: ~105 per node (4 LT 44, 2
 * labels 12, masked sum 47, flags 2). Labels (node indices) are 16-bit above
 * 256 candidates, up to VEIL_SCHED_MAX_NODES. Sharded rounds (the same
 * placement from shards merged by their encrypted winners): veil_sched_key and
 * veil_sched_round_sharded below; k replicas in one sharded round (each
 * shard's top k, the merge of the k-lists): veil_sched_round_sharded_replicas;
 * docs/SCHEDULING.md.
 * Node-computed keys (public requests, docs/SCHEDULING.md "PBS per node"):
 * each candidate computes veil_sched_node_key on its own telemetry in the
 * clear and encrypts it; the round is then ARGMIN alone over those keys
 * (~16 PBS per node instead of ~38), the same placement by construction.
 * A node key is veil_sched_key when feasible (< 2^14; every score is at
 * most 16,380 < 2^14 - 1) and 0xFFFF when not: found and the feasible
 * winner are the same (the oracle's index of an unfound round is 0,
 * whichever infeasible node is least bad), and the low 14 bits alone order
 * the keys, so veil_fhe_argmin_node_keys compares seven blocks, not eight.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/node.h>

#define MASK16 0xFFFFu

/* ---- values: public, or a reference-counted backend handle -------------- */

struct ref {
    veil_sched_ct *h;
    unsigned rc;
    bool input; /* borrowed from the caller: never released */
};

struct val {
    bool enc;
    uint32_t x; /* the value when public */
    struct ref *r;
};

struct ctx {
    const struct veil_sched_backend *be;
    struct veil_sched_ops *ops;
    veil_err *err;
    bool failed;
    struct val zero; /* CONST 0, once per round when needed */
};

static struct val pub(uint32_t x)
{
    return (struct val){.x = x};
}

static struct val wrap(struct ctx *c, veil_sched_ct *h, bool input)
{
    struct ref *r = malloc(sizeof *r);
    if (!r) {
        if (!input)
            c->be->release(c->be->ctx, h);
        if (!c->failed)
            veil_err_set(c->err, VEIL_E_NOMEM, "out of memory");
        c->failed = true;
        return pub(0);
    }
    *r = (struct ref){.h = h, .rc = 1, .input = input};
    return (struct val){.enc = true, .r = r};
}

static struct val take(struct val v)
{
    if (v.enc)
        v.r->rc++;
    return v;
}

static void drop(struct ctx *c, struct val *v)
{
    if (v->enc && --v->r->rc == 0) {
        if (!v->r->input)
            c->be->release(c->be->ctx, v->r->h);
        free(v->r);
    }
    *v = pub(0);
}

static void count(struct ctx *c, const struct veil_sched_call *call)
{
    struct veil_sched_ops *o = c->ops;
    if (!o)
        return;
    switch (call->op) {
    case VEIL_SCHED_OP_LT:
        o->lt++;
        break;
    case VEIL_SCHED_OP_NE:
        o->ne++;
        break;
    case VEIL_SCHED_OP_LT_SCALAR:
        o->lt_scalar++;
        break;
    case VEIL_SCHED_OP_NE_SCALAR:
        o->ne_scalar++;
        break;
    case VEIL_SCHED_OP_AND:
        o->and_++;
        break;
    case VEIL_SCHED_OP_NOT:
        o->not_++;
        break;
    case VEIL_SCHED_OP_TRUNCATE:
        o->truncate++;
        break;
    case VEIL_SCHED_OP_SUM_BITS:
        o->sum_bits++;
        o->sum_terms += call->n_args;
        break;
    case VEIL_SCHED_OP_SUM_MASKED:
        o->sum_masked++;
        o->sum_terms += call->n_args / 2;
        break;
    case VEIL_SCHED_OP_FLAG_TOP:
        o->flag_top++;
        break;
    case VEIL_SCHED_OP_ARGMIN:
    case VEIL_SCHED_OP_ARGMIN_REPLICAS:
        o->argmin++;
        o->argmin_inputs += call->n_args;
        break;
    case VEIL_SCHED_OP_CONST:
        o->constant++;
        break;
    case VEIL_SCHED_OP_EQ_SCALAR:
        o->eq_scalar++;
        break;
    case VEIL_SCHED_OP_SUM_WEIGHTED:
        o->sum_weighted++;
        o->sum_terms += call->n_args;
        break;
    }
}

#define MAX_ARGS 8 /* FLAG_TOP: a score and six flags; SUM_MASKED: four terms, four masks */

/* One backend op on encrypted operands (borrowed), counted: proto gives the
 * op and its constants (args filled here). out2: ARGMIN only. */
static struct val call_full(struct ctx *c, struct veil_sched_call proto, const struct val *args,
                            struct val *out2)
{
    size_t n = proto.n_args;
    if (c->failed)
        return pub(0);
    const veil_sched_ct *small[MAX_ARGS];
    const veil_sched_ct **h = n <= MAX_ARGS ? small : malloc(n * sizeof *h);
    if (!h) {
        veil_err_set(c->err, VEIL_E_NOMEM, "out of memory");
        c->failed = true;
        return pub(0);
    }
    for (size_t i = 0; i < n; i++)
        h[i] = args[i].r->h;
    struct veil_sched_call call = proto;
    call.args = h;
    veil_sched_ct *o1 = NULL, *o2 = NULL;
    int rc = c->be->eval(c->be->ctx, &call, &o1, out2 ? &o2 : NULL, c->err);
    if (h != small)
        free(h);
    if (rc != 0) {
        c->failed = true;
        return pub(0);
    }
    count(c, &call);
    struct val v = wrap(c, o1, false);
    if (out2)
        *out2 = wrap(c, o2, false);
    return v;
}

static struct val call_op(struct ctx *c, enum veil_sched_op op, const struct val *args, size_t n,
                          uint64_t k, uint64_t k2, const uint64_t *labels, struct val *out2)
{
    struct veil_sched_call proto = {.op = op, .n_args = n, .k = k, .k2 = k2, .labels = labels};
    return call_full(c, proto, args, out2);
}

static struct val constant(struct ctx *c, uint32_t x, unsigned width)
{
    return call_op(c, VEIL_SCHED_OP_CONST, NULL, 0, x, width, NULL, NULL);
}

/* ARGMIN_REPLICAS over n encrypted keys (borrowed): k (index, found) pairs. */
static void call_replicas(struct ctx *c, const struct val *keys, size_t n, const uint64_t *labels,
                          size_t k, struct val *idx, struct val *found)
{
    const veil_sched_ct **h = malloc(n * sizeof *h);
    if (!h) {
        veil_err_set(c->err, VEIL_E_NOMEM, "out of memory");
        c->failed = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        h[i] = keys[i].r->h;
    struct veil_sched_call call = {
        .op = VEIL_SCHED_OP_ARGMIN_REPLICAS, .args = h, .n_args = n, .k = k, .labels = labels};
    veil_sched_ct *o1[VEIL_SCHED_MAX_REPLICAS] = {0}, *o2[VEIL_SCHED_MAX_REPLICAS] = {0};
    int rc = c->be->eval(c->be->ctx, &call, o1, o2, c->err);
    free(h);
    if (rc != 0) {
        c->failed = true;
        return;
    }
    count(c, &call);
    for (size_t r = 0; r < k; r++) {
        idx[r] = wrap(c, o1[r], false);
        found[r] = wrap(c, o2[r], false);
    }
}

/* Every key public (nothing requested, no constraint): the k winners are
 * known in the clear and become CONSTs (identical at every scheduler). */
static void public_replicas(struct ctx *c, const struct val *keys, size_t n, const uint64_t *labels,
                            size_t k, struct val *idx, struct val *found)
{
    uint32_t *xs = malloc(n * sizeof *xs);
    uint32_t o1[VEIL_SCHED_MAX_REPLICAS], o2[VEIL_SCHED_MAX_REPLICAS];
    struct veil_sched_call call = {
        .op = VEIL_SCHED_OP_ARGMIN_REPLICAS, .n_args = n, .k = k, .labels = labels};
    if (!xs) {
        veil_err_set(c->err, VEIL_E_NOMEM, "out of memory");
        c->failed = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        xs[i] = keys[i].x;
    int rc = veil_sched_plain_eval(&call, xs, o1, o2, c->err);
    free(xs);
    if (rc != 0) {
        c->failed = true;
        return;
    }
    for (size_t r = 0; r < k; r++) {
        idx[r] = constant(c, o1[r], VEIL_SCHED_WIDTH);
        found[r] = constant(c, o2[r], 1);
    }
}

/* A public 16-bit value as a backend value; 0 is cached for the round. */
static struct val materialize(struct ctx *c, struct val v)
{
    if (v.enc || c->failed)
        return v;
    if (v.x != 0)
        return constant(c, v.x, VEIL_SCHED_WIDTH);
    if (!c->zero.enc)
        c->zero = constant(c, 0, VEIL_SCHED_WIDTH);
    return take(c->zero);
}

/* ---- the ops; each consumes its operands ---------------------------------- */

static uint32_t plain2(enum veil_sched_op op, uint32_t a, uint32_t b)
{
    struct veil_sched_call call = {.op = op, .n_args = 2};
    uint32_t args[2] = {a, b}, out = 0;
    veil_sched_plain_eval(&call, args, &out, NULL, NULL);
    return out;
}

/* a OP b for LT / NE / AND (AND folds a public operand: and(x,1)=x, and(x,0)=0). */
static struct val op2(struct ctx *c, enum veil_sched_op op, struct val a, struct val b)
{
    if (!a.enc && !b.enc)
        return pub(plain2(op, a.x, b.x));
    if (op == VEIL_SCHED_OP_AND && (!a.enc || !b.enc)) {
        struct val p = a.enc ? b : a, e = a.enc ? a : b;
        if (p.x)
            return e;
        drop(c, &e);
        return pub(0);
    }
    a = materialize(c, a);
    b = materialize(c, b);
    struct val args[2] = {a, b};
    struct val out = call_op(c, op, args, 2, 0, 0, NULL, NULL);
    drop(c, &a);
    drop(c, &b);
    return out;
}

/* a OP k for LT_SCALAR / NE_SCALAR / NOT (k unused) / SUM_BITS of one value. */
static struct val op1(struct ctx *c, enum veil_sched_op op, struct val a, uint64_t k, uint64_t k2)
{
    if (!a.enc) {
        struct veil_sched_call call = {.op = op, .n_args = 1, .k = k, .k2 = k2};
        uint32_t out = 0;
        veil_sched_plain_eval(&call, &a.x, &out, NULL, NULL);
        return pub(out);
    }
    struct val out = call_op(c, op, &a, 1, k, k2, NULL, NULL);
    drop(c, &a);
    return out;
}

/* SUM_BITS over n terms (consumed); public when every term is. */
static struct val op_sum(struct ctx *c, struct val *terms, size_t n, unsigned shift, unsigned bits)
{
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any |= terms[i].enc;
    struct val out = pub(0);
    if (!any) {
        struct veil_sched_call call = {
            .op = VEIL_SCHED_OP_SUM_BITS, .n_args = n, .k = shift, .k2 = bits};
        uint32_t xs[VEIL_RES_COUNT] = {0}, r = 0;
        for (size_t i = 0; i < n && i < VEIL_RES_COUNT; i++)
            xs[i] = terms[i].x;
        if (n > 0)
            veil_sched_plain_eval(&call, xs, &r, NULL, NULL);
        out = pub(r);
    } else {
        for (size_t i = 0; i < n; i++)
            terms[i] = materialize(c, terms[i]);
        out = call_op(c, VEIL_SCHED_OP_SUM_BITS, terms, n, shift, bits, NULL, NULL);
    }
    for (size_t i = 0; i < n; i++)
        drop(c, &terms[i]);
    return out;
}

/* FLAG_TOP(score, flags) (consumed); no flags: the score itself. */
static struct val op_flag_top(struct ctx *c, struct val score, struct val *flags, size_t n)
{
    if (n == 0)
        return score;
    struct val args[1 + VEIL_RES_COUNT + 2];
    args[0] = materialize(c, score);
    for (size_t i = 0; i < n; i++)
        args[1 + i] = flags[i];
    struct val out = call_op(c, VEIL_SCHED_OP_FLAG_TOP, args, 1 + n, 0, 0, NULL, NULL);
    for (size_t i = 0; i < 1 + n; i++)
        drop(c, &args[i]);
    return out;
}

uint64_t veil_sched_ops_total(const struct veil_sched_ops *o)
{
    return o->lt + o->ne + o->lt_scalar + o->ne_scalar + o->and_ + o->not_ + o->truncate +
           o->sum_bits + o->sum_masked + o->flag_top + o->argmin + o->constant + o->eq_scalar +
           o->sum_weighted;
}

/* ---- the circuit ----------------------------------------------------------- */

/* binpack and spread score the requested resources' load; priority and
 * lowest-latency score one telemetry word */
static bool load_scored(enum veil_policy p)
{
    return p == VEIL_POLICY_BINPACK || p == VEIL_POLICY_SPREAD;
}

/* The word a one-word score takes (priority or the job's latency landmark)
 * and its field width. */
static int word_score(const struct veil_sched_request *req, unsigned *bits)
{
    if (req->policy == VEIL_POLICY_LATENCY) {
        *bits = VEIL_SCHED_LATENCY_BITS;
        return VEIL_TELEMETRY_WORD_LATENCY + req->latency_to % VEIL_LATENCY_SLOTS;
    }
    *bits = VEIL_SCHED_PRIORITY_BITS;
    return 6;
}

/* Low bits dropped from each resource's score term (node.h): free gpus are at
 * most VEIL_QUANT_GPU_MAX = 4095, so they keep every bit. */
_Static_assert(VEIL_SCHED_COST_GPU_IDLE == 1u << VEIL_SCHED_COST_BITS,
               "a gpu's load field is NOT(free)'s low COST_BITS bits while free < IDLE");
static const unsigned term_shift[VEIL_RES_COUNT] = {VEIL_SCHED_TERM_SHIFT, VEIL_SCHED_TERM_SHIFT,
                                                    VEIL_SCHED_TERM_SHIFT, 0};

static int circuit_outputs(struct ctx *c, struct val *idx, struct val *found, size_t k,
                           veil_sched_ct **index_out, veil_sched_ct **found_out);

/* A confidential request's want_r = [req_r != 0] is needed where the
 * requested resources' load is scored. */
static bool uses_load(const struct veil_sched_request *req)
{
    return load_scored(req->policy) ||
           (req->policy == VEIL_POLICY_WEIGHTED && req->load_weight != 0);
}

/* The public parts of a request the circuit (and a node's key) accepts. */
static int check_request(const struct veil_sched_request *req, veil_err *err)
{
    if (req->policy > VEIL_POLICY_LAST)
        return veil_err_set(err, VEIL_E_INVALID, "unknown policy %d", (int)req->policy);
    bool slot = req->policy == VEIL_POLICY_LATENCY || req->policy == VEIL_POLICY_WEIGHTED;
    if (slot && req->latency_to >= VEIL_LATENCY_SLOTS)
        return veil_err_set(err, VEIL_E_INVALID, "latency landmark %u (at most %d)",
                            (unsigned)req->latency_to, VEIL_LATENCY_SLOTS - 1);
    if (req->policy == VEIL_POLICY_WEIGHTED &&
        (req->latency_weight > VEIL_WEIGHT_LATENCY_MAX || req->load_weight > VEIL_WEIGHT_LOAD_MAX))
        return veil_err_set(err, VEIL_E_INVALID,
                            "weights latency %u, load %u (at most %d and %d: the cost must fit "
                            "the key)",
                            (unsigned)req->latency_weight, (unsigned)req->load_weight,
                            VEIL_WEIGHT_LATENCY_MAX, VEIL_WEIGHT_LOAD_MAX);
    return 0;
}

/* weighted: resource r's load field lq_r of one node (free_r and want_r
 * borrowed). cpu, memory, disk: the top byte of NOT(free_r)'s 12-bit term,
 * block moves (masked by want_r when confidential: 4 PBS). gpus: whole
 * GPUs, 255 - min(free, 255) = NOT(free)'s low byte kept only while
 * free < 256 (issue 20: the top byte read a node's handful of GPUs as one
 * step of 16), so one LT_SCALAR (1 PBS: 256 is a power of 4) and the 4-PBS
 * masked field; confidential: the mask ANDed with want_gpu (one PBS more). */
static struct val load_field(struct ctx *c, const struct veil_sched_request *req, int r,
                             struct val free_r, struct val want_r)
{
    struct val inv = op1(c, VEIL_SCHED_OP_NOT, take(free_r), 0, 0);
    if (r != VEIL_RES_GPU && !req->confidential)
        return op1(c, VEIL_SCHED_OP_SUM_BITS, inv, term_shift[r] + VEIL_SCHED_COST_SHIFT,
                   VEIL_SCHED_COST_BITS);
    unsigned shift = 0;
    struct val keep;
    if (r == VEIL_RES_GPU) {
        keep = op1(c, VEIL_SCHED_OP_LT_SCALAR, take(free_r), VEIL_SCHED_COST_GPU_IDLE, 0);
        if (req->confidential)
            keep = op2(c, VEIL_SCHED_OP_AND, take(want_r), keep);
    } else {
        shift = term_shift[r] + VEIL_SCHED_COST_SHIFT;
        keep = take(want_r);
    }
    struct val m[2] = {materialize(c, inv), materialize(c, keep)};
    struct val out =
        call_op(c, VEIL_SCHED_OP_SUM_MASKED, m, 2, shift, VEIL_SCHED_COST_BITS, NULL, NULL);
    drop(c, &m[0]);
    drop(c, &m[1]);
    return out;
}

/* weighted: W latq + L sum_r lq_r + 2^13 [unmeasured] of one node (words w,
 * borrowed) as one SUM_WEIGHTED; want: a confidential request's masks. */
static struct val weighted_score(struct ctx *c, const struct veil_sched_request *req,
                                 const struct val *w, const struct val *want)
{
    struct val args[VEIL_RES_COUNT + 2];
    uint64_t weights[VEIL_RES_COUNT + 2];
    size_t n = 0;
    const struct val lat = w[VEIL_TELEMETRY_WORD_LATENCY + req->latency_to % VEIL_LATENCY_SLOTS];
    /* always an operand (weight 0 costs nothing): the sum has a 16-bit one */
    weights[n] = req->latency_weight;
    args[n++] =
        op1(c, VEIL_SCHED_OP_SUM_BITS, take(lat), VEIL_SCHED_COST_SHIFT, VEIL_SCHED_COST_BITS);
    for (int r = 0; r < VEIL_RES_COUNT && req->load_weight; r++) {
        if (!req->confidential && !req->res[r])
            continue;
        weights[n] = req->load_weight;
        args[n++] = load_field(c, req, r, w[r], want[r]);
    }
    for (size_t i = 0; i < n; i++)
        args[i] = materialize(c, args[i]);   /* telemetry is encrypted: no-op */
    weights[n] = VEIL_SCHED_COST_UNMEASURED; /* the one bool, last */
    args[n++] = op1(c, VEIL_SCHED_OP_EQ_SCALAR, take(lat), VEIL_LATENCY_UNKNOWN, 0);
    struct veil_sched_call proto = {.op = VEIL_SCHED_OP_SUM_WEIGHTED,
                                    .n_args = n,
                                    .k = 1,
                                    .k2 = VEIL_SCHED_COST_BITS,
                                    .weights = weights};
    struct val out = pub(0);
    if (args[n - 1].enc)
        out = call_full(c, proto, args, NULL);
    else if (!c->failed) {
        veil_err_set(c->err, VEIL_E_INTERNAL, "weighted cost of a public latency");
        c->failed = true;
    }
    for (size_t i = 0; i < n; i++)
        drop(c, &args[i]);
    return out;
}

int veil_sched_circuit(const struct veil_sched_backend *be, const struct veil_sched_circuit_in *in,
                       veil_sched_ct **index_out, veil_sched_ct **found_out,
                       struct veil_sched_ops *ops, veil_err *err)
{
    return veil_sched_circuit_replicas(be, in, 1, index_out, found_out, ops, err);
}

int veil_sched_circuit_replicas(const struct veil_sched_backend *be,
                                const struct veil_sched_circuit_in *in, size_t n_rep,
                                veil_sched_ct **index_out, veil_sched_ct **found_out,
                                struct veil_sched_ops *ops, veil_err *err)
{
    const struct veil_sched_request *req = in->req;
    if (n_rep == 0 || n_rep > VEIL_SCHED_MAX_REPLICAS) /* before the outputs are touched */
        return veil_err_set(err, VEIL_E_LIMIT, "%zu replicas in one round (1 to %d)", n_rep,
                            VEIL_SCHED_MAX_REPLICAS);
    for (size_t r = 0; r < n_rep; r++)
        index_out[r] = found_out[r] = NULL;
    if (in->n_nodes > VEIL_SCHED_MAX_NODES)
        return veil_err_set(err, VEIL_E_LIMIT, "%zu nodes (at most %d per round)", in->n_nodes,
                            VEIL_SCHED_MAX_NODES);
    if (check_request(req, err) != 0)
        return -1;
    size_t n_cand = 0;
    for (size_t i = 0; i < in->n_nodes; i++)
        n_cand += !(in->excluded && in->excluded[i]);
    if (n_cand == 0)
        return 0; /* no candidate: unschedulable, publicly known */

    struct ctx cx = {.be = be, .ops = ops, .err = err};
    struct ctx *c = &cx;
    const bool conf = req->confidential, scored = load_scored(req->policy);
    struct val *keys = calloc(n_cand, sizeof *keys);
    uint64_t *labels = calloc(n_cand, sizeof *labels);
    if (!keys || !labels) {
        free(keys);
        free(labels);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }

    /* The request: encrypted inputs (confidential) or public constants. */
    struct val rq[VEIL_RES_COUNT + 2], want[VEIL_RES_COUNT], con[2], req_label[2];
    for (int w = 0; w < VEIL_RES_COUNT + 2; w++) {
        uint16_t plain_value = w < VEIL_RES_COUNT    ? req->res[w]
                               : w == VEIL_RES_COUNT ? req->region
                                                     : req->zone;
        rq[w] = conf ? wrap(c, (veil_sched_ct *)in->req_words[w], true) : pub(plain_value);
    }
    for (int r = 0; r < VEIL_RES_COUNT; r++)
        want[r] =
            conf && !uses_load(req) ? pub(0) : op1(c, VEIL_SCHED_OP_NE_SCALAR, take(rq[r]), 0, 0);
    for (int l = 0; l < 2; l++) {
        req_label[l] =
            op1(c, VEIL_SCHED_OP_TRUNCATE, take(rq[VEIL_RES_COUNT + l]), VEIL_SCHED_LABEL_BITS, 0);
        con[l] = op1(c, VEIL_SCHED_OP_NE_SCALAR, take(req_label[l]), 0, 0);
    }

    size_t nk = 0;
    for (size_t i = 0; i < in->n_nodes && !c->failed; i++) {
        if (in->excluded && in->excluded[i])
            continue;
        struct val w[VEIL_TELEMETRY_WORDS];
        for (int k = 0; k < VEIL_TELEMETRY_WORDS; k++)
            w[k] = wrap(c, (veil_sched_ct *)in->node_words[i * VEIL_TELEMETRY_WORDS + k], true);

        /* feasibility: one fail flag per condition that can fail */
        struct val fails[VEIL_RES_COUNT + 2];
        size_t nf = 0;
        for (int r = 0; r < VEIL_RES_COUNT; r++) {
            if (conf)
                fails[nf++] = op2(c, VEIL_SCHED_OP_LT, take(w[r]), take(rq[r]));
            else if (req->res[r])
                fails[nf++] = op1(c, VEIL_SCHED_OP_LT_SCALAR, take(w[r]), req->res[r], 0);
        }
        for (int l = 0; l < 2; l++) {
            if (!conf && !req_label[l].x)
                continue; /* a public "any" */
            struct val label = op1(c, VEIL_SCHED_OP_TRUNCATE, take(w[VEIL_RES_COUNT + l]),
                                   VEIL_SCHED_LABEL_BITS, 0);
            if (conf)
                fails[nf++] = op2(c, VEIL_SCHED_OP_AND, take(con[l]),
                                  op2(c, VEIL_SCHED_OP_NE, label, take(req_label[l])));
            else
                fails[nf++] = op1(c, VEIL_SCHED_OP_NE_SCALAR, label, req_label[l].x, 0);
        }

        /* score */
        struct val score;
        if (req->policy == VEIL_POLICY_WEIGHTED) {
            score = weighted_score(c, req, w, want);
        } else if (!scored) {
            unsigned bits = 0;
            int word = word_score(req, &bits);
            score = op1(c, VEIL_SCHED_OP_SUM_BITS, take(w[word]), 0, bits);
        } else {
            struct val terms[VEIL_RES_COUNT];
            size_t nt = 0;
            for (int r = 0; r < VEIL_RES_COUNT; r++) {
                if (!conf && !req->res[r])
                    continue;
                struct val t = req->policy == VEIL_POLICY_SPREAD
                                   ? op1(c, VEIL_SCHED_OP_NOT, take(w[r]), 0, 0)
                                   : take(w[r]);
                /* the resource's own field: block moves, no PBS */
                terms[nt++] =
                    op1(c, VEIL_SCHED_OP_SUM_BITS, t, term_shift[r], VEIL_SCHED_TERM_BITS);
            }
            if (conf) { /* every term, each masked by its want_r */
                struct val args[2 * VEIL_RES_COUNT];
                for (size_t t = 0; t < nt; t++) {
                    args[t] = materialize(c, terms[t]);
                    args[nt + t] = take(want[t]);
                }
                score = call_op(c, VEIL_SCHED_OP_SUM_MASKED, args, 2 * nt, 0, VEIL_SCHED_TERM_BITS,
                                NULL, NULL);
                for (size_t t = 0; t < 2 * nt; t++)
                    drop(c, &args[t]);
            } else if (nt == 1) {
                score = terms[0];
            } else {
                score = op_sum(c, terms, nt, 0, VEIL_SCHED_TERM_BITS);
            }
        }
        keys[nk] = op_flag_top(c, score, fails, nf);
        labels[nk] = i;
        nk++;
        for (int k = 0; k < VEIL_TELEMETRY_WORDS; k++)
            drop(c, &w[k]);
    }

    /* argmin over the keys, labelled with the node indices (n_rep replicas:
     * n_rep tournaments, each winner flagged before the next) */
    struct val idx[VEIL_SCHED_MAX_REPLICAS], found[VEIL_SCHED_MAX_REPLICAS];
    for (size_t r = 0; r < n_rep; r++)
        idx[r] = found[r] = pub(0);
    bool any_enc = false;
    for (size_t j = 0; j < nk; j++)
        any_enc |= keys[j].enc;
    if (!c->failed && nk == n_cand) {
        if (!any_enc) {
            public_replicas(c, keys, nk, labels, n_rep, idx, found);
        } else {
            for (size_t j = 0; j < nk; j++)
                keys[j] = materialize(c, keys[j]);
            if (n_rep == 1)
                idx[0] = call_op(c, VEIL_SCHED_OP_ARGMIN, keys, nk, 0, 0, labels, &found[0]);
            else
                call_replicas(c, keys, nk, labels, n_rep, idx, found);
        }
    }
    for (size_t j = 0; j < nk; j++)
        drop(c, &keys[j]);
    free(keys);
    free(labels);
    for (int r = 0; r < VEIL_RES_COUNT; r++)
        drop(c, &want[r]);
    for (int l = 0; l < 2; l++) {
        drop(c, &con[l]);
        drop(c, &req_label[l]);
    }
    for (int w = 0; w < VEIL_RES_COUNT + 2; w++)
        drop(c, &rq[w]);
    drop(c, &c->zero);
    return circuit_outputs(c, idx, found, n_rep, index_out, found_out);
}

/* Hands the k (index, found) handles over (the refs are ours alone by
 * then); on any failure or public output, drops them all. */
static int circuit_outputs(struct ctx *c, struct val *idx, struct val *found, size_t k,
                           veil_sched_ct **index_out, veil_sched_ct **found_out)
{
    bool ok = !c->failed;
    for (size_t r = 0; r < k && ok; r++)
        ok = idx[r].enc && found[r].enc && idx[r].r->rc == 1 && found[r].r->rc == 1 &&
             !idx[r].r->input && !found[r].r->input;
    if (!ok) {
        for (size_t r = 0; r < k; r++) {
            drop(c, &idx[r]);
            drop(c, &found[r]);
        }
        if (!c->failed)
            veil_err_set(c->err, VEIL_E_INTERNAL, "scheduling circuit output public or shared");
        return -1;
    }
    for (size_t r = 0; r < k; r++) {
        index_out[r] = idx[r].r->h;
        found_out[r] = found[r].r->h;
        free(idx[r].r);
        free(found[r].r);
    }
    return 0;
}

/* ---- the ops on plain values (the oracle's and the tests' semantics) ------- */

/* A key flagged as a chosen winner: its top two bits (the failed-condition
 * count) become min(top + 1, 3), so a feasible node is not feasible any more. */
static uint32_t flag_chosen(uint32_t key)
{
    uint32_t top = (key & MASK16) / VEIL_SCHED_FLAG_BASE;
    return (key % VEIL_SCHED_FLAG_BASE) + VEIL_SCHED_FLAG_BASE * (top < 3 ? top + 1 : 3);
}

/* ARGMIN_REPLICAS: k tournaments over a copy of the keys, each winner's key
 * flagged before the next (veil_fhe_argmin_replicas on plain values). */
static int plain_argmin_replicas(const struct veil_sched_call *call, const uint32_t *a,
                                 uint32_t *out, uint32_t *out2, veil_err *err)
{
    size_t n = call->n_args, k = (size_t)call->k;
    if (n == 0 || !call->labels || k == 0 || k > VEIL_SCHED_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_INVALID, "ARGMIN_REPLICAS of %zu replicas over %zu", k, n);
    uint32_t *keys = malloc(n * sizeof *keys);
    if (!keys)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        keys[i] = a[i] & MASK16;
    for (size_t r = 0; r < k; r++) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (keys[i] < keys[best])
                best = i;
        out[r] = (uint32_t)call->labels[best] & MASK16;
        if (out2)
            out2[r] = keys[best] < VEIL_SCHED_FLAG_BASE;
        keys[best] = flag_chosen(keys[best]);
    }
    free(keys);
    return 0;
}

/* SUM_WEIGHTED on plain values, refusing what veil_fhe_sum_weighted refuses. */
static int plain_sum_weighted(const struct veil_sched_call *call, const uint32_t *a, uint32_t *out,
                              veil_err *err)
{
    size_t n = call->n_args, n_bool = (size_t)call->k;
    unsigned bits = (unsigned)call->k2;
    if (n == 0 || n > 16 || n_bool >= n || !call->weights || bits % 2 || bits == 0 ||
        bits > VEIL_SCHED_WIDTH)
        return veil_err_set(err, VEIL_E_INVALID, "SUM_WEIGHTED of %zu (%zu bools) x %u bits", n,
                            n_bool, bits);
    uint64_t bound = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        bool is_bool = i >= n - n_bool;
        uint64_t top = is_bool ? 1 : (1u << bits) - 1, w = call->weights[i];
        if (w > MASK16 || bound + w * top > MASK16)
            return veil_err_set(err, VEIL_E_INVALID, "SUM_WEIGHTED overflows 16 bits");
        bound += w * top;
        sum += w * (is_bool ? (a[i] != 0) : (a[i] & ((1u << bits) - 1)));
    }
    *out = (uint32_t)sum;
    return 0;
}

int veil_sched_plain_eval(const struct veil_sched_call *call, const uint32_t *a, uint32_t *out,
                          uint32_t *out2, veil_err *err)
{
    size_t n = call->n_args;
    uint64_t k = call->k;
    *out = 0;
    switch (call->op) {
    case VEIL_SCHED_OP_LT:
        *out = a[0] < a[1];
        return 0;
    case VEIL_SCHED_OP_NE:
        *out = a[0] != a[1];
        return 0;
    case VEIL_SCHED_OP_LT_SCALAR:
        *out = a[0] < k;
        return 0;
    case VEIL_SCHED_OP_NE_SCALAR:
        *out = a[0] != k;
        return 0;
    case VEIL_SCHED_OP_AND:
        *out = a[0] & a[1];
        return 0;
    case VEIL_SCHED_OP_NOT:
        *out = ~a[0] & MASK16;
        return 0;
    case VEIL_SCHED_OP_TRUNCATE:
        if (k == 0 || k > VEIL_SCHED_WIDTH)
            return veil_err_set(err, VEIL_E_INVALID, "TRUNCATE to %llu bits",
                                (unsigned long long)k);
        *out = a[0] & (uint32_t)((1ull << k) - 1);
        return 0;
    case VEIL_SCHED_OP_SUM_BITS:
    case VEIL_SCHED_OP_SUM_MASKED: {
        unsigned bits = (unsigned)call->k2;
        bool masked = call->op == VEIL_SCHED_OP_SUM_MASKED;
        size_t m = masked ? n / 2 : n;
        if (m == 0 || (masked && n % 2) || k % 2 || bits % 2 || bits == 0 ||
            bits > VEIL_SCHED_WIDTH || (uint64_t)m * ((1u << bits) - 1) > MASK16)
            return veil_err_set(err, VEIL_E_INVALID, "SUM_BITS of %zu x %u bits at shift %llu", m,
                                bits, (unsigned long long)k);
        uint32_t sum = 0;
        for (size_t i = 0; i < m; i++)
            if (!masked || a[m + i])
                sum += k >= VEIL_SCHED_WIDTH ? 0 : ((a[i] & MASK16) >> k) & ((1u << bits) - 1);
        *out = sum;
        return 0;
    }
    case VEIL_SCHED_OP_FLAG_TOP: {
        if (n == 0 || n > 16 || a[0] >= VEIL_SCHED_FLAG_BASE)
            return veil_err_set(err, VEIL_E_INVALID, "FLAG_TOP on %u with %zu flags", a[0],
                                n ? n - 1 : 0);
        uint32_t set = 0;
        for (size_t i = 1; i < n; i++)
            set += a[i] != 0;
        *out = a[0] + VEIL_SCHED_FLAG_BASE * (set < 3 ? set : 3);
        return 0;
    }
    case VEIL_SCHED_OP_ARGMIN: {
        if (n == 0 || !call->labels)
            return veil_err_set(err, VEIL_E_INVALID, "ARGMIN of nothing");
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (a[i] < a[best])
                best = i;
        *out = (uint32_t)call->labels[best] & MASK16;
        if (out2)
            *out2 = a[best] < VEIL_SCHED_FLAG_BASE;
        return 0;
    }
    case VEIL_SCHED_OP_CONST:
        *out = (uint32_t)k & (call->k2 == 1 ? 1u : MASK16);
        return 0;
    case VEIL_SCHED_OP_ARGMIN_REPLICAS:
        return plain_argmin_replicas(call, a, out, out2, err);
    case VEIL_SCHED_OP_EQ_SCALAR:
        *out = a[0] == k;
        return 0;
    case VEIL_SCHED_OP_SUM_WEIGHTED:
        return plain_sum_weighted(call, a, out, err);
    }
    return veil_err_set(err, VEIL_E_INVALID, "unknown circuit op %d", (int)call->op);
}

/* ---- the plaintext backend: the oracle ------------------------------------ */

struct veil_sched_ct {
    uint32_t x;
};

/* Plain results as backend handles: m values to out (and out2 when not NULL). */
static int plain_handles(const uint32_t *r1, const uint32_t *r2, size_t m, veil_sched_ct **out,
                         veil_sched_ct **out2, veil_err *err)
{
    for (size_t i = 0; i < m; i++) {
        out[i] = malloc(sizeof *out[i]);
        if (out2)
            out2[i] = malloc(sizeof *out2[i]);
        if (!out[i] || (out2 && !out2[i])) {
            for (size_t j = 0; j <= i; j++) {
                free(out[j]);
                if (out2)
                    free(out2[j]);
                out[j] = NULL;
                if (out2)
                    out2[j] = NULL;
            }
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        }
        out[i]->x = r1[i];
        if (out2)
            out2[i]->x = r2[i];
    }
    return 0;
}

static int plain_backend_eval(void *ctx, const struct veil_sched_call *call, veil_sched_ct **out,
                              veil_sched_ct **out2, veil_err *err)
{
    (void)ctx;
    uint32_t small[MAX_ARGS] = {0}, *xs = call->n_args <= MAX_ARGS ? small : NULL;
    if (!xs && !(xs = malloc(call->n_args * sizeof *xs)))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < call->n_args; i++)
        xs[i] = call->args[i]->x;
    /* ARGMIN_REPLICAS gives k values to each output array, every other op one */
    size_t m = call->op == VEIL_SCHED_OP_ARGMIN_REPLICAS ? (size_t)call->k : 1;
    uint32_t r1[VEIL_SCHED_MAX_REPLICAS] = {0}, r2[VEIL_SCHED_MAX_REPLICAS] = {0};
    int rc = m > VEIL_SCHED_MAX_REPLICAS
                 ? veil_err_set(err, VEIL_E_INVALID, "%zu replicas in one round", m)
                 : veil_sched_plain_eval(call, xs, r1, out2 ? r2 : NULL, err);
    if (xs != small)
        free(xs);
    if (rc != 0)
        return -1;
    return plain_handles(r1, r2, m, out, out2, err);
}

static void plain_release(void *ctx, veil_sched_ct *v)
{
    (void)ctx;
    free(v);
}

static const struct veil_sched_backend plain_backend = {NULL, plain_backend_eval, plain_release};

/* The circuit over the plaintext backend, k replicas (k = 1: one round). */
static int plain_round(const struct veil_sched_request *req, const struct veil_telemetry_q *nodes,
                       const bool *excluded, size_t n_nodes, size_t n_rep,
                       struct veil_sched_result *out, struct veil_sched_ops *ops, veil_err *err)
{
    if (n_rep == 0 || n_rep > VEIL_SCHED_MAX_REPLICAS) /* before out is touched */
        return veil_err_set(err, VEIL_E_LIMIT, "%zu replicas in one round (1 to %d)", n_rep,
                            VEIL_SCHED_MAX_REPLICAS);
    for (size_t r = 0; r < n_rep; r++)
        out[r] = (struct veil_sched_result){0};
    if (n_nodes > VEIL_SCHED_MAX_NODES)
        return veil_err_set(err, VEIL_E_LIMIT, "%zu nodes (at most %d per round)", n_nodes,
                            VEIL_SCHED_MAX_NODES);
    size_t n_words = n_nodes * VEIL_TELEMETRY_WORDS;
    veil_sched_ct *vals = malloc((n_words + VEIL_RES_COUNT + 2) * sizeof *vals);
    const veil_sched_ct **ptrs = malloc((n_words ? n_words : 1) * sizeof *ptrs);
    if (!vals || !ptrs) {
        free(vals);
        free(ptrs);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_nodes; i++) {
        uint16_t words[VEIL_TELEMETRY_WORDS];
        veil_telemetry_to_words(&nodes[i], words);
        for (int k = 0; k < VEIL_TELEMETRY_WORDS; k++) {
            vals[i * VEIL_TELEMETRY_WORDS + k].x = words[k];
            ptrs[i * VEIL_TELEMETRY_WORDS + k] = &vals[i * VEIL_TELEMETRY_WORDS + k];
        }
    }
    struct veil_sched_circuit_in in = {
        .req = req, .node_words = ptrs, .excluded = excluded, .n_nodes = n_nodes};
    veil_sched_ct *req_vals = vals + n_words;
    for (int w = 0; w < VEIL_RES_COUNT + 2; w++) {
        req_vals[w].x = w < VEIL_RES_COUNT    ? req->res[w]
                        : w == VEIL_RES_COUNT ? req->region
                                              : req->zone;
        in.req_words[w] = &req_vals[w];
    }
    veil_sched_ct *index[VEIL_SCHED_MAX_REPLICAS] = {0}, *found[VEIL_SCHED_MAX_REPLICAS] = {0};
    int rc = veil_sched_circuit_replicas(&plain_backend, &in, n_rep, index, found, ops, err);
    for (size_t r = 0; rc == 0 && r < n_rep; r++) {
        if (!index[r] || !found[r])
            continue; /* no candidate at all: unschedulable */
        out[r].found = found[r]->x != 0;
        out[r].index = out[r].found ? index[r]->x : 0;
    }
    for (size_t r = 0; r < n_rep && r < VEIL_SCHED_MAX_REPLICAS; r++) {
        free(index[r]);
        free(found[r]);
    }
    free(vals);
    free(ptrs);
    return rc;
}

int veil_sched_round(const struct veil_sched_request *req, const struct veil_telemetry_q *nodes,
                     const bool *excluded, size_t n_nodes, struct veil_sched_result *out,
                     struct veil_sched_ops *ops, veil_err *err)
{
    return plain_round(req, nodes, excluded, n_nodes, 1, out, ops, err);
}

int veil_sched_round_replicas(const struct veil_sched_request *req,
                              const struct veil_telemetry_q *nodes, const bool *excluded,
                              size_t n_nodes, uint32_t k, struct veil_sched_result *out,
                              struct veil_sched_ops *ops, veil_err *err)
{
    return plain_round(req, nodes, excluded, n_nodes, k, out, ops, err);
}

int veil_sched_replicas(const struct veil_sched_request *req, const struct veil_telemetry_q *nodes,
                        const bool *excluded, size_t n_nodes, uint32_t replicas,
                        struct veil_sched_result *out, struct veil_sched_ops *ops, veil_err *err)
{
    if (n_nodes > VEIL_SCHED_MAX_NODES)
        return veil_err_set(err, VEIL_E_LIMIT, "%zu nodes (at most %d per round)", n_nodes,
                            VEIL_SCHED_MAX_NODES);
    bool *mask = calloc(n_nodes ? n_nodes : 1, sizeof *mask);
    if (!mask)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (excluded)
        memcpy(mask, excluded, n_nodes * sizeof *mask);
    bool exhausted = false;
    for (uint32_t k = 0; k < replicas; k++) {
        out[k].found = false;
        out[k].index = 0;
        if (exhausted)
            continue; /* exclusions only grow: a later round cannot succeed */
        if (veil_sched_round(req, nodes, mask, n_nodes, &out[k], ops, err) != 0) {
            free(mask);
            return -1;
        }
        if (out[k].found)
            mask[out[k].index] = true;
        else
            exhausted = true;
    }
    free(mask);
    return 0;
}

/* ---- sharded rounds ------------------------------------------------------- */

/* The weighted cost of one node's words, stated directly (node.h). */
static uint32_t weighted_key_score(const struct veil_sched_request *req, const uint16_t *w)
{
    const uint32_t fmask = (1u << VEIL_SCHED_COST_BITS) - 1;
    uint32_t lat = w[VEIL_TELEMETRY_WORD_LATENCY + req->latency_to % VEIL_LATENCY_SLOTS];
    uint32_t load = 0;
    for (int r = 0; r < VEIL_RES_COUNT; r++) {
        if (!req->res[r])
            continue;
        if (r == VEIL_RES_GPU) /* whole GPUs: 255 - min(free, 255) */
            load += w[r] < fmask ? fmask - w[r] : 0;
        else
            load += ((~w[r] & MASK16) >> (term_shift[r] + VEIL_SCHED_COST_SHIFT)) & fmask;
    }
    return req->latency_weight * ((lat >> VEIL_SCHED_COST_SHIFT) & fmask) +
           req->load_weight * load + VEIL_SCHED_COST_UNMEASURED * (lat == VEIL_LATENCY_UNKNOWN);
}

uint32_t veil_sched_key(const struct veil_sched_request *req, const struct veil_telemetry_q *node)
{
    uint16_t w[VEIL_TELEMETRY_WORDS];
    veil_telemetry_to_words(node, w);
    uint32_t fails = 0, score = 0;
    for (int r = 0; r < VEIL_RES_COUNT; r++) /* req_r = 0 never fails */
        fails += w[r] < req->res[r];
    const uint16_t want_label[2] = {req->region, req->zone};
    for (int l = 0; l < 2; l++) {
        uint32_t mask = (1u << VEIL_SCHED_LABEL_BITS) - 1, want = want_label[l] & mask;
        fails += want && (w[VEIL_RES_COUNT + l] & mask) != want;
    }
    if (req->policy == VEIL_POLICY_WEIGHTED) {
        score = weighted_key_score(req, w);
    } else if (!load_scored(req->policy)) {
        unsigned bits = 0;
        int word = word_score(req, &bits);
        score = w[word] & ((1u << bits) - 1);
    } else {
        for (int r = 0; r < VEIL_RES_COUNT; r++) {
            if (!req->res[r])
                continue; /* the terms of the requested resources */
            uint32_t v = req->policy == VEIL_POLICY_SPREAD ? ~w[r] & MASK16 : w[r];
            score += (v >> term_shift[r]) & ((1u << VEIL_SCHED_TERM_BITS) - 1);
        }
    }
    return score + VEIL_SCHED_FLAG_BASE * (fails < 3 ? fails : 3);
}

int veil_sched_node_key(const struct veil_sched_request *req, const struct veil_telemetry_q *own,
                        uint16_t *key, veil_err *err)
{
    *key = 0;
    if (req->confidential)
        return veil_err_set(err, VEIL_E_INVALID,
                            "a node cannot compute its key for a confidential request");
    if (check_request(req, err) != 0)
        return -1;
    /* infeasible: 0xFFFF (found and the order unchanged; an infeasible
     * winner places nothing), so the low 14 bits order the keys */
    uint32_t k = veil_sched_key(req, own);
    *key = k < VEIL_SCHED_FLAG_BASE ? (uint16_t)k : 0xFFFFu;
    return 0;
}

int veil_sched_round_sharded(const struct veil_sched_request *req,
                             const struct veil_telemetry_q *nodes, const bool *excluded,
                             size_t n_nodes, size_t shard_size, struct veil_sched_result *out,
                             size_t *n_shards_out, veil_err *err)
{
    out->found = false;
    out->index = 0;
    if (n_shards_out)
        *n_shards_out = 0;
    if (shard_size == 0)
        return veil_err_set(err, VEIL_E_INVALID, "shard size 0");
    if (n_nodes > VEIL_SCHED_MAX_NODES)
        return veil_err_set(err, VEIL_E_LIMIT, "%zu nodes (at most %d per round)", n_nodes,
                            VEIL_SCHED_MAX_NODES);
    bool have = false;
    uint32_t best_key = 0;
    for (size_t first = 0; first < n_nodes; first += shard_size) {
        size_t end = n_nodes - first < shard_size ? n_nodes : first + shard_size;
        if (n_shards_out)
            (*n_shards_out)++;
        /* the shard's winner: (key, index), ties to the lowest index */
        bool shard_have = false;
        uint32_t key = 0, index = 0;
        for (size_t i = first; i < end; i++) {
            if (excluded && excluded[i])
                continue;
            uint32_t k = veil_sched_key(req, &nodes[i]);
            if (!shard_have || k < key) {
                shard_have = true;
                key = k;
                index = (uint32_t)i;
            }
        }
        /* the merge: strictly smaller keys win, so ties keep the earlier shard */
        if (shard_have && (!have || key < best_key)) {
            have = true;
            best_key = key;
            out->index = index;
        }
    }
    out->found = have && best_key < VEIL_SCHED_FLAG_BASE;
    if (!out->found)
        out->index = 0;
    return 0;
}

/* ---- sharded batch rounds: each shard's top k, the merge of the k-lists ---- */

/* k tournaments over keys[0..n) as veil_fhe_argmin_replicas runs them: the
 * smallest current key, ties to the earlier position, flagged after it won
 * (flag_chosen) unless it is the last; ranks (the merge of k-lists,
 * veil_fhe_argmin_merge_replicas; 0: none): position i is rank i % ranks of
 * its list and tournament r compares the ranks <= r only, in position order
 * (why nothing else can win it: src/fhe/integer.c, the merge's comment).
 * win_key[r] / win_pos[r] the r-th winner's key as it stood and position.
 * keys is modified. */
static void top_k_flagged(uint32_t *keys, size_t n, size_t k, size_t ranks, uint32_t *win_key,
                          size_t *win_pos)
{
    for (size_t r = 0; r < k; r++) {
        size_t best = 0; /* position 0 is rank 0: in every tournament */
        for (size_t i = 1; i < n; i++)
            if ((ranks == 0 || i % ranks <= r) && keys[i] < keys[best])
                best = i;
        win_key[r] = keys[best];
        win_pos[r] = best;
        if (r + 1 < k)
            keys[best] = flag_chosen(keys[best]);
    }
}

/* Shard [first, end)'s k-list appended to keys / idx at *m (k entries, none
 * when every member is excluded: such a shard outputs "none"). */
static void shard_k_list(const struct veil_sched_request *req, const struct veil_telemetry_q *nodes,
                         const bool *excluded, size_t first, size_t end, size_t k,
                         uint32_t *keys, uint32_t *idx, size_t *m, uint32_t *tmp_key,
                         uint32_t *tmp_idx)
{
    size_t live = 0;
    for (size_t i = first; i < end; i++) {
        if (excluded && excluded[i])
            continue;
        tmp_key[live] = veil_sched_key(req, &nodes[i]);
        tmp_idx[live++] = (uint32_t)i;
    }
    if (live == 0)
        return;
    size_t pos[VEIL_SCHED_MAX_REPLICAS];
    top_k_flagged(tmp_key, live, k, 0, &keys[*m], pos);
    for (size_t r = 0; r < k; r++)
        idx[*m + r] = tmp_idx[pos[r]];
    *m += k;
}

int veil_sched_round_sharded_replicas(const struct veil_sched_request *req,
                                      const struct veil_telemetry_q *nodes, const bool *excluded,
                                      size_t n_nodes, size_t shard_size, uint32_t k,
                                      struct veil_sched_result *out, size_t *n_shards_out,
                                      veil_err *err)
{
    if (n_shards_out)
        *n_shards_out = 0;
    if (shard_size == 0 || k == 0 || k > VEIL_SCHED_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_INVALID, "shard size %zu, %u replicas", shard_size, k);
    for (uint32_t r = 0; r < k; r++) /* out holds k (checked above) */
        out[r] = (struct veil_sched_result){0};
    if (n_nodes > VEIL_SCHED_MAX_NODES)
        return veil_err_set(err, VEIL_E_LIMIT, "%zu nodes (at most %d per round)", n_nodes,
                            VEIL_SCHED_MAX_NODES);
    size_t shards = (n_nodes + shard_size - 1) / shard_size;
    uint32_t *keys = calloc(shards * k + 1, sizeof *keys);
    uint32_t *idx = calloc(shards * k + 1, sizeof *idx);
    uint32_t *tk = calloc(shard_size < n_nodes ? shard_size : n_nodes + 1, sizeof *tk);
    uint32_t *ti = calloc(shard_size < n_nodes ? shard_size : n_nodes + 1, sizeof *ti);
    int rc = 0;
    if (!keys || !idx || !tk || !ti) {
        rc = veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    } else {
        size_t m = 0; /* shard s's r-th winner at position s k + r (shards with one) */
        for (size_t first = 0; first < n_nodes; first += shard_size) {
            size_t end = n_nodes - first < shard_size ? n_nodes : first + shard_size;
            shard_k_list(req, nodes, excluded, first, end, k, keys, idx, &m, tk, ti);
        }
        uint32_t win_key[VEIL_SCHED_MAX_REPLICAS];
        size_t pos[VEIL_SCHED_MAX_REPLICAS];
        if (m > 0) /* m = S k: whole lists */
            top_k_flagged(keys, m, k, k, win_key, pos);
        for (uint32_t r = 0; r < k && m > 0; r++) {
            out[r].found = win_key[r] < VEIL_SCHED_FLAG_BASE;
            out[r].index = out[r].found ? idx[pos[r]] : 0;
        }
        if (n_shards_out)
            *n_shards_out = shards;
    }
    free(keys);
    free(idx);
    free(tk);
    free(ti);
    return rc;
}

/* veil_sched_ops_formula for the weighted policy: feasibility as for every
 * policy, then per node the fields (the gpu field: its free < 256 test, and
 * with want_gpu, a masked field), the unmeasured test and one weighted sum. */
static void weighted_formula(const struct veil_sched_request *req, size_t n,
                             struct veil_sched_ops *ops)
{
    const uint64_t N = n, R = VEIL_RES_COUNT, lw = 1; /* latq: always an operand */
    const uint64_t L = req->load_weight != 0;
    uint64_t k = R, cons = 2;
    if (req->confidential) {
        ops->ne_scalar = (L ? R : 0) + 2; /* want_r; con_region, con_zone */
        ops->truncate = 2 + 2 * N;
        ops->lt = R * N;
        ops->lt_scalar = L * N;
        ops->ne = 2 * N;
        ops->and_ = (2 + L) * N;
        ops->sum_masked = L * R * N;
        ops->flag_top = N;
    } else {
        k = 0;
        cons = ((req->region & 0xFF) != 0) + ((req->zone & 0xFF) != 0);
        for (int r = 0; r < VEIL_RES_COUNT; r++)
            k += req->res[r] != 0;
        const uint64_t gpu = req->res[VEIL_RES_GPU] != 0;
        ops->lt_scalar = (k + L * gpu) * N;
        ops->ne_scalar = cons * N;
        ops->truncate = cons * N;
        ops->sum_bits = L * (k - gpu) * N;
        ops->sum_masked = L * gpu * N;
        ops->flag_top = (k + cons) ? N : 0;
    }
    ops->not_ = L * k * N;
    ops->sum_bits += lw * N;
    ops->eq_scalar = N;
    ops->sum_weighted = N;
    ops->sum_terms = (lw + L * k) * N /* the fields */ + (lw + L * k + 1) * N /* the sum */;
    ops->argmin = 1;
    ops->argmin_inputs = N;
}

void veil_sched_ops_formula(const struct veil_sched_request *req, size_t n,
                            struct veil_sched_ops *ops)
{
    memset(ops, 0, sizeof *ops);
    if (n == 0)
        return;
    const uint64_t N = n, R = VEIL_RES_COUNT;
    const bool scored = load_scored(req->policy);
    const bool spread = req->policy == VEIL_POLICY_SPREAD;
    if (req->policy == VEIL_POLICY_WEIGHTED) {
        weighted_formula(req, n, ops);
        return;
    }
    if (req->confidential) {
        ops->ne_scalar = (scored ? R : 0) + 2; /* want_r; con_region, con_zone */
        ops->truncate = 2 + 2 * N;             /* the request's and nodes' labels */
        ops->lt = R * N;
        ops->ne = 2 * N;
        ops->and_ = 2 * N;
        ops->flag_top = N;
        ops->argmin = 1;
        ops->argmin_inputs = N;
        if (scored) {
            ops->not_ = spread ? R * N : 0;
            ops->sum_bits = R * N; /* each resource's field */
            ops->sum_masked = N;   /* the four fields, each masked by want_r */
            ops->sum_terms = 2 * R * N;
        } else {
            ops->sum_bits = N;
            ops->sum_terms = N;
        }
        return;
    }
    uint64_t k = 0, cons = ((req->region & 0xFF) != 0) + ((req->zone & 0xFF) != 0);
    for (int r = 0; r < VEIL_RES_COUNT; r++)
        k += req->res[r] != 0;
    const uint64_t m = k + cons; /* fail flags per node */
    ops->lt_scalar = k * N;
    ops->ne_scalar = cons * N;
    ops->truncate = cons * N;
    ops->flag_top = m ? N : 0;
    if (scored) {
        ops->not_ = spread ? k * N : 0;
        ops->sum_bits = k * N + (k > 1 ? N : 0); /* each field; their sum */
        ops->sum_terms = k * N + (k > 1 ? k * N : 0);
        ops->constant = !k && m ? 1 : 0; /* a zero score under the flags */
    } else {
        ops->sum_bits = N;
        ops->sum_terms = N;
    }
    if (!scored || m) {
        ops->argmin = 1;
        ops->argmin_inputs = N;
    } else {
        ops->constant += 2; /* all public: index and found are CONSTs */
    }
}
