/*
 * schedule.c - the scheduling policy in plaintext: the oracle the encrypted
 * circuit must match and its exact specification, op by op.
 *
 * Every value below is either encrypted (node telemetry; the request of a
 * confidential job; anything computed from those) or public (constants; the
 * request of an ordinary job). Each op_* is one operation of the FHE library
 * (veil/fhe.h) when an encrypted operand is involved, and plain arithmetic
 * otherwise; the translation is line by line:
 *   le/lt/eq/ne/and/or/add/sub -> veil_fhe_binop(VEIL_FHE_LE, ...)
 *   add_scalar/sub_scalar/shr  -> veil_fhe_scalar(VEIL_FHE_ADD_SCALAR|SUB_SCALAR|SHR)
 *   not -> veil_fhe_not, select -> veil_fhe_select.
 * Folding with public values: and(x, 1) = x, and(x, 0) = 0, or(x, 0) = x,
 * or(x, 1) = 1, add(x, 0) = x, select(public c, a, b) = a or b: no op. Where
 * an op needs a public value as a ciphertext it is materialized without
 * fresh randomness (fresh encryptions would make the redundant schedulers'
 * outputs differ): zero = sub(x, x) on an input x, once per round, then
 * k = add_scalar(zero, k), once per round per constant (none, each request
 * value) and once per node for its index.
 *
 * The circuit runs over a backend (struct veil_sched_backend): the plaintext
 * one here is the oracle (veil_sched_round); the FHE wiring implements the
 * same three callbacks with veil_fhe_binop/scalar/not/select/ct_free, and
 * then evaluates exactly this code on ciphertexts.
 *
 * The circuit of one round over the candidate nodes i (all 16-bit; R = 4):
 *   per round : want_r = ne(req_r, 0); any_reg = eq(req_region, 0);
 *               any_zone = eq(req_zone, 0); best = none (0xFFFF); idx = 0
 *   per node  : feas    = and_r le(req_r, free_ir)  [r with want_r]
 *               feas    = and(feas, or(any_reg, eq(region_i, req_region)))
 *               feas    = and(feas, or(any_zone, eq(zone_i, req_zone)))
 *               term_r  = binpack: shr(sub(free_ir, req_r), 2)
 *                         spread : shr(not(free_ir), 2)      (= (0xFFFF - free) >> 2)
 *               score   = sum_r select(want_r, term_r, 0)  |  priority: priority_i
 *               masked  = select(feas, score, none)
 *               less    = lt(masked, best)          (strict: ties keep the lowest index)
 *               best    = select(less, masked, best)
 *               idx     = select(less, i, idx)
 *   found     = ne(best, none)   (a feasible node scores below none)
 *   output    : (idx, found) as ciphertexts (public results are materialized:
 *               idx = add_scalar(zero, idx), found = eq(zero, zero) or
 *               ne(zero, zero)); idx is meaningful when found.
 * The last three lines are the tie rule of veil_fhe_argext(want_max = 0),
 * which may replace them. A feasible score is at most 4 x 16383 = 65532
 * (binpack/spread) or 255 (priority), below none; sub may wrap on an
 * infeasible node, whose score is then masked. Costs (veil_sched_ops_formula):
 * per node and requested resource 1 le, 1 and, 1 sub_scalar (spread: not),
 * 1 shr, 1 add; per node 1 select, 1 lt, 2 select, 1 add_scalar, plus 1 eq
 * and 1 and per constraint; per round 1 ne (found) and the constants. A confidential request pays
 * for all four resources and both constraints (with select/or on the encrypted flags).
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

/* Constants materialized as ciphertexts, once per round each. */
enum {
    SLOT_ZERO,
    SLOT_NONE,
    SLOT_REQ0,
    SLOT_REGION = SLOT_REQ0 + VEIL_RES_COUNT,
    SLOT_ZONE,
    SLOT_COUNT,
    SLOT_UNCACHED = -1,
    SLOT_INDEX = -2 /* a node index: its own add_scalar even for index 0, so that the cost
                       does not depend on which nodes are candidates */
};

struct ctx {
    const struct veil_sched_backend *be;
    struct veil_sched_ops *ops;
    veil_err *err;
    bool failed;
    const veil_sched_ct *zero_src;
    struct val slot[SLOT_COUNT];
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

#define COUNT(c, field)                                                                            \
    do {                                                                                           \
        if ((c)->ops)                                                                              \
            (c)->ops->field++;                                                                     \
    } while (0)

static uint64_t *counter_of(struct ctx *c, enum veil_sched_op op)
{
    static uint64_t scratch;
    if (!c->ops)
        return &scratch;
    switch (op) {
    case VEIL_SCHED_OP_LE:
        return &c->ops->le;
    case VEIL_SCHED_OP_LT:
        return &c->ops->lt;
    case VEIL_SCHED_OP_EQ:
        return &c->ops->eq;
    case VEIL_SCHED_OP_NE:
        return &c->ops->ne;
    case VEIL_SCHED_OP_AND:
        return &c->ops->and_;
    case VEIL_SCHED_OP_OR:
        return &c->ops->or_;
    case VEIL_SCHED_OP_ADD:
        return &c->ops->add;
    case VEIL_SCHED_OP_SUB:
        return &c->ops->sub;
    case VEIL_SCHED_OP_ADD_SCALAR:
        return &c->ops->add_scalar;
    case VEIL_SCHED_OP_SUB_SCALAR:
        return &c->ops->sub_scalar;
    case VEIL_SCHED_OP_SHR:
        return &c->ops->shr;
    case VEIL_SCHED_OP_NOT:
        return &c->ops->not_;
    }
    return &scratch;
}

/* One backend op on ciphertexts (borrowed), counted. */
static struct val apply(struct ctx *c, enum veil_sched_op op, struct val a, struct val b,
                        uint64_t k)
{
    if (c->failed)
        return pub(0);
    veil_sched_ct *out = NULL;
    if (c->be->apply(c->be->ctx, op, a.r->h, b.enc ? b.r->h : NULL, k, &out, c->err) != 0) {
        c->failed = true;
        return pub(0);
    }
    (*counter_of(c, op))++;
    return wrap(c, out, false);
}

/* The zero ciphertext of the round: sub(x, x) on an input, once. */
static struct val get_zero(struct ctx *c)
{
    if (!c->slot[SLOT_ZERO].enc && !c->failed) {
        struct val src = wrap(c, (veil_sched_ct *)c->zero_src, true);
        if (src.enc) {
            c->slot[SLOT_ZERO] = apply(c, VEIL_SCHED_OP_SUB, src, src, 0);
            drop(c, &src);
        }
    }
    return take(c->slot[SLOT_ZERO]);
}

/* A public value as a ciphertext, without fresh randomness. Consumes v. */
static struct val materialize(struct ctx *c, struct val v, int slot)
{
    if (v.enc || c->failed)
        return v;
    if (slot >= 0 && c->slot[slot].enc)
        return take(c->slot[slot]);
    struct val zero = get_zero(c);
    if (v.x == 0 && slot != SLOT_INDEX)
        return zero;
    if (!zero.enc)
        return pub(0); /* failed */
    struct val out = apply(c, VEIL_SCHED_OP_ADD_SCALAR, zero, pub(0), v.x);
    drop(c, &zero);
    if (slot >= 0)
        c->slot[slot] = take(out);
    return out;
}

/* A public boolean as a ciphertext: eq(zero, zero) or ne(zero, zero). */
static struct val materialize_bool(struct ctx *c, struct val v)
{
    if (v.enc || c->failed)
        return v;
    struct val zero = get_zero(c);
    if (!zero.enc)
        return pub(0);
    struct val out = apply(c, v.x ? VEIL_SCHED_OP_EQ : VEIL_SCHED_OP_NE, zero, zero, 0);
    drop(c, &zero);
    return out;
}

/* ---- the ops; each consumes its operands -------------------------------- */

static uint32_t plain(enum veil_sched_op op, uint32_t a, uint32_t b, uint64_t k)
{
    switch (op) {
    case VEIL_SCHED_OP_LE:
        return a <= b;
    case VEIL_SCHED_OP_LT:
        return a < b;
    case VEIL_SCHED_OP_EQ:
        return a == b;
    case VEIL_SCHED_OP_NE:
        return a != b;
    case VEIL_SCHED_OP_AND:
        return a & b;
    case VEIL_SCHED_OP_OR:
        return a | b;
    case VEIL_SCHED_OP_ADD:
        return (a + b) & MASK16;
    case VEIL_SCHED_OP_SUB:
        return (a - b) & MASK16;
    case VEIL_SCHED_OP_ADD_SCALAR:
        return (uint32_t)(a + k) & MASK16;
    case VEIL_SCHED_OP_SUB_SCALAR:
        return (uint32_t)(a - k) & MASK16;
    case VEIL_SCHED_OP_SHR:
        return (a & MASK16) >> k;
    case VEIL_SCHED_OP_NOT:
        return ~a & MASK16;
    }
    return 0;
}

/* Comparisons (ct x ct only in the FHE API): public operands materialized. */
static struct val op_cmp(struct ctx *c, enum veil_sched_op op, struct val a, int slot_a,
                         struct val b, int slot_b)
{
    if (!a.enc && !b.enc)
        return pub(plain(op, a.x, b.x, 0));
    a = materialize(c, a, slot_a);
    b = materialize(c, b, slot_b);
    struct val out = c->failed ? pub(0) : apply(c, op, a, b, 0);
    drop(c, &a);
    drop(c, &b);
    return out;
}

/* and/or fold a public operand away: and(x,1)=x, and(x,0)=0, or(x,0)=x, or(x,1)=1 */
static struct val op_logic(struct ctx *c, enum veil_sched_op op, struct val a, struct val b)
{
    if (!a.enc && !b.enc)
        return pub(plain(op, a.x, b.x, 0));
    if (!a.enc || !b.enc) {
        struct val p = a.enc ? b : a, e = a.enc ? a : b;
        bool absorbing = op == VEIL_SCHED_OP_AND ? p.x == 0 : p.x != 0;
        if (!absorbing)
            return e;
        drop(c, &e);
        return pub(op == VEIL_SCHED_OP_AND ? 0 : 1);
    }
    struct val out = apply(c, op, a, b, 0);
    drop(c, &a);
    drop(c, &b);
    return out;
}

static struct val op_add(struct ctx *c, struct val a, struct val b)
{
    if (!a.enc && !b.enc)
        return pub(plain(VEIL_SCHED_OP_ADD, a.x, b.x, 0));
    struct val out;
    if (a.enc && b.enc) {
        out = apply(c, VEIL_SCHED_OP_ADD, a, b, 0);
        drop(c, &a);
        drop(c, &b);
        return out;
    }
    struct val p = a.enc ? b : a, e = a.enc ? a : b;
    if (p.x == 0)
        return e;
    out = apply(c, VEIL_SCHED_OP_ADD_SCALAR, e, pub(0), p.x);
    drop(c, &e);
    return out;
}

/* a - b (16-bit wrapping). */
static struct val op_sub(struct ctx *c, struct val a, struct val b)
{
    if (!a.enc && !b.enc)
        return pub(plain(VEIL_SCHED_OP_SUB, a.x, b.x, 0));
    struct val out;
    if (a.enc && !b.enc) {
        if (b.x == 0)
            return a;
        out = apply(c, VEIL_SCHED_OP_SUB_SCALAR, a, pub(0), b.x);
        drop(c, &a);
        return out;
    }
    a = materialize(c, a, SLOT_UNCACHED);
    out = c->failed ? pub(0) : apply(c, VEIL_SCHED_OP_SUB, a, b, 0);
    drop(c, &a);
    drop(c, &b);
    return out;
}

static struct val op_unary(struct ctx *c, enum veil_sched_op op, struct val a, uint64_t k)
{
    if (!a.enc)
        return pub(plain(op, a.x, 0, k));
    struct val out = apply(c, op, a, pub(0), k);
    drop(c, &a);
    return out;
}

static struct val op_select(struct ctx *c, struct val cond, struct val a, int slot_a, struct val b,
                            int slot_b)
{
    if (!cond.enc) {
        if (cond.x) {
            drop(c, &b);
            return a;
        }
        drop(c, &a);
        return b;
    }
    a = materialize(c, a, slot_a);
    b = materialize(c, b, slot_b);
    struct val out = pub(0);
    if (!c->failed) {
        veil_sched_ct *h = NULL;
        if (c->be->select(c->be->ctx, cond.r->h, a.r->h, b.r->h, &h, c->err) != 0) {
            c->failed = true;
        } else {
            COUNT(c, select);
            out = wrap(c, h, false);
        }
    }
    drop(c, &cond);
    drop(c, &a);
    drop(c, &b);
    return out;
}

uint64_t veil_sched_ops_total(const struct veil_sched_ops *o)
{
    return o->le + o->lt + o->eq + o->ne + o->and_ + o->or_ + o->add + o->sub + o->add_scalar +
           o->sub_scalar + o->shr + o->not_ + o->select;
}

/* ---- the circuit ----------------------------------------------------------- */

int veil_sched_circuit(const struct veil_sched_backend *be, const struct veil_sched_circuit_in *in,
                       veil_sched_ct **index_out, veil_sched_ct **found_out,
                       struct veil_sched_ops *ops, veil_err *err)
{
    const struct veil_sched_request *req = in->req;
    *index_out = *found_out = NULL;
    if (in->n_nodes > VEIL_SCHED_MAX_NODES)
        return veil_err_set(err, VEIL_E_LIMIT, "%zu nodes (at most %d per round)", in->n_nodes,
                            VEIL_SCHED_MAX_NODES);
    if (req->policy > VEIL_POLICY_PRIORITY)
        return veil_err_set(err, VEIL_E_INVALID, "unknown policy %d", (int)req->policy);
    size_t first = 0;
    while (first < in->n_nodes && in->excluded && in->excluded[first])
        first++;
    if (first == in->n_nodes)
        return 0; /* no candidate: unschedulable, publicly known */

    struct ctx cx = {
        .be = be, .ops = ops, .err = err, .zero_src = in->node_words[first * VEIL_TELEMETRY_WORDS]};
    struct ctx *c = &cx;

    /* The request: encrypted inputs (confidential) or public constants. */
    struct val rq[VEIL_RES_COUNT + 2], want[VEIL_RES_COUNT];
    for (int w = 0; w < VEIL_RES_COUNT + 2; w++) {
        uint16_t plain_value = w < VEIL_RES_COUNT    ? req->res[w]
                               : w == VEIL_RES_COUNT ? req->region
                                                     : req->zone;
        rq[w] =
            req->confidential ? wrap(c, (veil_sched_ct *)in->req_words[w], true) : pub(plain_value);
    }
    struct val *rq_region = &rq[VEIL_RES_COUNT], *rq_zone = &rq[VEIL_RES_COUNT + 1];

    /* Per round. */
    for (int r = 0; r < VEIL_RES_COUNT; r++)
        want[r] = op_cmp(c, VEIL_SCHED_OP_NE, take(rq[r]), SLOT_UNCACHED, pub(0), SLOT_ZERO);
    struct val any_region =
        op_cmp(c, VEIL_SCHED_OP_EQ, take(*rq_region), SLOT_UNCACHED, pub(0), SLOT_ZERO);
    struct val any_zone =
        op_cmp(c, VEIL_SCHED_OP_EQ, take(*rq_zone), SLOT_UNCACHED, pub(0), SLOT_ZERO);
    struct val best = pub(VEIL_SCHED_SCORE_NONE), idx = pub(0);

    for (size_t i = first; i < in->n_nodes && !c->failed; i++) {
        if (in->excluded && in->excluded[i])
            continue;
        struct val w[VEIL_TELEMETRY_WORDS];
        for (int k = 0; k < VEIL_TELEMETRY_WORDS; k++)
            w[k] = wrap(c, (veil_sched_ct *)in->node_words[i * VEIL_TELEMETRY_WORDS + k], true);

        struct val feas = pub(1);
        for (int r = 0; r < VEIL_RES_COUNT; r++) {
            if (!want[r].enc && !want[r].x)
                continue; /* an unrequested public resource always fits */
            feas = op_logic(
                c, VEIL_SCHED_OP_AND, feas,
                op_cmp(c, VEIL_SCHED_OP_LE, take(rq[r]), SLOT_REQ0 + r, take(w[r]), SLOT_UNCACHED));
        }
        struct val *flags[2] = {&any_region, &any_zone};
        for (int k = 0; k < 2; k++) {
            /* or(any, eq(label_i, req_label)); a public "any" skips the eq */
            struct val label_ok =
                flags[k]->enc || !flags[k]->x
                    ? op_cmp(c, VEIL_SCHED_OP_EQ, take(w[4 + k]), SLOT_UNCACHED,
                             take(rq[VEIL_RES_COUNT + k]), k ? SLOT_ZONE : SLOT_REGION)
                    : pub(1);
            feas = op_logic(c, VEIL_SCHED_OP_AND, feas,
                            op_logic(c, VEIL_SCHED_OP_OR, take(*flags[k]), label_ok));
        }

        struct val score = pub(0);
        if (req->policy == VEIL_POLICY_PRIORITY) {
            score = take(w[6]);
        } else {
            for (int r = 0; r < VEIL_RES_COUNT; r++) {
                if (!want[r].enc && !want[r].x)
                    continue; /* its term is a public 0 */
                struct val left = req->policy == VEIL_POLICY_BINPACK
                                      ? op_sub(c, take(w[r]), take(rq[r]))
                                      : op_unary(c, VEIL_SCHED_OP_NOT, take(w[r]), 0);
                struct val term = op_select(
                    c, take(want[r]), op_unary(c, VEIL_SCHED_OP_SHR, left, VEIL_SCHED_TERM_SHIFT),
                    SLOT_UNCACHED, pub(0), SLOT_ZERO);
                score = op_add(c, score, term);
            }
        }
        struct val masked =
            op_select(c, feas, score, SLOT_ZERO, pub(VEIL_SCHED_SCORE_NONE), SLOT_NONE);
        struct val less =
            op_cmp(c, VEIL_SCHED_OP_LT, take(masked), SLOT_UNCACHED, take(best), SLOT_NONE);
        struct val old_best = best;
        best = op_select(c, take(less), masked, SLOT_UNCACHED, old_best, SLOT_NONE);
        idx = op_select(c, less, pub((uint32_t)i), SLOT_INDEX, idx, SLOT_ZERO);
        for (int k = 0; k < VEIL_TELEMETRY_WORDS; k++)
            drop(c, &w[k]);
    }

    /* found: some feasible node scored below none. Outputs as ciphertexts. */
    struct val found = op_cmp(c, VEIL_SCHED_OP_NE, take(best), SLOT_UNCACHED,
                              pub(VEIL_SCHED_SCORE_NONE), SLOT_NONE);
    struct val idx_ct = materialize(c, idx, SLOT_INDEX);
    struct val found_ct = materialize_bool(c, found);
    drop(c, &best);
    for (int r = 0; r < VEIL_RES_COUNT; r++)
        drop(c, &want[r]);
    drop(c, &any_region);
    drop(c, &any_zone);
    for (int w = 0; w < VEIL_RES_COUNT + 2; w++)
        drop(c, &rq[w]);
    for (int s = 0; s < SLOT_COUNT; s++)
        drop(c, &c->slot[s]);
    if (c->failed || !idx_ct.enc || !found_ct.enc) {
        drop(c, &idx_ct);
        drop(c, &found_ct);
        if (!c->failed)
            veil_err_set(err, VEIL_E_INTERNAL, "scheduling circuit produced a public output");
        return -1;
    }
    /* Hand the handles over (the refs are ours alone by now). */
    if (idx_ct.r->rc != 1 || found_ct.r->rc != 1 || idx_ct.r->input || found_ct.r->input) {
        drop(c, &idx_ct);
        drop(c, &found_ct);
        return veil_err_set(err, VEIL_E_INTERNAL, "scheduling circuit output still shared");
    }
    *index_out = idx_ct.r->h;
    *found_out = found_ct.r->h;
    free(idx_ct.r);
    free(found_ct.r);
    return 0;
}

/* ---- the plaintext backend: the oracle ------------------------------------ */

struct veil_sched_ct {
    uint32_t x;
};

static int plain_apply(void *ctx, enum veil_sched_op op, const veil_sched_ct *a,
                       const veil_sched_ct *b, uint64_t k, veil_sched_ct **out, veil_err *err)
{
    (void)ctx;
    veil_sched_ct *r = malloc(sizeof *r);
    if (!r)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    r->x = plain(op, a->x, b ? b->x : 0, k);
    *out = r;
    return 0;
}

static int plain_select(void *ctx, const veil_sched_ct *cond, const veil_sched_ct *a,
                        const veil_sched_ct *b, veil_sched_ct **out, veil_err *err)
{
    (void)ctx;
    veil_sched_ct *r = malloc(sizeof *r);
    if (!r)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    r->x = cond->x ? a->x : b->x;
    *out = r;
    return 0;
}

static void plain_release(void *ctx, veil_sched_ct *v)
{
    (void)ctx;
    free(v);
}

static const struct veil_sched_backend plain_backend = {NULL, plain_apply, plain_select,
                                                        plain_release};

int veil_sched_round(const struct veil_sched_request *req, const struct veil_telemetry_q *nodes,
                     const bool *excluded, size_t n_nodes, struct veil_sched_result *out,
                     struct veil_sched_ops *ops, veil_err *err)
{
    out->found = false;
    out->index = 0;
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
    veil_sched_ct *index = NULL, *found = NULL;
    int rc = veil_sched_circuit(&plain_backend, &in, &index, &found, ops, err);
    if (rc == 0 && index && found) {
        out->found = found->x != 0;
        out->index = out->found ? index->x : 0;
    }
    free(index);
    free(found);
    free(vals);
    free(ptrs);
    return rc;
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

void veil_sched_ops_formula(const struct veil_sched_request *req, size_t n,
                            struct veil_sched_ops *ops)
{
    memset(ops, 0, sizeof *ops);
    if (n == 0)
        return;
    const uint64_t N = n;
    const bool scored = req->policy != VEIL_POLICY_PRIORITY;
    if (req->confidential) {
        const uint64_t R = VEIL_RES_COUNT;
        ops->sub = 1;        /* zero */
        ops->ne = R + 1;     /* want_r; found */
        ops->eq = 2 + 2 * N; /* any_reg/any_zone; region/zone per node */
        ops->le = R * N;
        ops->and_ = (R - 1 + 2) * N;
        ops->or_ = 2 * N;    /* constraint flags */
        ops->select = 3 * N; /* masked, best, idx */
        ops->lt = N;
        ops->add_scalar = 1 + N; /* none; index constants */
        if (scored) {
            if (req->policy == VEIL_POLICY_BINPACK)
                ops->sub += R * N;
            else
                ops->not_ = R * N;
            ops->shr = R * N;
            ops->select += R * N;
            ops->add = (R - 1) * N;
        }
        return;
    }
    uint64_t k = 0, cons = (req->region != 0) + (req->zone != 0);
    for (int r = 0; r < VEIL_RES_COUNT; r++)
        k += req->res[r] != 0;
    const uint64_t m = k + cons; /* encrypted conditions per node */
    ops->sub = 1;                /* zero */
    if (m == 0 && scored) {
        /* All public (the first candidate wins); only the outputs are
         * materialized: idx = add_scalar(zero, idx), found = eq(zero, zero). */
        ops->add_scalar = 1;
        ops->eq = 1;
        return;
    }
    ops->le = k * N;
    ops->eq = cons * N;
    ops->ne = 1; /* found */
    ops->and_ = m ? (m - 1) * N : 0;
    ops->lt = N;
    ops->select = 2 * N + (m ? N : 0); /* best, idx; masked when feas is encrypted */
    /* constants: each requested value and label, none, the node indices */
    ops->add_scalar = k + cons + 1 + N;
    if (scored) {
        if (req->policy == VEIL_POLICY_BINPACK)
            ops->sub_scalar = k * N;
        else
            ops->not_ = k * N;
        ops->shr = k * N;
        ops->add = k ? (k - 1) * N : 0;
    }
}
