// SPDX-License-Identifier: Apache-2.0
/*
 * integer.c - radix integers over shortint blocks: the PBS dataflow graph, carry
 * propagation, comparisons, min/max/select, bitwise ops, shifts, scalar ops and the
 * argmin/argmax tournament. See integer.h for the techniques and the noise rules.
 *
 * Plaintext layout (TFHE-rs shortint, message_modulus 4, carry_modulus 4): a block
 * holds a value 0..15 under a padding bit, encoded as value * delta. Linear
 * combinations with signed integer coefficients are computed directly on the LWE
 * words (the scheme is linear over Z/2^64), with delta read from a trivial
 * encryption of 1, so this file depends only on the shortint contract.
 */
#include "integer.h"

#include <stdlib.h>
#include <string.h>

#include "serialize.h"
#include "threadpool.h"

#define MAX_TERMS  12
#define TABLE_SIZE 16 /* message_modulus * carry_modulus of the supported set */

struct veil_int_lut_entry {
    uint8_t table[TABLE_SIZE];
    struct veil_shortint_lut lut;
};

struct veil_int_lut2_entry {
    uint8_t tables[2][TABLE_SIZE / 2];
    struct veil_shortint_lut2 lut;
};

/* ------------------------------------------------------------------------ */
/* Radix containers                                                         */
/* ------------------------------------------------------------------------ */

size_t veil_radix_blocks_for_width(unsigned width)
{
    switch (width) {
    case 1:
        return 1;
    case 8:
        return 4;
    case 16:
        return 8;
    case 32:
        return 16;
    case 64:
        return 32;
    default:
        return 0;
    }
}

static int check_params(const struct veil_fhe_params *p, veil_err *err)
{
    if (p->message_modulus != 4 || p->carry_modulus != 4)
        return veil_err_set(err, VEIL_E_UNSUPPORTED,
                            "radix integers need message_modulus 4 and carry_modulus 4");
    return 0;
}

int veil_radix_init(struct veil_radix *r, const struct veil_fhe_params *p, unsigned width,
                    veil_err *err)
{
    memset(r, 0, sizeof *r);
    size_t n = veil_radix_blocks_for_width(width);
    if (n == 0)
        return veil_err_set(err, VEIL_E_INVALID, "unsupported integer width %u (1, 8, 16, 32, 64)",
                            width);
    if (check_params(p, err) != 0)
        return -1;
    r->blocks = calloc(n, sizeof *r->blocks);
    if (!r->blocks)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (veil_shortint_ct_init(&r->blocks[i], p, err) != 0) {
            r->n_blocks = i;
            veil_radix_free(r);
            return -1;
        }
    }
    r->n_blocks = n;
    r->width = width;
    return 0;
}

void veil_radix_free(struct veil_radix *r)
{
    if (!r->blocks)
        return;
    for (size_t i = 0; i < r->n_blocks; i++)
        veil_shortint_ct_free(&r->blocks[i]);
    free(r->blocks);
    memset(r, 0, sizeof *r);
}

int veil_radix_copy(struct veil_radix *dst, const struct veil_radix *src,
                    const struct veil_fhe_params *p, veil_err *err)
{
    if (veil_radix_init(dst, p, src->width, err) != 0)
        return -1;
    for (size_t i = 0; i < src->n_blocks; i++)
        veil_shortint_ct_copy(&dst->blocks[i], &src->blocks[i], p);
    return 0;
}

static int check_fits(unsigned width, uint64_t value, veil_err *err)
{
    if (width < 64 && (value >> width) != 0)
        return veil_err_set(err, VEIL_E_RANGE, "value %llu does not fit in %u bits",
                            (unsigned long long)value, width);
    return 0;
}

int veil_radix_encrypt(const struct veil_shortint_client_key *ck, const struct veil_fhe_params *p,
                       unsigned width, uint64_t value, struct veil_radix *out, veil_err *err)
{
    if (veil_radix_init(out, p, width, err) != 0)
        return -1;
    if (check_fits(width, value, err) != 0)
        goto fail;
    for (size_t i = 0; i < out->n_blocks; i++) {
        uint64_t digit = (value >> (2 * i)) & 3;
        if (veil_shortint_encrypt(ck, digit, &out->blocks[i], err) != 0)
            goto fail;
        if (width == 1)
            out->blocks[i].degree = 1; /* a boolean block holds 0 or 1 */
    }
    return 0;
fail:
    veil_radix_free(out);
    return -1;
}

uint64_t veil_radix_decrypt(const struct veil_shortint_client_key *ck,
                            const struct veil_fhe_params *p, const struct veil_radix *r)
{
    uint64_t v = 0;
    for (size_t i = 0; i < r->n_blocks; i++) {
        uint64_t digit = veil_shortint_decrypt(ck, &r->blocks[i]) % p->message_modulus;
        v |= digit << (2 * i);
    }
    return v;
}

int veil_radix_trivial(const struct veil_fhe_params *p, unsigned width, uint64_t value,
                       struct veil_radix *out, veil_err *err)
{
    if (veil_radix_init(out, p, width, err) != 0)
        return -1;
    if (check_fits(width, value, err) != 0) {
        veil_radix_free(out);
        return -1;
    }
    for (size_t i = 0; i < out->n_blocks; i++)
        veil_shortint_trivial(p, (value >> (2 * i)) & 3, &out->blocks[i]);
    return 0;
}

int veil_radix_save(const struct veil_fhe_params *p, const struct veil_radix *r, veil_buf *out,
                    veil_err *err)
{
    size_t start = veil_fhe_container_begin(out, VEIL_FHE_KIND_RADIX, p->id);
    veil_buf_put_u32le(out, r->width);
    veil_buf_put_u32le(out, (uint32_t)r->n_blocks);
    for (size_t i = 0; i < r->n_blocks; i++)
        veil_fhe_put_shortint(out, p, &r->blocks[i]);
    return veil_fhe_container_end(out, start, err);
}

int veil_radix_load(const uint8_t *data, size_t len, const struct veil_fhe_params *expect,
                    struct veil_radix *out, const struct veil_fhe_params **params_out,
                    veil_err *err)
{
    memset(out, 0, sizeof *out);
    veil_reader r;
    const struct veil_fhe_params *p;
    if (veil_fhe_container_open(data, len, VEIL_FHE_KIND_RADIX, expect, &r, &p, err) != 0)
        return -1;
    uint32_t width = veil_read_u32le(&r);
    uint32_t n_blocks = veil_read_u32le(&r);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_RANGE, "radix ciphertext: truncated header");
    size_t want = veil_radix_blocks_for_width(width);
    if (want == 0)
        return veil_err_set(err, VEIL_E_INVALID,
                            "radix ciphertext: unsupported width %u (1, 8, 16, 32, 64)", width);
    if (n_blocks != want)
        return veil_err_set(err, VEIL_E_INVALID,
                            "radix ciphertext: %u blocks for a %u-bit integer (want %zu)", n_blocks,
                            width, want);
    if (veil_radix_init(out, p, width, err) != 0)
        return -1;
    uint64_t max_degree = width == 1 ? 1 : p->message_modulus - 1;
    for (size_t i = 0; i < want; i++) {
        if (veil_fhe_read_shortint(&r, p, &out->blocks[i], err) != 0) {
            veil_err_wrap(err, "radix ciphertext block %zu", i);
            goto fail;
        }
        if (out->blocks[i].degree > max_degree) {
            veil_err_set(err, VEIL_E_INVALID,
                         "radix ciphertext block %zu: degree %llu above %llu (uncleaned carries)",
                         i, (unsigned long long)out->blocks[i].degree,
                         (unsigned long long)max_degree);
            goto fail;
        }
    }
    if (!veil_reader_at_end(&r)) {
        veil_err_set(err, VEIL_E_RANGE, "radix ciphertext: %zu trailing bytes",
                     veil_reader_remaining(&r));
        goto fail;
    }
    if (params_out)
        *params_out = p;
    return 0;
fail:
    veil_radix_free(out);
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Server context and lookup-table cache                                    */
/* ------------------------------------------------------------------------ */

int veil_int_server_init(struct veil_int_server *s, const struct veil_fhe_params *p,
                         const struct veil_shortint_server_key *sk, struct veil_threadpool *pool,
                         veil_err *err)
{
    memset(s, 0, sizeof *s);
    if (check_params(p, err) != 0)
        return -1;
    s->params = p;
    s->sk = sk;
    s->pool = pool;
    s->lwe_words = (size_t)p->glwe_dim * p->poly_size + 1;
    struct veil_shortint_ct one;
    if (veil_shortint_ct_init(&one, p, err) != 0)
        return -1;
    veil_shortint_trivial(p, 1, &one);
    s->delta = one.data[s->lwe_words - 1];
    veil_shortint_ct_free(&one);
    if (s->delta == 0)
        return veil_err_set(err, VEIL_E_INTERNAL, "trivial encryption of 1 has a zero body");
    return 0;
}

void veil_int_server_free(struct veil_int_server *s)
{
    for (size_t i = 0; i < s->n_luts; i++) {
        veil_shortint_lut_free(&s->luts[i]->lut);
        free(s->luts[i]);
    }
    free(s->luts);
    s->luts = NULL;
    s->n_luts = s->cap_luts = 0;
    for (size_t i = 0; i < s->n_luts2; i++) {
        veil_shortint_lut2_free(&s->luts2[i]->lut);
        free(s->luts2[i]);
    }
    free(s->luts2);
    s->luts2 = NULL;
    s->n_luts2 = s->cap_luts2 = 0;
}

static uint64_t table_fn(uint64_t x, void *arg)
{
    const uint8_t *table = arg;
    return x < TABLE_SIZE ? table[x] : 0;
}

/* Shared by lut_get and lut2_get, whose caches grow the same way: make room for
 * one more entry pointer in `arr` (n used, *cap allocated; doubling, `first` at
 * the start). Returns the array to store back (arr itself when it had room), or
 * NULL with err set when out of memory (arr is then left as it was). */
static void *cache_reserve(void *arr, size_t n, size_t *cap, size_t first, size_t elem,
                           veil_err *err)
{
    if (n < *cap)
        return arr;
    size_t c = *cap ? 2 * *cap : first;
    void *p = realloc(arr, c * elem);
    if (!p) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        return NULL;
    }
    *cap = c;
    return p;
}

static const struct veil_shortint_lut *lut_get(struct veil_int_server *s,
                                               const uint8_t table[TABLE_SIZE], veil_err *err)
{
    for (size_t i = 0; i < s->n_luts; i++)
        if (memcmp(s->luts[i]->table, table, TABLE_SIZE) == 0)
            return &s->luts[i]->lut;
    struct veil_int_lut_entry **v =
        cache_reserve(s->luts, s->n_luts, &s->cap_luts, 32, sizeof *v, err);
    if (!v)
        return NULL;
    s->luts = v;
    /* entries are allocated one by one: LUT pointers handed out stay valid */
    struct veil_int_lut_entry *e = calloc(1, sizeof *e);
    if (!e) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(e->table, table, TABLE_SIZE);
    if (veil_shortint_lut_init(&e->lut, s->params, table_fn, e->table, err) != 0) {
        free(e);
        return NULL;
    }
    s->luts[s->n_luts++] = e;
    return &e->lut;
}

static uint64_t table2_f(uint64_t x, void *arg)
{
    const uint8_t *table = arg;
    return x < TABLE_SIZE / 2 ? table[x] : 0;
}

static const struct veil_shortint_lut2 *lut2_get(struct veil_int_server *s,
                                                 const uint8_t f[TABLE_SIZE],
                                                 const uint8_t g[TABLE_SIZE], veil_err *err)
{
    uint8_t key[2][TABLE_SIZE / 2];
    memcpy(key[0], f, TABLE_SIZE / 2);
    memcpy(key[1], g, TABLE_SIZE / 2);
    for (size_t i = 0; i < s->n_luts2; i++)
        if (memcmp(s->luts2[i]->tables, key, sizeof key) == 0)
            return &s->luts2[i]->lut;
    struct veil_int_lut2_entry **v =
        cache_reserve(s->luts2, s->n_luts2, &s->cap_luts2, 16, sizeof *v, err);
    if (!v)
        return NULL;
    s->luts2 = v;
    struct veil_int_lut2_entry *e = calloc(1, sizeof *e);
    if (!e) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(e->tables, key, sizeof key);
    if (veil_shortint_lut2_init(&e->lut, s->params, table2_f, e->tables[0], table2_f, e->tables[1],
                                err) != 0) {
        free(e);
        return NULL;
    }
    s->luts2[s->n_luts2++] = e;
    return &e->lut;
}

/* ------------------------------------------------------------------------ */
/* The PBS dataflow graph                                                   */
/* ------------------------------------------------------------------------ */

/* A term of a linear combination: an outside block or the output of a node. */
struct term {
    const struct veil_shortint_ct *ext; /* NULL for a node */
    int node;
    int64_t coef;
};

/* sum(coef * term) + cst, whose plaintext value is known to lie in [lo, hi]. */
struct expr {
    struct term t[MAX_TERMS];
    int n;
    int64_t cst;
    int64_t lo, hi;
};

struct gnode {
    struct expr in;
    uint8_t table[TABLE_SIZE];
    struct veil_shortint_ct out;
    int64_t out_hi;
    int level;
    int needed;
    /* Two lookups of the same input below 8 share one KS+PBS (a two-function
     * LUT): the first node is the primary, the second names it in twin_of. */
    int twin;      /* the partner node, or -1 */
    int secondary; /* this node's result comes from its partner's job */
};

struct goutput {
    struct expr e;
    struct veil_shortint_ct *dst;
};

struct graph {
    struct veil_int_server *s;
    struct gnode *nodes;
    size_t n, cap;
    struct goutput *outs;
    size_t n_outs, cap_outs;
    int failed;
    veil_err *err;
};

static void graph_init(struct graph *g, struct veil_int_server *s, veil_err *err)
{
    memset(g, 0, sizeof *g);
    g->s = s;
    g->err = err;
}

static void graph_free(struct graph *g)
{
    for (size_t i = 0; i < g->n; i++)
        veil_shortint_ct_free(&g->nodes[i].out);
    free(g->nodes);
    free(g->outs);
    memset(g, 0, sizeof *g);
}

static int graph_fail(struct graph *g, enum veil_err_code code, const char *msg)
{
    if (!g->failed)
        veil_err_set(g->err, code, "%s", msg);
    g->failed = 1;
    return -1;
}

static struct expr ex_const(int64_t c)
{
    struct expr e;
    memset(&e, 0, sizeof e);
    e.cst = c;
    e.lo = e.hi = c;
    return e;
}

static struct expr ex_ext(const struct veil_shortint_ct *ct)
{
    struct expr e = ex_const(0);
    e.t[0].ext = ct;
    e.t[0].node = -1;
    e.t[0].coef = 1;
    e.n = 1;
    e.lo = 0;
    e.hi = (int64_t)ct->degree;
    return e;
}

static struct expr ex_node(const struct graph *g, int node)
{
    struct expr e = ex_const(0);
    if (node < 0)
        return e;
    e.t[0].ext = NULL;
    e.t[0].node = node;
    e.t[0].coef = 1;
    e.n = 1;
    e.lo = 0;
    e.hi = g->nodes[node].out_hi;
    return e;
}

static int term_same(const struct term *a, const struct term *b)
{
    return a->ext ? a->ext == b->ext : (!b->ext && a->node == b->node);
}

/* acc += k * e (interval arithmetic on the bounds). */
static void ex_addk(struct graph *g, struct expr *acc, const struct expr *e, int64_t k)
{
    for (int i = 0; i < e->n; i++) {
        struct term t = e->t[i];
        t.coef *= k;
        int j;
        for (j = 0; j < acc->n; j++) {
            if (term_same(&acc->t[j], &t)) {
                acc->t[j].coef += t.coef;
                break;
            }
        }
        if (j == acc->n) {
            if (acc->n == MAX_TERMS) {
                graph_fail(g, VEIL_E_INTERNAL, "radix expression has too many terms");
                return;
            }
            acc->t[acc->n++] = t;
        }
    }
    acc->cst += k * e->cst;
    if (k >= 0) {
        acc->lo += k * e->lo;
        acc->hi += k * e->hi;
    } else {
        acc->lo += k * e->hi;
        acc->hi += k * e->lo;
    }
}

static void ex_add_const(struct expr *e, int64_t c)
{
    e->cst += c;
    e->lo += c;
    e->hi += c;
}

static uint64_t term_noise(const struct graph *g, const struct term *t)
{
    (void)g;
    return t->ext ? t->ext->noise_level : 1;
}

static uint64_t ex_noise(const struct graph *g, const struct expr *e)
{
    uint64_t n = 0;
    for (int i = 0; i < e->n; i++) {
        uint64_t c = (uint64_t)(e->t[i].coef < 0 ? -e->t[i].coef : e->t[i].coef);
        n += c * term_noise(g, &e->t[i]);
    }
    return n;
}

static int ex_equal(const struct expr *a, const struct expr *b)
{
    if (a->n != b->n || a->cst != b->cst || a->lo != b->lo || a->hi != b->hi)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (!term_same(&a->t[i], &b->t[i]) || a->t[i].coef != b->t[i].coef)
            return 0;
    return 1;
}

static int term_level(const struct graph *g, const struct term *t)
{
    return t->ext ? 0 : g->nodes[t->node].level;
}

/* Adds a KS+PBS node out = table[e]; returns its index (or -1, latched). */
static int g_pbs(struct graph *g, const struct expr *e, const uint8_t table[TABLE_SIZE])
{
    if (g->failed)
        return -1;
    if (e->lo < 0 || e->hi >= TABLE_SIZE)
        return graph_fail(g, VEIL_E_INTERNAL, "PBS input outside the block's plaintext space");
    if (ex_noise(g, e) > g->s->params->max_noise_level)
        return graph_fail(g, VEIL_E_INTERNAL, "PBS input over the noise budget");
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 64;
        struct gnode *nn = realloc(g->nodes, cap * sizeof *nn);
        if (!nn)
            return graph_fail(g, VEIL_E_NOMEM, "out of memory");
        g->nodes = nn;
        g->cap = cap;
    }
    struct gnode *nd = &g->nodes[g->n];
    memset(nd, 0, sizeof *nd);
    nd->in = *e;
    int64_t hi = 0;
    for (int x = 0; x < TABLE_SIZE; x++) {
        nd->table[x] = (x >= e->lo && x <= e->hi) ? table[x] : 0;
        if (nd->table[x] > hi)
            hi = nd->table[x];
    }
    nd->out_hi = hi;
    int level = 0;
    for (int i = 0; i < e->n; i++)
        if (term_level(g, &e->t[i]) > level)
            level = term_level(g, &e->t[i]);
    nd->level = level + 1;
    nd->twin = -1;
    if (veil_shortint_ct_init(&nd->out, g->s->params, g->err) != 0) {
        g->failed = 1;
        return -1;
    }
    /* Pair with an earlier lookup of the very same input when it fits a
     * two-function LUT (input below half the block space). */
    if (e->hi < TABLE_SIZE / 2) {
        for (size_t i = g->n; i-- > 0;) {
            struct gnode *o = &g->nodes[i];
            if (o->twin < 0 && o->level == nd->level && ex_equal(&o->in, e)) {
                o->twin = (int)g->n;
                nd->twin = (int)i;
                nd->secondary = 1;
                break;
            }
        }
    }
    return (int)g->n++;
}

/* A node given by a function of the input value. */
typedef int (*fn16)(int x, int arg);
static int g_fn(struct graph *g, const struct expr *e, fn16 f, int arg)
{
    uint8_t table[TABLE_SIZE];
    for (int x = 0; x < TABLE_SIZE; x++)
        table[x] = (uint8_t)f(x, arg);
    return g_pbs(g, e, table);
}

static int fn_identity(int x, int arg)
{
    (void)arg;
    return x;
}
static int fn_mod4(int x, int arg)
{
    (void)arg;
    return x & 3;
}
static int fn_ge(int x, int threshold)
{
    return x >= threshold;
}

/* A fresh copy of e (noise 1) when its noise exceeds max_noise. */
static struct expr refresh_if(struct graph *g, const struct expr *e, uint64_t max_noise)
{
    if (ex_noise(g, e) <= max_noise)
        return *e;
    if (e->n == 0)
        return *e;
    struct expr r = ex_node(g, g_fn(g, e, fn_identity, 0));
    r.lo = e->lo; /* identity keeps the range */
    return r;
}

static void g_output(struct graph *g, const struct expr *e, struct veil_shortint_ct *dst)
{
    if (g->failed)
        return;
    if (e->lo < 0 || e->hi >= TABLE_SIZE) {
        graph_fail(g, VEIL_E_INTERNAL, "result block outside the plaintext space");
        return;
    }
    if (g->n_outs == g->cap_outs) {
        size_t cap = g->cap_outs ? 2 * g->cap_outs : 32;
        struct goutput *n = realloc(g->outs, cap * sizeof *n);
        if (!n) {
            graph_fail(g, VEIL_E_NOMEM, "out of memory");
            return;
        }
        g->outs = n;
        g->cap_outs = cap;
    }
    g->outs[g->n_outs].e = *e;
    g->outs[g->n_outs].dst = dst;
    g->n_outs++;
}

/* dst <- the linear combination e (degree = e->hi, noise tracked). */
static void materialize(struct graph *g, const struct expr *e, struct veil_shortint_ct *dst)
{
    const struct veil_int_server *s = g->s;
    size_t w = s->lwe_words;
    memset(dst->data, 0, w * sizeof *dst->data);
    for (int i = 0; i < e->n; i++) {
        const struct term *t = &e->t[i];
        const uint64_t *src = t->ext ? t->ext->data : g->nodes[t->node].out.data;
        uint64_t c = (uint64_t)t->coef;
        if (c == 0)
            continue;
        for (size_t k = 0; k < w; k++)
            dst->data[k] += c * src[k];
    }
    dst->data[w - 1] += (uint64_t)e->cst * s->delta;
    dst->degree = (uint64_t)e->hi;
    uint64_t noise = ex_noise(g, e);
    dst->noise_level = (uint32_t)(noise > UINT32_MAX ? UINT32_MAX : noise);
}

static void mark_needed(struct graph *g, const struct expr *e)
{
    for (int i = 0; i < e->n; i++)
        if (!e->t[i].ext && e->t[i].coef != 0)
            g->nodes[e->t[i].node].needed = 1;
}

/* One KS+PBS of the graph: a node, or a node and its two-function twin. */
struct gjob {
    size_t node; /* the node whose input and table it runs (the primary of a pair) */
    int asap;    /* earliest level: the node's level */
    int alap;    /* latest level that keeps the graph's depth */
    int level;   /* the level it runs at (0: not placed yet) */
};

/* Whether every node job j reads was placed at a level below `level`. */
static int job_ready(const struct graph *g, const struct gjob *jobs, const size_t *job_of, size_t j,
                     int level)
{
    const struct expr *e = &g->nodes[jobs[j].node].in;
    for (int t = 0; t < e->n; t++) {
        if (e->t[t].ext || e->t[t].coef == 0)
            continue;
        int l = jobs[job_of[e->t[t].node]].level;
        if (l == 0 || l >= level)
            return 0;
    }
    return 1;
}

/* Sum over the levels of ceil(jobs / threads): the rounds of PBS a placement
 * costs (asap: the earliest levels, else the chosen ones). */
static size_t placement_rounds(const struct gjob *jobs, size_t n_jobs, int depth, size_t threads,
                               int chosen)
{
    size_t rounds = 0;
    for (int level = 1; level <= depth; level++) {
        size_t count = 0;
        for (size_t j = 0; j < n_jobs; j++)
            count += (chosen ? jobs[j].level : jobs[j].asap) == level;
        rounds += (count + threads - 1) / threads;
    }
    return rounds;
}

/* Places the jobs on levels 1..depth (depth = the longest chain, as before).
 * A level costs about ceil(jobs / threads) PBS times plus a fixed part
 * (streaming the keys), so a job that must run on a level (it is at its
 * latest level) goes there, and the slots left over in the level's last
 * round are filled with ready jobs that could wait, the most urgent first.
 * (The carry plan that looked every FheUint16 carry ahead went from 6,3,4,2,1
 * jobs per level to 4,4,2,2,4 on two threads: 8 rounds of PBS instead of 9;
 * today argmin over six FheUint16 takes 50 rounds instead of 51 and a
 * FheUint16 scalar multiplication 17 instead of 18.)
 * The earliest-level placement is kept when it needs no more rounds. Where a
 * job runs never changes its result, so the bits do not depend on the
 * thread count. */
static void place_jobs(const struct graph *g, struct gjob *jobs, const size_t *job_of,
                       size_t n_jobs, int depth, size_t threads)
{
    /* Latest levels: nodes only read earlier nodes, so walking back from the
     * last node sees every reader of a job before the job's own node. */
    for (size_t j = 0; j < n_jobs; j++)
        jobs[j].alap = depth;
    for (size_t j = n_jobs; j-- > 0;) {
        const struct expr *e = &g->nodes[jobs[j].node].in;
        for (int t = 0; t < e->n; t++) {
            if (e->t[t].ext || e->t[t].coef == 0)
                continue;
            struct gjob *pj = &jobs[job_of[e->t[t].node]];
            if (pj->alap > jobs[j].alap - 1)
                pj->alap = jobs[j].alap - 1;
        }
    }
    for (size_t j = 0; j < n_jobs; j++)
        jobs[j].level = threads <= 1 ? jobs[j].asap : 0;
    if (threads <= 1 || depth <= 0)
        return;
    for (int level = 1; level <= depth; level++) {
        size_t count = 0;
        for (size_t j = 0; j < n_jobs; j++) {
            if (jobs[j].level == 0 && jobs[j].alap <= level) {
                jobs[j].level = level;
                count++;
            }
        }
        while (count % threads != 0) {
            size_t best = SIZE_MAX;
            for (size_t j = 0; j < n_jobs; j++) {
                if (jobs[j].level != 0 || !job_ready(g, jobs, job_of, j, level))
                    continue;
                if (best == SIZE_MAX || jobs[j].alap < jobs[best].alap)
                    best = j;
            }
            if (best == SIZE_MAX)
                break;
            jobs[best].level = level;
            count++;
        }
    }
    /* Keep the earliest-level placement if it needs no more rounds. */
    if (placement_rounds(jobs, n_jobs, depth, threads, 0) <=
        placement_rounds(jobs, n_jobs, depth, threads, 1)) {
        for (size_t j = 0; j < n_jobs; j++)
            jobs[j].level = jobs[j].asap;
    }
}

/* Runs the needed nodes level by level (one thread-pooled batch per level), then
 * writes the outputs. */
static int graph_run(struct graph *g)
{
    if (g->failed)
        return -1;
    for (size_t i = 0; i < g->n_outs; i++)
        mark_needed(g, &g->outs[i].e);
    int max_level = 0;
    for (size_t i = g->n; i-- > 0;) {
        if (!g->nodes[i].needed)
            continue;
        mark_needed(g, &g->nodes[i].in);
        if (g->nodes[i].level > max_level)
            max_level = g->nodes[i].level;
    }
    struct veil_shortint_pbs_job *jobs = calloc(g->n ? g->n : 1, sizeof *jobs);
    struct gjob *gj = calloc(g->n ? g->n : 1, sizeof *gj);
    size_t *job_of = calloc(g->n ? g->n : 1, sizeof *job_of);
    if (!jobs || !gj || !job_of) {
        free(jobs);
        free(gj);
        free(job_of);
        return graph_fail(g, VEIL_E_NOMEM, "out of memory");
    }
    /* One job per needed node, except that a needed secondary twin rides on
     * its needed primary's job (the primary always comes first). */
    size_t n_jobs = 0;
    for (size_t i = 0; i < g->n; i++) {
        struct gnode *nd = &g->nodes[i];
        if (!nd->needed)
            continue;
        if (nd->secondary && g->nodes[nd->twin].needed) {
            job_of[i] = job_of[nd->twin];
            continue;
        }
        job_of[i] = n_jobs;
        gj[n_jobs].node = i;
        gj[n_jobs].asap = nd->level;
        n_jobs++;
    }
    place_jobs(g, gj, job_of, n_jobs, max_level, veil_threadpool_size(g->s->pool));
    int rc = 0;
    for (int level = 1; level <= max_level && rc == 0; level++) {
        size_t k = 0;
        for (size_t j = 0; j < n_jobs; j++) {
            if (gj[j].level != level)
                continue;
            struct gnode *nd = &g->nodes[gj[j].node];
            struct gnode *tw = nd->twin >= 0 ? &g->nodes[nd->twin] : NULL;
            memset(&jobs[k], 0, sizeof jobs[k]);
            if (tw && tw->needed) {
                jobs[k].lut2 = lut2_get(g->s, nd->table, tw->table, g->err);
                jobs[k].out2 = &tw->out;
            } else {
                jobs[k].lut = lut_get(g->s, nd->table, g->err);
            }
            if (!jobs[k].lut && !jobs[k].lut2) {
                rc = -1;
                break;
            }
            materialize(g, &nd->in, &nd->out);
            jobs[k].in = &nd->out;
            jobs[k].out = &nd->out;
            k++;
        }
        if (rc == 0 && k > 0) {
            veil_log(VEIL_LOG_TRACE, "fhe", "pbs level", "level=%d jobs=%zu", level, k);
            rc = veil_shortint_apply_jobs(g->s->sk, jobs, k, g->s->pool, g->err);
            g->s->pbs_count += k;
            g->s->pbs_levels++;
        }
    }
    free(jobs);
    free(gj);
    free(job_of);
    if (rc != 0) {
        g->failed = 1;
        return -1;
    }
    for (size_t i = 0; i < g->n_outs; i++)
        materialize(g, &g->outs[i].e, g->outs[i].dst);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Carry propagation (base-3 carry-lookahead)                               */
/* ------------------------------------------------------------------------ */

/* Carry states: 0 = none (kills), 1 = propagates the carry in, 2 = generates. */
enum { KIND_ADD_BLOCK = 0, KIND_BORROW_BLOCK = -1, KIND_CONST_BASE = 100, KIND_CONSTR_BASE = 200 };

/* State of an item's raw value. kind > 0: a group of `kind` items whose shifted
 * states were summed (s0 + 2 s1 + 4 s2); kind 0: a block sum that may receive a
 * carry of 1 (carries out when >= 4); kind -1: a block difference a - b + 3
 * (borrows when a < b); kind 100 + k: a value x borrowing when x < k; kind 200 + k:
 * borrowing when k < x. */
static int item_state(int x, int kind)
{
    if (kind == KIND_ADD_BLOCK)
        return x >= 4 ? 2 : x == 3 ? 1 : 0;
    if (kind == KIND_BORROW_BLOCK)
        return x < 3 ? 2 : x == 3 ? 1 : 0;
    if (kind >= KIND_CONSTR_BASE) { /* the constant kind - base compared with x */
        int k = kind - KIND_CONSTR_BASE;
        return k < x ? 2 : x == k ? 1 : 0;
    }
    if (kind >= KIND_CONST_BASE) { /* x compared with the constant kind - base */
        int k = kind - KIND_CONST_BASE;
        return x < k ? 2 : x == k ? 1 : 0;
    }
    int full = 1 << kind;
    return x >= full ? 2 : x == full - 1 ? 1 : 0;
}

static int fn_state_shifted(int x, int arg)
{
    int kind = arg / 4, shift = arg % 4;
    return item_state(x, kind - 1) << shift;
}

struct item {
    struct expr raw;
    int kind;
};

static struct expr state_node(struct graph *g, const struct item *it, int shift)
{
    return ex_node(g, g_fn(g, &it->raw, fn_state_shifted, (it->kind + 1) * 4 + shift));
}

/* Carry out of every prefix of items[0..m), given a resolved carry in `cin` (an
 * expression of value 0/1, or a constant). Groups of three items are resolved by one
 * PBS over cin + t0 + t1 + t2 (t_k = state << k: the carry goes out iff the sum
 * reaches 2^(k+1)); the groups' own states are resolved recursively, so the depth
 * grows with log3 of the number of items.
 *
 * Block items (sums of two blocks, below 8 with the carry) get two of their carries
 * from the same input as the block's own result, (s + c) mod 4, so that a two-function
 * PBS yields both: the first item of each group ([s + C >= 4] from the group's carry
 * C) and, when `tail` is set and there are at least four items, the very last item
 * (from its neighbour's carry: one level deeper, two PBS fewer). */
static void resolve_carries(struct graph *g, const struct item *items, size_t m,
                            const struct expr *cin, struct expr *co, int tail)
{
    if (m == 0 || g->failed)
        return;
    struct expr *t = calloc(m, sizeof *t);
    size_t n_groups = (m + 2) / 3;
    struct item *gitems = calloc(n_groups, sizeof *gitems);
    struct expr *gco = calloc(n_groups, sizeof *gco);
    if (!t || !gitems || !gco) {
        graph_fail(g, VEIL_E_NOMEM, "out of memory");
        goto out;
    }
    /* (t nodes nobody uses are pruned before the graph runs) */
    for (size_t k = 0; k < m; k++)
        t[k] = state_node(g, &items[k], (int)(k % 3));
    for (size_t grp = 0; grp < n_groups; grp++) {
        size_t first = 3 * grp, end = first + 3 < m ? first + 3 : m;
        gitems[grp].raw = ex_const(0);
        for (size_t k = first; k < end; k++)
            ex_addk(g, &gitems[grp].raw, &t[k], 1);
        gitems[grp].kind = (int)(end - first);
    }
    /* Recursion over groups 1 .. n_groups-2 (carry in: group 0's carry out); the
     * last group is finished in-group from its predecessor's carry. */
    {
        size_t end0 = m < 3 ? m : 3;
        struct expr acc = *cin;
        for (size_t k = 0; k < end0; k++) {
            ex_addk(g, &acc, &t[k], 1);
            if (k == 2 && n_groups > 1)
                co[2] = ex_node(g, g_fn(g, &acc, fn_ge, 8));
        }
    }
    if (n_groups > 2)
        resolve_carries(g, gitems + 1, n_groups - 2, &co[2], gco + 1, 0);
    for (size_t grp = 0; grp < n_groups && !g->failed; grp++) {
        size_t first = 3 * grp, end = first + 3 < m ? first + 3 : m;
        struct expr c_in = grp == 0 ? *cin : grp == 1 ? co[2] : gco[grp - 1];
        struct expr acc = c_in;
        for (size_t k = first; k < end; k++) {
            size_t pos = k - first;
            ex_addk(g, &acc, &t[k], 1);
            int block = items[k].kind == KIND_ADD_BLOCK;
            if (grp == 0 && k == 2 && n_groups > 1)
                continue; /* computed above */
            if (grp > 0 && k == end - 1 && grp + 1 < n_groups) {
                co[k] = gco[grp]; /* the recursion resolved this group's carry out */
            } else if (block && pos == 0) {
                struct expr e = items[k].raw;
                ex_addk(g, &e, &c_in, 1);
                co[k] = ex_node(g, g_fn(g, &e, fn_ge, 4));
            } else if (block && tail && m >= 4 && k == m - 1) {
                struct expr e = items[k].raw;
                ex_addk(g, &e, &co[k - 1], 1);
                co[k] = ex_node(g, g_fn(g, &e, fn_ge, 4));
            } else {
                co[k] = ex_node(g, g_fn(g, &acc, fn_ge, 1 << (pos + 1)));
            }
        }
    }
out:
    free(t);
    free(gitems);
    free(gco);
}

/* Carries of the grouped plan (propagate, six blocks and more). Blocks 1..n-2,
 * whose carries go on to a next block, form groups of three; block 0 and the
 * last block stand alone. The carry out of every group but the last is looked
 * ahead: the first group's from carry[1] and its three block states in one
 * PBS ([c + t0 + t1 + t2 >= 8], t_k = state << k), the others by
 * resolve_carries over the groups' states. Inside a group the carries ripple:
 * the PBS that reduces block i, (col_i + carry_i) mod 4, yields
 * carry_i+1 = [col_i + carry_i >= 4] from the same input as a two-function
 * LUT, so they cost nothing. Against looking every carry ahead this is one
 * to two levels deeper and a third fewer PBS (FheUint16: 12 PBS in 6 levels
 * instead of 16 in 5); with a handful of threads the PBS count is what sets
 * the time, and the depth still grows with log3 of the number of groups.
 * Sets carry[1 + 3j] for the group starts j >= 1 and has[] for them. */
static void lookahead_group_carries(struct graph *g, const struct expr *col, size_t n,
                                    struct expr *carry, unsigned char *has)
{
    const size_t m = n - 2, n_groups = (m + 2) / 3, full = n_groups - 1;
    struct item *gitems = calloc(full, sizeof *gitems);
    struct expr *gco = calloc(full, sizeof *gco);
    if (!gitems || !gco) {
        graph_fail(g, VEIL_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t j = 0; j < full; j++) {
        gitems[j].raw = ex_const(0);
        gitems[j].kind = 3;
        for (size_t p = 0; p < 3; p++) {
            struct item it = {.raw = col[1 + 3 * j + p], .kind = KIND_ADD_BLOCK};
            struct expr t = state_node(g, &it, (int)p);
            ex_addk(g, &gitems[j].raw, &t, 1);
        }
    }
    struct expr acc = carry[1];
    ex_addk(g, &acc, &gitems[0].raw, 1);
    carry[4] = ex_node(g, g_fn(g, &acc, fn_ge, 8));
    has[4] = 1;
    if (full > 1)
        resolve_carries(g, gitems + 1, full - 1, &carry[4], gco, 0);
    for (size_t j = 1; j < full && !g->failed; j++) {
        carry[4 + 3 * j] = gco[j - 1];
        has[4 + 3 * j] = 1;
    }
out:
    free(gitems);
    free(gco);
}

/* Turns column sums col[0..n) (col[0] <= 7, others <= 6, noise <= max-1) into a clean
 * radix: out_i = (col_i + carry_i) mod 4. Up to five blocks every carry is
 * looked ahead (resolve_carries); from six on, group carries are looked ahead
 * and the carries inside a group of three ripple (lookahead_group_carries). */
static void propagate(struct graph *g, const struct expr *col, struct veil_radix *out)
{
    size_t n = out->n_blocks;
    struct expr *carry = calloc(n + 1, sizeof *carry);
    struct item *items = calloc(n, sizeof *items);
    unsigned char *has = calloc(n + 1, 1);
    if (!carry || !items || !has) {
        graph_fail(g, VEIL_E_NOMEM, "out of memory");
        goto out;
    }
    carry[0] = ex_const(0);
    has[0] = 1;
    if (n > 1) {
        carry[1] = ex_node(g, g_fn(g, &col[0], fn_ge, 4));
        has[1] = 1;
    }
    const int grouped = n >= 6;
    if (grouped) {
        lookahead_group_carries(g, col, n, carry, has);
    } else if (n > 2) {
        for (size_t i = 1; i + 1 < n; i++) {
            items[i - 1].raw = col[i];
            items[i - 1].kind = KIND_ADD_BLOCK;
        }
        resolve_carries(g, items, n - 2, &carry[1], carry + 2, 1);
        for (size_t i = 2; i < n; i++)
            has[i] = 1;
    }
    for (size_t i = 0; i < n && !g->failed; i++) {
        struct expr e = col[i];
        ex_addk(g, &e, &carry[i], 1);
        if (i + 1 < n && !has[i + 1]) {
            /* ripple: the twin of this block's own reduction */
            carry[i + 1] = ex_node(g, g_fn(g, &e, fn_ge, 4));
            has[i + 1] = 1;
        }
        struct expr r = ex_node(g, g_fn(g, &e, fn_mod4, 0));
        g_output(g, &r, &out->blocks[i]);
    }
out:
    free(carry);
    free(items);
    free(has);
}

/* ------------------------------------------------------------------------ */
/* Comparison reductions                                                    */
/* ------------------------------------------------------------------------ */

/* The strict comparison "x < y" from per-digit borrow items (least significant
 * first): the lowest item is resolved to a borrow bit r (1 PBS); then, level by level,
 * r and the next three items give the borrow out of them as r + t0 + 2 t1 + 4 t2 >= 8
 * (t = state << position, one PBS each), while higher items are reduced three at a
 * time to group states (same sums, state from >= 8 / == 7). Equality never has to be
 * carried, so le/ge are the negations of gt/lt. Emits one final PBS per map:
 * outs[j] = maps[j][borrow]. */
static int fn_generates(int x, int kind)
{
    return item_state(x, kind) == 2;
}

static void lt_reduce(struct graph *g, struct item *items, size_t m, const int (*maps)[2],
                      size_t n_maps, struct expr *outs)
{
    uint8_t table[TABLE_SIZE];
    if (m == 1) {
        for (size_t j = 0; j < n_maps; j++) {
            for (int x = 0; x < TABLE_SIZE; x++)
                table[x] = (uint8_t)maps[j][item_state(x, items[0].kind) == 2];
            outs[j] = ex_node(g, g_pbs(g, &items[0].raw, table));
        }
        return;
    }
    struct expr r = ex_node(g, g_fn(g, &items[0].raw, fn_generates, items[0].kind));
    struct item *rest = items + 1;
    size_t n_rest = m - 1;
    while (!g->failed) {
        if (n_rest <= 3) { /* final: r + t0 + 2 t1 + 4 t2 >= 2^n_rest */
            struct expr v = r;
            for (size_t k = 0; k < n_rest; k++) {
                struct expr t = state_node(g, &rest[k], (int)k);
                ex_addk(g, &v, &t, 1);
            }
            int threshold = 1 << n_rest;
            for (size_t j = 0; j < n_maps; j++) {
                for (int x = 0; x < TABLE_SIZE; x++)
                    table[x] = (uint8_t)maps[j][x >= threshold];
                outs[j] = ex_node(g, g_pbs(g, &v, table));
            }
            return;
        }
        /* r absorbs the first three items; the others form groups of three */
        struct expr v = r;
        for (size_t k = 0; k < 3; k++) {
            struct expr t = state_node(g, &rest[k], (int)k);
            ex_addk(g, &v, &t, 1);
        }
        r = ex_node(g, g_fn(g, &v, fn_ge, 8));
        size_t w = 0;
        for (size_t first = 3; first < n_rest; first += 3) {
            size_t end = first + 3 < n_rest ? first + 3 : n_rest;
            if (end - first == 1) {
                rest[w++] = rest[first];
                continue;
            }
            struct item grp = {ex_const(0), (int)(end - first)};
            for (size_t k = first; k < end; k++) {
                struct expr t = state_node(g, &rest[k], (int)(k - first));
                ex_addk(g, &grp.raw, &t, 1);
            }
            rest[w++] = grp;
        }
        n_rest = w;
        if (n_rest == 0) {
            for (size_t j = 0; j < n_maps; j++) {
                for (int x = 0; x < TABLE_SIZE; x++)
                    table[x] = (uint8_t)maps[j][x & 1];
                outs[j] = ex_node(g, g_pbs(g, &r, table));
            }
            return;
        }
    }
}

/* Items x_i - y_i + 3 (borrow states of x - y). */
static struct item *borrow_items(struct graph *g, const struct expr *x, const struct expr *y,
                                 size_t n)
{
    struct item *items = calloc(n, sizeof *items);
    if (!items) {
        graph_fail(g, VEIL_E_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        items[i].raw = x[i];
        ex_addk(g, &items[i].raw, &y[i], -1);
        ex_add_const(&items[i].raw, 3);
        items[i].kind = KIND_BORROW_BLOCK;
    }
    return items;
}

/* Ensures noise(a) + noise(b) <= budget by refreshing the noisier side. */
static void fit_pair(struct graph *g, struct expr *a, struct expr *b, uint64_t budget)
{
    while (!g->failed && ex_noise(g, a) + ex_noise(g, b) > budget) {
        if (ex_noise(g, a) >= ex_noise(g, b) && ex_noise(g, a) > 1)
            *a = refresh_if(g, a, 1);
        else if (ex_noise(g, b) > 1)
            *b = refresh_if(g, b, 1);
        else
            graph_fail(g, VEIL_E_INTERNAL, "noise budget too small");
    }
}

/* [a OP b] for OP in lt/le/gt/ge, value scaled by `scale`. a and b are block
 * expressions (n blocks each, noise fitted by the caller to <= max). */
static struct expr compare_blocks(struct graph *g, const struct expr *a, const struct expr *b,
                                  size_t n, enum veil_int_binop op, int scale)
{
    /* lt = L(a, b), gt = L(b, a), le = not gt, ge = not lt */
    int swap = op == VEIL_INT_GT || op == VEIL_INT_LE;
    int negate = op == VEIL_INT_LE || op == VEIL_INT_GE;
    struct item *items = swap ? borrow_items(g, b, a, n) : borrow_items(g, a, b, n);
    struct expr r = ex_const(0);
    if (items) {
        const int map[1][2] = {{negate ? scale : 0, negate ? 0 : scale}};
        lt_reduce(g, items, n, map, 1, &r);
    }
    free(items);
    return r;
}

static int fn_eq_count(int x, int arg)
{
    return x == (arg & 0xff) ? (arg >> 8) : 0;
}
static int fn_ne_count(int x, int arg)
{
    return x != (arg & 0xff) ? (arg >> 8) : 0;
}

/* [a == b] (or !=), by per-block equality bits summed up to max_noise at a time. */
static struct expr equal_items(struct graph *g, struct expr *raw, const int *target, size_t n,
                               int want_ne)
{
    size_t chunk = g->s->params->max_noise_level;
    if (chunk > 15)
        chunk = 15;
    if (n == 1)
        return ex_node(g,
                       g_fn(g, &raw[0], want_ne ? fn_ne_count : fn_eq_count, target[0] | (1 << 8)));
    /* raw[] is reused for the equality bits */
    for (size_t i = 0; i < n; i++)
        raw[i] = ex_node(g, g_fn(g, &raw[i], fn_eq_count, target[i] | (1 << 8)));
    for (size_t m = n;;) {
        size_t w = 0;
        for (size_t first = 0; first < m; first += chunk) {
            size_t end = first + chunk < m ? first + chunk : m;
            struct expr sum = ex_const(0);
            for (size_t k = first; k < end; k++)
                ex_addk(g, &sum, &raw[k], 1);
            int count = (int)(end - first);
            if (m <= chunk)
                return ex_node(
                    g, g_fn(g, &sum, want_ne ? fn_ne_count : fn_eq_count, count | (1 << 8)));
            if (end - first < chunk) { /* a short tail waits for the next round */
                for (size_t k = first; k < end; k++)
                    raw[w++] = raw[k];
                continue;
            }
            raw[w++] = ex_node(g, g_fn(g, &sum, fn_eq_count, count | (1 << 8)));
        }
        m = w;
    }
}

/* [a == b] (or !=): per-block equality bits (a - b + 3 == 3) summed up to
 * max_noise_level at a time. */
static struct expr equal_blocks(struct graph *g, const struct expr *a, const struct expr *b,
                                size_t n, int want_ne)
{
    struct expr *raw = calloc(n, sizeof *raw);
    int *target = calloc(n, sizeof *target);
    struct expr r = ex_const(0);
    if (!raw || !target) {
        graph_fail(g, VEIL_E_NOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            raw[i] = a[i];
            ex_addk(g, &raw[i], &b[i], -1);
            ex_add_const(&raw[i], 3);
            target[i] = 3;
        }
        r = equal_items(g, raw, target, n, want_ne);
    }
    free(raw);
    free(target);
    return r;
}

/* Items for comparing a with a constant k: two blocks at a time (a_lo + 4 a_hi is a
 * 4-bit digit compared with k's 4-bit digit, which is why a scalar comparison needs
 * half the PBS of a ciphertext one), a single block where noise or an odd count
 * forbids packing. Returns the number of items; targets receive k's digits. */
static size_t const_items(struct graph *g, const struct expr *a, size_t n, uint64_t k,
                          struct item *items, int *targets)
{
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        int digit = (int)((k >> (2 * i)) & 3);
        if (i + 1 < n && ex_noise(g, &a[i + 1]) == 1 && ex_noise(g, &a[i]) <= 1) {
            int hi = (int)((k >> (2 * i + 2)) & 3);
            items[m].raw = a[i];
            ex_addk(g, &items[m].raw, &a[i + 1], 4);
            targets[m] = digit + 4 * hi;
            i += 2;
        } else {
            items[m].raw = a[i];
            targets[m] = digit;
            i += 1;
        }
        items[m].kind = KIND_CONST_BASE + targets[m]; /* a < target: borrow */
        m++;
    }
    return m;
}

/* Items for a < k (lt / ge against a constant): the blocks above k's highest
 * nonzero digit only matter through "all zero", so they are summed (up to
 * five blocks, within the noise budget) into items compared with 0; and the
 * lowest items whose target digit is 0 can never borrow (a_lo < 0 is false),
 * so a < k is decided by the items above them and they are dropped. E.g. a
 * 16-bit a < 16 is one PBS on the sum of blocks 2..6 and block 7, not five.
 * k = 4^j (one digit 1, every digit below it 0): a < k is "blocks j.. are
 * all zero", so block j joins the sums, the first one compared with 1 (a sum
 * below 1 is 0; the sums above compared with 0) and no item is built below
 * it: a 16-bit a < 256 (the weighted placement's "free GPUs < 256") is one
 * PBS on the sum of blocks 4..7, not three; a < 1 two items, not three. */
static size_t const_lt_items(struct graph *g, const struct expr *a, size_t n, uint64_t k,
                             struct item *items, int *targets)
{
    size_t top = 0; /* blocks [0, top) hold k's nonzero digits */
    for (size_t i = 0; i < n; i++)
        if ((k >> (2 * i)) & 3)
            top = i + 1;
    const int pow4 = top > 0 && k == 1ull << (2 * (top - 1));
    const size_t first = pow4 ? top - 1 : top; /* the first summed block */
    size_t m = top && !pow4 ? const_items(g, a, top, k, items, targets) : 0;
    uint64_t mx = g->s->params->max_noise_level;
    for (size_t i = first; i < n;) {
        struct expr sum = a[i];
        size_t used = 1;
        while (i + used < n && used < 5 && ex_noise(g, &sum) + ex_noise(g, &a[i + used]) <= mx) {
            ex_addk(g, &sum, &a[i + used], 1);
            used++;
        }
        items[m].raw = sum;
        targets[m] = pow4 && i == first; /* the sum holding k's digit 1: < 1 */
        items[m].kind = KIND_CONST_BASE + targets[m];
        m++;
        i += used;
    }
    size_t drop = 0;
    while (drop + 1 < m && targets[drop] == 0)
        drop++;
    memmove(items, items + drop, (m - drop) * sizeof *items);
    memmove(targets, targets + drop, (m - drop) * sizeof *targets);
    return m - drop;
}

/* out = cond ? x : y, blockwise, from cond8 = 8 * cond (a node output, noise 1):
 * y + L(cond8 + x - y + 3) - 3 with L(v) = v >= 8 ? v - 8 : 3. One PBS per block;
 * the result's noise is noise(y) + 1. noise(x) + noise(y) must be <= max - 1. */
static int fn_select_diff(int v, int arg)
{
    (void)arg;
    return v >= 8 ? v - 8 : 3;
}

static struct expr select_block(struct graph *g, const struct expr *cond8, const struct expr *x,
                                const struct expr *y)
{
    struct expr in = *cond8;
    ex_addk(g, &in, x, 1);
    ex_addk(g, &in, y, -1);
    ex_add_const(&in, 3);
    struct expr l = ex_node(g, g_fn(g, &in, fn_select_diff, 0));
    struct expr out = *y;
    ex_addk(g, &out, &l, 1);
    ex_add_const(&out, -3);
    out.lo = x->lo < y->lo ? x->lo : y->lo;
    out.hi = x->hi > y->hi ? x->hi : y->hi;
    return out;
}

/* ------------------------------------------------------------------------ */
/* Operations                                                               */
/* ------------------------------------------------------------------------ */

static int check_same_width(const struct veil_radix *a, const struct veil_radix *b, veil_err *err)
{
    if (a->width != b->width || a->n_blocks != b->n_blocks)
        return veil_err_set(err, VEIL_E_MISMATCH, "operand widths differ (%u and %u bits)",
                            a->width, b->width);
    return 0;
}

static int check_blocks(const struct veil_radix *a, veil_err *err)
{
    size_t n = veil_radix_blocks_for_width(a->width);
    if (n == 0 || n != a->n_blocks || !a->blocks)
        return veil_err_set(err, VEIL_E_INVALID, "malformed radix ciphertext");
    for (size_t i = 0; i < n; i++) {
        if (a->blocks[i].degree > (a->width == 1 ? 1u : 3u))
            return veil_err_set(err, VEIL_E_INVALID,
                                "radix block %zu has degree %llu (carries not cleaned)", i,
                                (unsigned long long)a->blocks[i].degree);
    }
    return 0;
}

/* Loads a radix as block expressions, refreshing blocks noisier than max_noise. */
static struct expr *load_blocks(struct graph *g, const struct veil_radix *a, uint64_t max_noise)
{
    struct expr *e = calloc(a->n_blocks, sizeof *e);
    if (!e) {
        graph_fail(g, VEIL_E_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < a->n_blocks; i++) {
        struct expr x = ex_ext(&a->blocks[i]);
        e[i] = refresh_if(g, &x, max_noise);
    }
    return e;
}

static int finish(struct graph *g, struct veil_radix *out)
{
    int rc = graph_run(g);
    graph_free(g);
    if (rc != 0)
        veil_radix_free(out);
    return rc;
}

static uint64_t max_noise(const struct veil_int_server *s)
{
    return s->params->max_noise_level;
}

/* Column sums -> clean radix via propagate(). */
static void emit_propagated(struct graph *g, const struct expr *col, struct veil_radix *out)
{
    propagate(g, col, out);
}

static void op_add_sub(struct graph *g, struct expr *a, struct expr *b, size_t n, int sub,
                       struct veil_radix *out)
{
    uint64_t budget = max_noise(g->s) - 1; /* the carry adds one */
    struct expr *col = calloc(n, sizeof *col);
    if (!col) {
        graph_fail(g, VEIL_E_NOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        fit_pair(g, &a[i], &b[i], budget);
        col[i] = a[i];
        ex_addk(g, &col[i], &b[i], sub ? -1 : 1);
        /* -b as (4 - b0) + sum (3 - bi) 4^i == 4^n - b: every column stays >= 0 */
        if (sub)
            ex_add_const(&col[i], i == 0 ? 4 : 3);
    }
    emit_propagated(g, col, out);
    free(col);
}

/* Boolean operands hold 0 or 1, so only bit 0 of each half is reachable;
 * masking makes the table's range (the output degree) 1, not 3. */
#define BITOP_BOOL 0x100

static int fn_bitop(int x, int op)
{
    int hi = x >> 2, lo = x & 3;
    if (op & BITOP_BOOL) {
        hi &= 1;
        lo &= 1;
        op &= ~BITOP_BOOL;
    }
    switch (op) {
    case VEIL_INT_AND:
        return hi & lo;
    case VEIL_INT_OR:
        return hi | lo;
    default:
        return hi ^ lo;
    }
}

int veil_int_binop(struct veil_int_server *s, enum veil_int_binop op, const struct veil_radix *a,
                   const struct veil_radix *b, struct veil_radix *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (check_same_width(a, b, err) != 0 || check_blocks(a, err) != 0 || check_blocks(b, err) != 0)
        return -1;
    int is_cmp = op >= VEIL_INT_EQ;
    if (a->width == 1 && (op == VEIL_INT_ADD || op == VEIL_INT_SUB))
        return veil_err_set(err, VEIL_E_INVALID, "arithmetic is not defined on booleans");
    if (veil_radix_init(out, s->params, is_cmp ? 1 : a->width, err) != 0)
        return -1;
    struct graph g;
    graph_init(&g, s, err);
    size_t n = a->n_blocks;
    uint64_t mx = max_noise(s);
    struct expr *ea = load_blocks(&g, a, mx);
    struct expr *eb = load_blocks(&g, b, mx);
    if (!ea || !eb)
        goto done;
    switch (op) {
    case VEIL_INT_ADD:
    case VEIL_INT_SUB:
        op_add_sub(&g, ea, eb, n, op == VEIL_INT_SUB, out);
        break;
    case VEIL_INT_AND:
    case VEIL_INT_OR:
    case VEIL_INT_XOR:
        for (size_t i = 0; i < n; i++) {
            struct expr x = refresh_if(&g, &ea[i], 1);
            struct expr y = refresh_if(&g, &eb[i], mx - 4);
            struct expr in = ex_const(0);
            ex_addk(&g, &in, &x, 4);
            ex_addk(&g, &in, &y, 1);
            int fn_arg = (int)op | (a->width == 1 ? BITOP_BOOL : 0);
            struct expr r = ex_node(&g, g_fn(&g, &in, fn_bitop, fn_arg));
            g_output(&g, &r, &out->blocks[i]);
        }
        break;
    case VEIL_INT_MIN:
    case VEIL_INT_MAX: {
        /* min: take b iff b < a; max: take b iff b > a (i.e. a < b). */
        for (size_t i = 0; i < n; i++)
            fit_pair(&g, &ea[i], &eb[i], mx - 1);
        struct expr cond8 = op == VEIL_INT_MIN ? compare_blocks(&g, eb, ea, n, VEIL_INT_LT, 8)
                                               : compare_blocks(&g, ea, eb, n, VEIL_INT_LT, 8);
        for (size_t i = 0; i < n; i++) {
            struct expr r = select_block(&g, &cond8, &eb[i], &ea[i]);
            g_output(&g, &r, &out->blocks[i]);
        }
        break;
    }
    case VEIL_INT_EQ:
    case VEIL_INT_NE: {
        for (size_t i = 0; i < n; i++)
            fit_pair(&g, &ea[i], &eb[i], mx);
        struct expr r = equal_blocks(&g, ea, eb, n, op == VEIL_INT_NE);
        g_output(&g, &r, &out->blocks[0]);
        break;
    }
    case VEIL_INT_LT:
    case VEIL_INT_LE:
    case VEIL_INT_GT:
    case VEIL_INT_GE: {
        for (size_t i = 0; i < n; i++)
            fit_pair(&g, &ea[i], &eb[i], mx);
        struct expr r = compare_blocks(&g, ea, eb, n, op, 1);
        g_output(&g, &r, &out->blocks[0]);
        break;
    }
    default:
        graph_fail(&g, VEIL_E_INVALID, "unknown binary operation");
        break;
    }
done:
    free(ea);
    free(eb);
    return finish(&g, out);
}

static int fn_mul_lo(int x, int k)
{
    return (x * k) & 3;
}
static int fn_mul_hi(int x, int k)
{
    return (x * k) >> 2;
}
static int fn_shl1(int x, int arg)
{
    (void)arg; /* x = lo + 4 hi: ((hi << 1) & 3) | (lo >> 1) */
    return (((x >> 2) << 1) & 3) | ((x & 3) >> 1);
}
static int fn_shr1(int x, int arg)
{
    (void)arg; /* x = lo + 4 hi: (lo >> 1) | ((hi & 1) << 1) */
    return ((x & 3) >> 1) | (((x >> 2) & 1) << 1);
}

/* Column lists for multiplication: each column holds up to MAX_COL terms. */
#define MAX_COL 64
struct column {
    struct expr e[MAX_COL];
    size_t n;
};

static void col_push(struct graph *g, struct column *c, const struct expr *e)
{
    if (c->n == MAX_COL) {
        graph_fail(g, VEIL_E_INTERNAL, "too many partial products in one column");
        return;
    }
    c->e[c->n++] = *e;
}

/* Carry-save reduction: while a column's sum could exceed what propagate() takes,
 * sum chunks (value <= 15, noise <= max) and split them into (sum mod 4, sum / 4). */
static void reduce_columns(struct graph *g, struct column *cols, size_t n, struct expr *sums)
{
    uint64_t mx = max_noise(g->s);
    for (int guard = 0; guard < 64 && !g->failed; guard++) {
        int changed = 0;
        struct column *next = calloc(n, sizeof *next);
        if (!next) {
            graph_fail(g, VEIL_E_NOMEM, "out of memory");
            return;
        }
        for (size_t c = 0; c < n && !g->failed; c++) {
            int64_t limit = c == 0 ? 7 : 6;
            int64_t total_hi = 0;
            uint64_t total_noise = 0;
            for (size_t k = 0; k < cols[c].n; k++) {
                total_hi += cols[c].e[k].hi;
                total_noise += ex_noise(g, &cols[c].e[k]);
            }
            if (total_hi <= limit && total_noise <= mx - 1) {
                for (size_t k = 0; k < cols[c].n; k++)
                    col_push(g, &next[c], &cols[c].e[k]);
                continue;
            }
            changed = 1;
            size_t k = 0;
            while (k < cols[c].n && !g->failed) {
                struct expr sum = ex_const(0);
                size_t start = k;
                while (k < cols[c].n && sum.hi + cols[c].e[k].hi <= 15 &&
                       ex_noise(g, &sum) + ex_noise(g, &cols[c].e[k]) <= mx) {
                    ex_addk(g, &sum, &cols[c].e[k], 1);
                    k++;
                }
                if (k == start) { /* a single over-noisy term: refresh it */
                    struct expr r = refresh_if(g, &cols[c].e[k], 1);
                    col_push(g, &next[c], &r);
                    k++;
                    continue;
                }
                struct expr lo = ex_node(g, g_fn(g, &sum, fn_mod4, 0));
                col_push(g, &next[c], &lo);
                if (c + 1 < n && sum.hi >= 4) {
                    struct expr hi = ex_node(g, g_fn(g, &sum, fn_mul_hi, 1));
                    col_push(g, &next[c + 1], &hi);
                }
            }
        }
        memcpy(cols, next, n * sizeof *cols);
        free(next);
        if (!changed)
            break;
    }
    for (size_t c = 0; c < n; c++) {
        sums[c] = ex_const(0);
        for (size_t k = 0; k < cols[c].n; k++)
            ex_addk(g, &sums[c], &cols[c].e[k], 1);
    }
}

int veil_int_scalarop(struct veil_int_server *s, enum veil_int_scalarop op,
                      const struct veil_radix *a, uint64_t scalar, struct veil_radix *out,
                      veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (check_blocks(a, err) != 0)
        return -1;
    int is_cmp = op >= VEIL_INT_EQ_SCALAR;
    if (a->width == 1 && !is_cmp)
        return veil_err_set(err, VEIL_E_INVALID, "scalar arithmetic is not defined on booleans");
    uint64_t mask = a->width == 64 ? UINT64_MAX : ((1ull << a->width) - 1);
    if (is_cmp && (scalar & ~mask) != 0)
        return veil_err_set(err, VEIL_E_RANGE, "constant %llu does not fit in %u bits",
                            (unsigned long long)scalar, a->width);
    if (veil_radix_init(out, s->params, is_cmp ? 1 : a->width, err) != 0)
        return -1;
    size_t n = a->n_blocks;
    struct graph g;
    graph_init(&g, s, err);
    uint64_t mx = max_noise(s);
    struct expr *ea = load_blocks(&g, a, mx - 1);
    struct expr *col = calloc(n, sizeof *col);
    struct column *cols = NULL;
    if (!ea || !col) {
        graph_fail(&g, VEIL_E_NOMEM, "out of memory");
        goto done;
    }
    switch (op) {
    case VEIL_INT_ADD_SCALAR:
    case VEIL_INT_SUB_SCALAR: {
        uint64_t k = (op == VEIL_INT_SUB_SCALAR ? (0 - scalar) : scalar) & mask;
        for (size_t i = 0; i < n; i++) {
            col[i] = ea[i];
            ex_add_const(&col[i], (int64_t)((k >> (2 * i)) & 3));
        }
        emit_propagated(&g, col, out);
        break;
    }
    case VEIL_INT_MUL_SCALAR: {
        uint64_t k = scalar & mask;
        cols = calloc(n, sizeof *cols);
        if (!cols) {
            graph_fail(&g, VEIL_E_NOMEM, "out of memory");
            break;
        }
        for (size_t j = 0; j < n; j++) {
            int kj = (int)((k >> (2 * j)) & 3);
            if (kj == 0)
                continue;
            for (size_t i = 0; i + j < n; i++) {
                if (kj == 1) {
                    col_push(&g, &cols[i + j], &ea[i]);
                    continue;
                }
                struct expr lo = ex_node(&g, g_fn(&g, &ea[i], fn_mul_lo, kj));
                col_push(&g, &cols[i + j], &lo);
                if (i + j + 1 < n) {
                    struct expr hi = ex_node(&g, g_fn(&g, &ea[i], fn_mul_hi, kj));
                    col_push(&g, &cols[i + j + 1], &hi);
                }
            }
        }
        reduce_columns(&g, cols, n, col);
        emit_propagated(&g, col, out);
        break;
    }
    case VEIL_INT_SHL:
    case VEIL_INT_SHR: {
        size_t q = scalar >= a->width ? n : (size_t)(scalar / 2);
        int r = (int)(scalar % 2);
        for (size_t i = 0; i < n; i++) {
            struct expr e = ex_const(0);
            /* source blocks: shl reads i - q (and i - q - 1), shr reads i + q (+ 1) */
            long hi_idx, lo_idx;
            if (op == VEIL_INT_SHL) {
                hi_idx = (long)i - (long)q;
                lo_idx = hi_idx - 1;
            } else {
                lo_idx = (long)i + (long)q;
                hi_idx = lo_idx + 1;
            }
            int have_hi = hi_idx >= 0 && hi_idx < (long)n && q < n;
            int have_lo = lo_idx >= 0 && lo_idx < (long)n && q < n;
            if (r == 0) {
                long src = op == VEIL_INT_SHL ? hi_idx : lo_idx;
                int have = op == VEIL_INT_SHL ? have_hi : have_lo;
                if (have)
                    e = ea[src];
            } else if (have_hi || have_lo) {
                struct expr in = ex_const(0);
                if (have_hi) {
                    struct expr h = refresh_if(&g, &ea[hi_idx], 1);
                    ex_addk(&g, &in, &h, 4);
                }
                if (have_lo) {
                    struct expr l = refresh_if(&g, &ea[lo_idx], 1);
                    ex_addk(&g, &in, &l, 1);
                }
                e = ex_node(&g, g_fn(&g, &in, op == VEIL_INT_SHL ? fn_shl1 : fn_shr1, 0));
            }
            g_output(&g, &e, &out->blocks[i]);
        }
        break;
    }
    case VEIL_INT_EQ_SCALAR:
    case VEIL_INT_NE_SCALAR:
    case VEIL_INT_LT_SCALAR:
    case VEIL_INT_LE_SCALAR:
    case VEIL_INT_GT_SCALAR:
    case VEIL_INT_GE_SCALAR: {
        struct item *items = calloc(n, sizeof *items);
        int *targets = calloc(n, sizeof *targets);
        struct expr *raw = calloc(n, sizeof *raw);
        if (!items || !targets || !raw) {
            graph_fail(&g, VEIL_E_NOMEM, "out of memory");
        } else {
            int lt_ge = op == VEIL_INT_LT_SCALAR || op == VEIL_INT_GE_SCALAR;
            size_t m = lt_ge ? const_lt_items(&g, ea, n, scalar, items, targets)
                             : const_items(&g, ea, n, scalar, items, targets);
            struct expr r;
            if (op == VEIL_INT_EQ_SCALAR || op == VEIL_INT_NE_SCALAR) {
                for (size_t i = 0; i < m; i++)
                    raw[i] = items[i].raw;
                r = equal_items(&g, raw, targets, m, op == VEIL_INT_NE_SCALAR);
            } else {
                /* lt = L(a, k), gt = L(k, a), le = not gt, ge = not lt */
                int swap = op == VEIL_INT_GT_SCALAR || op == VEIL_INT_LE_SCALAR;
                int negate = op == VEIL_INT_LE_SCALAR || op == VEIL_INT_GE_SCALAR;
                if (swap)
                    for (size_t i = 0; i < m; i++)
                        items[i].kind += KIND_CONSTR_BASE - KIND_CONST_BASE;
                const int map[1][2] = {{negate, !negate}};
                lt_reduce(&g, items, m, map, 1, &r);
            }
            g_output(&g, &r, &out->blocks[0]);
        }
        free(items);
        free(targets);
        free(raw);
        break;
    }
    default:
        graph_fail(&g, VEIL_E_INVALID, "unknown scalar operation");
        break;
    }
done:
    free(ea);
    free(col);
    free(cols);
    return finish(&g, out);
}

int veil_int_unop(struct veil_int_server *s, enum veil_int_unop op, const struct veil_radix *a,
                  struct veil_radix *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (check_blocks(a, err) != 0)
        return -1;
    if (op == VEIL_INT_NEG && a->width == 1)
        return veil_err_set(err, VEIL_E_INVALID, "negation is not defined on booleans");
    if (veil_radix_init(out, s->params, a->width, err) != 0)
        return -1;
    struct graph g;
    graph_init(&g, s, err);
    size_t n = a->n_blocks;
    struct expr *ea = load_blocks(&g, a, max_noise(s) - 1);
    struct expr *col = calloc(n, sizeof *col);
    if (!ea || !col) {
        graph_fail(&g, VEIL_E_NOMEM, "out of memory");
        goto done;
    }
    if (op == VEIL_INT_NOT) {
        /* not x = (msg - 1) - x blockwise: linear, no PBS */
        int64_t top = a->width == 1 ? 1 : 3;
        for (size_t i = 0; i < n; i++) {
            struct expr e = ex_const(top);
            ex_addk(&g, &e, &ea[i], -1);
            e.lo = 0;
            e.hi = top;
            g_output(&g, &e, &out->blocks[i]);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            col[i] = ex_const(i == 0 ? 4 : 3);
            ex_addk(&g, &col[i], &ea[i], -1);
        }
        emit_propagated(&g, col, out);
    }
done:
    free(ea);
    free(col);
    return finish(&g, out);
}

static int fn_scale(int x, int k)
{
    return (x & 1) * k;
}

int veil_int_select(struct veil_int_server *s, const struct veil_radix *cond,
                    const struct veil_radix *a, const struct veil_radix *b, struct veil_radix *out,
                    veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (cond->width != 1)
        return veil_err_set(err, VEIL_E_INVALID, "select: the condition must be a boolean");
    if (check_blocks(cond, err) != 0 || check_same_width(a, b, err) != 0 ||
        check_blocks(a, err) != 0 || check_blocks(b, err) != 0)
        return -1;
    if (veil_radix_init(out, s->params, a->width, err) != 0)
        return -1;
    struct graph g;
    graph_init(&g, s, err);
    size_t n = a->n_blocks;
    uint64_t mx = max_noise(s);
    struct expr c = ex_ext(&cond->blocks[0]);
    c = refresh_if(&g, &c, mx);
    struct expr cond8 = ex_node(&g, g_fn(&g, &c, fn_scale, 8));
    struct expr *ea = load_blocks(&g, a, mx);
    struct expr *eb = load_blocks(&g, b, mx);
    if (ea && eb) {
        for (size_t i = 0; i < n; i++) {
            fit_pair(&g, &ea[i], &eb[i], mx - 1);
            struct expr r = select_block(&g, &cond8, &ea[i], &eb[i]);
            g_output(&g, &r, &out->blocks[i]);
        }
    }
    free(ea);
    free(eb);
    return finish(&g, out);
}

/* ------------------------------------------------------------------------ */
/* argmin / argmax                                                          */
/* ------------------------------------------------------------------------ */

struct candidate {
    struct expr *blocks;
    struct expr *bits; /* index bits: constants or 0/1 values */
};

static int fn_select_bit(int x, int arg)
{
    (void)arg; /* x = cond8 + 2 b + a: cond ? b : a */
    return x >= 8 ? (x >> 1) & 1 : x & 1;
}

/* cond ? b : a for one index bit, cond1 = [cond] and cond8 = 8 [cond]. */
static struct expr select_bit(struct graph *g, const struct expr *cond1, const struct expr *cond8,
                              const struct expr *a, const struct expr *b)
{
    int a_const = a->n == 0, b_const = b->n == 0;
    if (a_const && b_const) {
        if (a->cst == b->cst)
            return *a;
        if (b->cst == 1)
            return *cond1;           /* cond ? 1 : 0 */
        struct expr e = ex_const(1); /* cond ? 0 : 1 */
        ex_addk(g, &e, cond1, -1);
        e.lo = 0;
        e.hi = 1;
        return e;
    }
    struct expr x = refresh_if(g, a, 1), y = refresh_if(g, b, 1);
    struct expr in = *cond8;
    ex_addk(g, &in, &y, 2);
    ex_addk(g, &in, &x, 1);
    return ex_node(g, g_fn(g, &in, fn_select_bit, 0));
}

/* cond1 is a free twin of cond8: the match's final PBS had an input below 8,
 * so both tables ride on one two-function PBS. */
static int cond1_free(const struct graph *g, const struct expr *cond1)
{
    return cond1->n == 1 && cond1->t[0].ext == NULL && cond1->t[0].node >= 0 &&
           g->nodes[cond1->t[0].node].secondary;
}

/* cond ? b : a for one packed index block (two label bits, 0..3): equal
 * constants stay; two different constants are a + (b - a) cond1, linear (no
 * PBS) when cond1 came free with cond8 (noise |b - a| <= 3, refreshed by a
 * later match only if its budget asks); anything else is one select_block
 * PBS on cond8. */
static struct expr select_index_block(struct graph *g, const struct expr *cond1,
                                      const struct expr *cond8, struct expr *a, struct expr *b,
                                      uint64_t mx)
{
    if (a->n == 0 && b->n == 0 && a->cst == b->cst)
        return *a;
    if (a->n == 0 && b->n == 0 && cond1_free(g, cond1)) {
        struct expr e = ex_const(a->cst);
        ex_addk(g, &e, cond1, b->cst - a->cst);
        e.lo = a->cst < b->cst ? a->cst : b->cst;
        e.hi = a->cst < b->cst ? b->cst : a->cst;
        return e;
    }
    fit_pair(g, a, b, mx - 1);
    return select_block(g, cond8, b, a);
}

static int fn_lt4(int v, int scale)
{
    return v < 4 ? scale : 0;
}

/* A match's [B < A] from its items B_k - A_k + 3 (lowest block first) as a
 * borrow ripple, one PBS per block: borrow_k = [raw_k - 3 - borrow_{k-1} < 0]
 * = [v < 4] with v = raw_k - borrow_{k-1} + 1 in [0, 7] (noise: the item's
 * plus 1). Every input is below 8, so the last one yields 8 [B < A] (for the
 * selects) and [B < A] (for label constants and index bits) in one
 * two-function PBS: nb PBS per match where the base-3 lookahead of
 * lt_reduce takes ~1.4 nb (fewer levels, more PBS; a tournament has many
 * matches side by side, so PBS, not depth, bound its time). */
static void ripple_lt(struct graph *g, const struct item *items, size_t n, struct expr conds[2])
{
    struct expr borrow = ex_const(0);
    for (size_t k = 0; k < n && !g->failed; k++) {
        struct expr v = items[k].raw;
        ex_addk(g, &v, &borrow, -1);
        ex_add_const(&v, 1);
        if (k + 1 < n) {
            borrow = ex_node(g, g_fn(g, &v, fn_lt4, 1));
            continue;
        }
        conds[0] = ex_node(g, g_fn(g, &v, fn_lt4, 8));
        conds[1] = ex_node(g, g_fn(g, &v, fn_lt4, 1));
    }
}

/* Tournament over c[0..m): round after round, neighbours are paired (the lower
 * position on the left, A) and B wins only if strictly better (min: B < A; max:
 * A < B), so ties keep the earlier position; the winner ends in c[0]. Each match
 * compares the nb blocks, then selects the blocks and the n_bits index bits. */
static void tournament(struct graph *g, struct candidate *c, size_t m, size_t nb, size_t n_cmp,
                       unsigned n_bits, int want_max, uint64_t mx, int packed)
{
    while (m > 1 && !g->failed) {
        size_t w = 0;
        for (size_t i = 0; i < m; i += 2) {
            if (i + 1 == m) {
                struct candidate t = c[w];
                c[w] = c[i];
                if (w != i)
                    c[i] = t;
                w++;
                continue;
            }
            struct candidate *A = &c[i], *B = &c[i + 1];
            for (size_t k = 0; k < nb; k++)
                fit_pair(g, &A->blocks[k], &B->blocks[k], mx - 1);
            struct item *items = want_max ? borrow_items(g, A->blocks, B->blocks, n_cmp)
                                          : borrow_items(g, B->blocks, A->blocks, n_cmp);
            if (!items)
                return;
            /* 8*cond for the selects and cond for the index bits (packed index
             * blocks are selected like key blocks, and cond, pruned when
             * unread, selects two constant blocks linearly) */
            struct expr conds[2] = {ex_const(0), ex_const(0)};
            ripple_lt(g, items, n_cmp, conds);
            free(items);
            for (size_t k = 0; k < nb; k++)
                A->blocks[k] = select_block(g, &conds[0], &B->blocks[k], &A->blocks[k]);
            for (unsigned k = 0; k < n_bits; k++) {
                if (packed)
                    A->bits[k] =
                        select_index_block(g, &conds[1], &conds[0], &A->bits[k], &B->bits[k], mx);
                else
                    A->bits[k] = select_bit(g, &conds[1], &conds[0], &A->bits[k], &B->bits[k]);
            }
            free(B->blocks);
            B->blocks = NULL;
            free(B->bits);
            B->bits = NULL;
            struct candidate t = c[w];
            c[w] = c[i];
            if (w != i)
                c[i] = t;
            w++;
        }
        m = w;
    }
}

/* The winner's index bits, two per block, into index_out. */
static void emit_index(struct graph *g, const struct candidate *winner, unsigned n_bits,
                       struct veil_radix *index_out)
{
    for (size_t k = 0; k < index_out->n_blocks; k++) {
        struct expr e = ex_const(0);
        if (2 * k < n_bits)
            ex_addk(g, &e, &winner->bits[2 * k], 1);
        if (2 * k + 1 < n_bits)
            ex_addk(g, &e, &winner->bits[2 * k + 1], 2);
        g_output(g, &e, &index_out->blocks[k]);
    }
}

int veil_int_argext(struct veil_int_server *s, int want_max, const struct veil_radix *vals,
                    size_t n, unsigned index_width, struct veil_radix *index_out,
                    struct veil_radix *value_out, veil_err *err)
{
    memset(index_out, 0, sizeof *index_out);
    if (value_out)
        memset(value_out, 0, sizeof *value_out);
    if (n == 0)
        return veil_err_set(err, VEIL_E_INVALID, "argmin/argmax of an empty list");
    if (index_width == 1 || veil_radix_blocks_for_width(index_width) == 0)
        return veil_err_set(err, VEIL_E_INVALID, "bad index width %u", index_width);
    if (index_width < 64 && (uint64_t)(n - 1) >> index_width)
        return veil_err_set(err, VEIL_E_RANGE, "%zu inputs do not fit a %u-bit index", n,
                            index_width);
    for (size_t i = 0; i < n; i++)
        if (check_same_width(&vals[0], &vals[i], err) != 0 || check_blocks(&vals[i], err) != 0)
            return -1;
    unsigned n_bits = 0;
    while (n_bits < 64 && ((uint64_t)(n - 1) >> n_bits) != 0)
        n_bits++;
    size_t nb = vals[0].n_blocks;
    if (veil_radix_init(index_out, s->params, index_width, err) != 0)
        return -1;
    if (value_out && veil_radix_init(value_out, s->params, vals[0].width, err) != 0) {
        veil_radix_free(index_out);
        return -1;
    }
    struct graph g;
    graph_init(&g, s, err);
    uint64_t mx = max_noise(s);
    struct candidate *c = calloc(n, sizeof *c);
    if (!c) {
        graph_fail(&g, VEIL_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        c[i].blocks = load_blocks(&g, &vals[i], mx);
        c[i].bits = calloc(n_bits ? n_bits : 1, sizeof *c[i].bits);
        if (!c[i].bits) {
            graph_fail(&g, VEIL_E_NOMEM, "out of memory");
            break;
        }
        for (unsigned k = 0; k < n_bits; k++)
            c[i].bits[k] = ex_const((int64_t)((i >> k) & 1));
    }
    tournament(&g, c, n, nb, nb, n_bits, want_max, mx, 0);
    if (!g.failed) {
        emit_index(&g, &c[0], n_bits, index_out);
        if (value_out)
            for (size_t k = 0; k < nb; k++)
                g_output(&g, &c[0].blocks[k], &value_out->blocks[k]);
    }
done:
    if (c) {
        for (size_t i = 0; i < n; i++) {
            free(c[i].blocks);
            free(c[i].bits);
        }
        free(c);
    }
    int rc = graph_run(&g);
    graph_free(&g);
    if (rc != 0) {
        veil_radix_free(index_out);
        if (value_out)
            veil_radix_free(value_out);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Scheduling operations (issue 7): sums of bit fields, a flag block on top  */
/* of a value, and an argmin with caller-given labels and a "found" bit.     */
/* ------------------------------------------------------------------------ */

static int fn_div4(int x, int arg)
{
    (void)arg;
    return x >> 2;
}

static int fn_masked(int x, int arg)
{
    (void)arg; /* x = 4 mask + block */
    return x >= 4 ? x - 4 : 0;
}

/* Blocks [first, first + count) of a as expressions (blocks past the end are the
 * constant 0), noise-refreshed to max_noise; with a mask (a boolean), each block
 * is the PBS output mask ? block : 0 (noise 1). */
static void field_blocks(struct graph *g, const struct veil_radix *a, size_t first, size_t count,
                         uint64_t max_noise, const struct veil_radix *mask, struct expr *out)
{
    struct expr m = ex_const(0);
    if (mask) {
        m = ex_ext(&mask->blocks[0]);
        m = refresh_if(g, &m, 1); /* 4 mask + block within the budget */
    }
    for (size_t i = 0; i < count; i++) {
        if (first + i >= a->n_blocks) {
            out[i] = ex_const(0);
            continue;
        }
        struct expr x = ex_ext(&a->blocks[first + i]);
        if (!mask) {
            out[i] = refresh_if(g, &x, max_noise);
            continue;
        }
        /* mask ? block : 0 in one PBS of 4 mask + block */
        x = refresh_if(g, &x, max_noise - 4);
        struct expr in = ex_const(0);
        ex_addk(g, &in, &m, 4);
        ex_addk(g, &in, &x, 1);
        out[i] = ex_node(g, g_fn(g, &in, fn_masked, 0));
    }
}

/* dst <- src block (a plain copy: no PBS). */
static void copy_block(const struct veil_int_server *s, struct veil_shortint_ct *dst,
                       const struct veil_shortint_ct *src)
{
    veil_shortint_ct_copy(dst, src, s->params);
}

int veil_int_sum_bits(struct veil_int_server *s, const struct veil_radix *vals,
                      const struct veil_radix *masks, size_t n, unsigned shift, unsigned bits,
                      struct veil_radix *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return veil_err_set(err, VEIL_E_INVALID, "sum of bit fields: no operand");
    for (size_t i = 0; i < n; i++) {
        if (check_same_width(&vals[0], &vals[i], err) != 0 || check_blocks(&vals[i], err) != 0)
            return -1;
        if (masks && (masks[i].width != 1 || check_blocks(&masks[i], err) != 0))
            return veil_err_set(err, VEIL_E_INVALID, "sum of bit fields: mask %zu is not a boolean",
                                i);
    }
    unsigned w = vals[0].width;
    if (w == 1)
        return veil_err_set(err, VEIL_E_INVALID, "sum of bit fields is not defined on booleans");
    if (shift % 2 || bits % 2 || bits == 0 || bits > w)
        return veil_err_set(err, VEIL_E_INVALID,
                            "sum of bit fields: shift %u and width %u must be even, 2..%u bits",
                            shift, bits, w);
    /* The sum must fit: n (2^bits - 1) < 2^w, so no carry is ever dropped. */
    if (w < 64 && (bits >= 64 || (uint64_t)n > ((1ull << w) - 1) / ((1ull << bits) - 1)))
        return veil_err_set(err, VEIL_E_RANGE, "a sum of %zu fields of %u bits overflows %u bits",
                            n, bits, w);
    if (w == 64 && n > 1)
        return veil_err_set(err, VEIL_E_RANGE, "sum of bit fields: 64-bit sums are not supported");
    if (veil_radix_init(out, s->params, w, err) != 0)
        return -1;
    size_t nb = out->n_blocks, first = shift / 2, live = bits / 2;
    if (n == 1 && !masks) { /* a field of one value: block moves only */
        for (size_t i = 0; i < live && first + i < nb; i++)
            copy_block(s, &out->blocks[i], &vals[0].blocks[first + i]);
        return 0;
    }
    if (n == 1) { /* one masked field: one PBS per block */
        struct graph g;
        graph_init(&g, s, err);
        struct expr *a = calloc(live, sizeof *a);
        if (!a)
            graph_fail(&g, VEIL_E_NOMEM, "out of memory");
        else
            field_blocks(&g, &vals[0], first, live, max_noise(s), &masks[0], a);
        for (size_t i = 0; a && i < live && i < nb; i++)
            g_output(&g, &a[i], &out->blocks[i]);
        free(a);
        return finish(&g, out);
    }
    uint64_t total = (uint64_t)n * ((1ull << bits) - 1); /* the sum's bound */
    size_t total_len = 0;
    while (total_len < nb && (total >> (2 * total_len)) != 0)
        total_len++;
    if (n >= 3 && n <= 5 && n <= max_noise(s)) {
        /* Three to five fields: each column of field blocks (noise 1 each, at most
         * 3 n <= 15) is split by two PBS into its low digit and its carry (<= 3)
         * to the next column; those columns (<= 6) take one propagation: 2 PBS per
         * column plus one propagation instead of n - 1 propagations. */
        struct graph g;
        graph_init(&g, s, err);
        struct expr *f = calloc(n * live, sizeof *f), *col = calloc(nb, sizeof *col);
        if (!f || !col)
            graph_fail(&g, VEIL_E_NOMEM, "out of memory");
        for (size_t j = 0; f && j < n && !g.failed; j++)
            field_blocks(&g, &vals[j], first, live, masks ? max_noise(s) : 1,
                         masks ? &masks[j] : NULL, f + j * live);
        for (size_t i = 0; col && i < nb; i++)
            col[i] = ex_const(0);
        for (size_t i = 0; f && col && i < live && !g.failed; i++) {
            struct expr sum = ex_const(0);
            for (size_t j = 0; j < n; j++) {
                struct expr x = refresh_if(&g, &f[j * live + i], 1);
                ex_addk(&g, &sum, &x, 1);
            }
            struct expr lo = ex_node(&g, g_fn(&g, &sum, fn_mod4, 0));
            ex_addk(&g, &col[i], &lo, 1);
            if (i + 1 < total_len) {
                struct expr hi = ex_node(&g, g_fn(&g, &sum, fn_div4, 0));
                ex_addk(&g, &col[i + 1], &hi, 1);
            }
        }
        if (!g.failed) {
            struct veil_radix view = *out;
            view.n_blocks = total_len;
            propagate(&g, col, &view);
        }
        free(f);
        free(col);
        return finish(&g, out);
    }
    /* acc (len blocks, clean) += next field, one propagation (one graph) per operand:
     * the column sums stay <= 6 as propagate() requires. */
    struct veil_radix acc = {0}, tmp = {0};
    int rc = 0;
    size_t len = live;
    uint64_t mx = max_noise(s);
    for (size_t j = 1; j < n && rc == 0; j++) {
        /* blocks the partial sum of j + 1 fields can reach (so that the blocks
         * above the final range stay trivially zero) */
        uint64_t reach = (uint64_t)(j + 1) * ((1ull << bits) - 1);
        size_t out_len = 0;
        while (out_len < nb && (reach >> (2 * out_len)) != 0)
            out_len++;
        struct graph g;
        graph_init(&g, s, err);
        struct expr *a = calloc(nb, sizeof *a), *b = calloc(nb, sizeof *b);
        struct expr *col = calloc(nb, sizeof *col);
        if (veil_radix_init(&tmp, s->params, w, err) != 0)
            g.failed = 1;
        else if (!a || !b || !col)
            graph_fail(&g, VEIL_E_NOMEM, "out of memory");
        if (!g.failed) {
            /* fields are truncated to `live` blocks; the accumulator has len */
            if (j == 1)
                field_blocks(&g, &vals[0], first, live, mx, masks ? &masks[0] : NULL, a);
            else
                field_blocks(&g, &acc, 0, len, mx, NULL, a);
            for (size_t i = j == 1 ? live : len; i < out_len; i++)
                a[i] = ex_const(0);
            field_blocks(&g, &vals[j], first, live, mx, masks ? &masks[j] : NULL, b);
            for (size_t i = live; i < out_len; i++)
                b[i] = ex_const(0);
            for (size_t i = 0; i < out_len; i++) {
                fit_pair(&g, &a[i], &b[i], mx - 1);
                col[i] = a[i];
                ex_addk(&g, &col[i], &b[i], 1);
            }
            /* propagate() fills out_len blocks of a view of tmp; the rest stay 0 */
            struct veil_radix view = tmp;
            view.n_blocks = out_len;
            propagate(&g, col, &view);
        }
        free(a);
        free(b);
        free(col);
        rc = graph_run(&g);
        graph_free(&g);
        veil_radix_free(&acc);
        acc = tmp;
        memset(&tmp, 0, sizeof tmp);
        len = out_len;
    }
    if (rc != 0) {
        veil_radix_free(&acc);
        veil_radix_free(out);
        return -1;
    }
    veil_radix_free(out);
    *out = acc;
    return 0;
}

/* ---- weighted sums (the latency/load cost, docs/SCHEDULING.md) ------------ */

/* The bound of sum_i w_i field_i (a boolean's field is its value) and the
 * integer operands' width; -1 on operands veil_int_sum_weighted refuses. */
static int weighted_check(const struct veil_radix *vals, const uint64_t *weights, size_t n,
                          unsigned bits, unsigned *width, uint64_t *total, veil_err *err)
{
    *width = 0;
    *total = 0;
    if (n == 0 || n > 16)
        return veil_err_set(err, VEIL_E_INVALID, "weighted sum of %zu operands (1 to 16)", n);
    for (size_t i = 0; i < n; i++) {
        if (check_blocks(&vals[i], err) != 0)
            return -1;
        if (vals[i].width == 1)
            continue;
        if (*width && vals[i].width != *width)
            return veil_err_set(err, VEIL_E_MISMATCH, "weighted sum: widths %u and %u", *width,
                                vals[i].width);
        *width = vals[i].width;
    }
    if (*width == 0 || *width > 32)
        return veil_err_set(err, VEIL_E_INVALID,
                            "weighted sum: needs an integer operand of 8 to 32 bits");
    if (bits % 2 || bits == 0 || bits > *width)
        return veil_err_set(err, VEIL_E_INVALID, "weighted sum: field of %u bits (even, 2..%u)",
                            bits, *width);
    for (size_t i = 0; i < n; i++) {
        uint64_t top = vals[i].width == 1 ? 1 : (1ull << bits) - 1;
        if (weights[i] >= (1ull << *width) || *total + weights[i] * top >= (1ull << *width))
            return veil_err_set(err, VEIL_E_RANGE, "a weighted sum overflows %u bits", *width);
        *total += weights[i] * top;
    }
    return 0;
}

/* Pushes w * (field blocks of v) into the columns: each base-4 digit d of w
 * puts d x block into column (block + digit position), linear (no PBS; the
 * block refreshed first when d x its noise would pass the budget). */
static void weighted_push(struct graph *g, const struct veil_radix *v, uint64_t w, size_t live,
                          struct column *cols, size_t n_cols)
{
    uint64_t mx = max_noise(g->s);
    size_t nb = v->width == 1 ? 1 : live;
    for (size_t p = 0; w >> (2 * p) != 0 && p < n_cols; p++) {
        int64_t d = (int64_t)((w >> (2 * p)) & 3);
        for (size_t j = 0; d && j < nb && j + p < n_cols && !g->failed; j++) {
            struct expr x = ex_ext(&v->blocks[j]);
            x = refresh_if(g, &x, mx / (uint64_t)d);
            struct expr t = ex_const(0);
            ex_addk(g, &t, &x, d);
            col_push(g, &cols[j + p], &t);
        }
    }
}

int veil_int_sum_weighted(struct veil_int_server *s, const struct veil_radix *vals,
                          const uint64_t *weights, size_t n, unsigned bits, struct veil_radix *out,
                          veil_err *err)
{
    memset(out, 0, sizeof *out);
    unsigned w;
    uint64_t total;
    if (weighted_check(vals, weights, n, bits, &w, &total, err) != 0)
        return -1;
    if (veil_radix_init(out, s->params, w, err) != 0)
        return -1;
    size_t nb = out->n_blocks, len = 0;
    while (len < nb && (total >> (2 * len)) != 0)
        len++;
    if (len == 0)
        return 0; /* every weight 0: trivially zero */
    struct graph g;
    graph_init(&g, s, err);
    struct column *cols = calloc(len, sizeof *cols);
    struct expr *col = calloc(len, sizeof *col);
    if (!cols || !col)
        graph_fail(&g, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; cols && col && i < n && !g.failed; i++)
        weighted_push(&g, &vals[i], weights[i], bits / 2, cols, len);
    if (!g.failed) {
        /* the sum is below 4^len, so nothing is lost past column len - 1 and
         * the blocks above stay trivially zero */
        reduce_columns(&g, cols, len, col);
        struct veil_radix view = *out;
        view.n_blocks = len;
        propagate(&g, col, &view);
    }
    free(cols);
    free(col);
    return finish(&g, out);
}

static int fn_min3(int x, int arg)
{
    (void)arg;
    return x < 3 ? x : 3;
}

int veil_int_flag_top(struct veil_int_server *s, const struct veil_radix *val,
                      const struct veil_radix *flags, size_t n, struct veil_radix *out,
                      veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (check_blocks(val, err) != 0)
        return -1;
    if (val->width == 1)
        return veil_err_set(err, VEIL_E_INVALID, "flag block on a boolean");
    if (val->blocks[val->n_blocks - 1].degree != 0)
        return veil_err_set(err, VEIL_E_INVALID,
                            "flag block: the value's top block is not known to be zero");
    if (n > 15)
        return veil_err_set(err, VEIL_E_LIMIT, "flag block: %zu flags (at most 15)", n);
    for (size_t i = 0; i < n; i++) {
        if (flags[i].width != 1)
            return veil_err_set(err, VEIL_E_INVALID, "flag block: flag %zu is not a boolean", i);
        if (check_blocks(&flags[i], err) != 0)
            return -1;
    }
    if (veil_radix_init(out, s->params, val->width, err) != 0)
        return -1;
    size_t nb = val->n_blocks;
    for (size_t i = 0; i + 1 < nb; i++)
        copy_block(s, &out->blocks[i], &val->blocks[i]);
    struct graph g;
    graph_init(&g, s, err);
    uint64_t mx = max_noise(s);
    struct expr sum = ex_const(0);
    for (size_t i = 0; i < n && !g.failed; i++) {
        struct expr f = ex_ext(&flags[i].blocks[0]);
        /* over the noise budget: clamp the partial count (min(min(a, 3) + b, 3) =
         * min(a + b, 3)) and refresh the flag if still needed */
        if (ex_noise(&g, &sum) + ex_noise(&g, &f) > mx && sum.n > 0)
            sum = ex_node(&g, g_fn(&g, &sum, fn_min3, 0));
        if (ex_noise(&g, &sum) + ex_noise(&g, &f) > mx)
            f = refresh_if(&g, &f, 1);
        ex_addk(&g, &sum, &f, 1);
    }
    /* up to three flags are their own sum (<= 3, a valid block); more are clamped */
    if (n > 3)
        sum = ex_node(&g, g_fn(&g, &sum, fn_min3, 0));
    g_output(&g, &sum, &out->blocks[nb - 1]);
    return finish(&g, out);
}

static int fn_is_zero(int x, int arg)
{
    (void)arg;
    return x == 0;
}

/* [x < 4^n - 1] for x's n blocks (lowest first): a borrow ripple against
 * the all-ones constant (borrow_k = [x_k - 3 - borrow < 0] = [x_k - borrow +
 * 1 < 4]), one PBS per block. */
static struct expr below_all_ones(struct graph *g, const struct expr *blocks, size_t n, uint64_t mx)
{
    struct expr borrow = ex_const(0), out = ex_const(1);
    for (size_t k = 0; k < n && !g->failed; k++) {
        struct expr v = refresh_if(g, &blocks[k], mx - 1);
        ex_addk(g, &v, &borrow, -1);
        ex_add_const(&v, 1);
        struct expr b = ex_node(g, g_fn(g, &v, fn_lt4, 1));
        if (k + 1 < n)
            borrow = b;
        else
            out = b;
    }
    return out;
}

/* Node keys (veil_int_argmin_node_keys): from this many keys on, found is
 * read from the winner's low blocks (its last match selects all seven and a
 * ripple checks them: ~13 PBS once) instead of carrying the top block
 * through every match (one PBS each): 240 against 244 PBS at 16 keys, 1,004
 * against 1,064 at 64 (bench_node_keys). */
#define NODE_KEYS_LOW_FOUND_MIN 16

/* The labelled argmin with what a sharded round needs: labels public
 * (labels) or encrypted (enc_labels, index_width-bit radices: a shard's
 * winning index), and optionally the winner's key (key_out, vals' width; the
 * columns dead in every input stay trivially zero, so a merge skips them too).
 * low (node keys, 0 otherwise): only the live columns below `low` are
 * compared (they order the keys); found is the top block's as usual, or,
 * from NODE_KEYS_LOW_FOUND_MIN keys on, [low blocks not all ones] and the
 * columns above are neither compared nor selected. */
static int argmin_core(struct veil_int_server *s, const struct veil_radix *vals,
                       const uint64_t *labels, const struct veil_radix *enc_labels, size_t n,
                       size_t low, unsigned index_width, struct veil_radix *index_out,
                       struct veil_radix *found_out, struct veil_radix *key_out, veil_err *err)
{
    memset(index_out, 0, sizeof *index_out);
    if (found_out)
        memset(found_out, 0, sizeof *found_out);
    if (key_out)
        memset(key_out, 0, sizeof *key_out);
    if (n == 0)
        return veil_err_set(err, VEIL_E_INVALID, "argmin of an empty list");
    if (index_width == 1 || veil_radix_blocks_for_width(index_width) == 0)
        return veil_err_set(err, VEIL_E_INVALID, "bad index width %u", index_width);
    uint64_t all = 0;
    for (size_t i = 0; i < n; i++) {
        if (check_same_width(&vals[0], &vals[i], err) != 0 || check_blocks(&vals[i], err) != 0)
            return -1;
        if (enc_labels) {
            if (enc_labels[i].width != index_width)
                return veil_err_set(err, VEIL_E_MISMATCH, "index %zu is %u bits, not %u", i,
                                    enc_labels[i].width, index_width);
            if (check_blocks(&enc_labels[i], err) != 0)
                return -1;
            continue;
        }
        if (index_width < 64 && labels[i] >> index_width)
            return veil_err_set(err, VEIL_E_RANGE, "label %llu does not fit a %u-bit index",
                                (unsigned long long)labels[i], index_width);
        all |= labels[i];
    }
    if (vals[0].width == 1)
        return veil_err_set(err, VEIL_E_INVALID, "argmin over booleans");
    unsigned n_bits = 0;
    while (n_bits < 64 && (all >> n_bits) != 0)
        n_bits++;
    /* packed index blocks: the labels' used bits, or the blocks of an encrypted
     * index up to the last one not trivially zero in every input (a shard's
     * index above its labels' bits is) */
    unsigned n_idx = (n_bits + 1) / 2;
    for (size_t i = 0; enc_labels && i < n; i++)
        for (unsigned k = (unsigned)enc_labels[i].n_blocks; k > n_idx; k--)
            if (enc_labels[i].blocks[k - 1].degree != 0) {
                n_idx = k;
                break;
            }
    /* Columns that are trivially zero (degree 0) in every input are equal
     * everywhere: they are neither compared nor selected (e.g. the unused high
     * blocks of an 8-bit priority carried in a 16-bit key). */
    size_t full = vals[0].n_blocks, nb = 0;
    size_t *cols = calloc(full, sizeof *cols);
    if (!cols)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t k = 0; k < full; k++) {
        int live = 0;
        for (size_t i = 0; i < n && !live; i++)
            live = vals[i].blocks[k].degree != 0;
        if (live)
            cols[nb++] = k;
    }
    int top_live = nb > 0 && cols[nb - 1] == full - 1;
    size_t n_cmp = nb;
    int found_low = low > 0 && n >= NODE_KEYS_LOW_FOUND_MIN;
    if (low > 0) {
        for (n_cmp = 0; n_cmp < nb && cols[n_cmp] < low;)
            n_cmp++;
        if (found_low)
            nb = n_cmp; /* nothing above the low blocks is carried */
    }
    if (veil_radix_init(index_out, s->params, index_width, err) != 0 ||
        (found_out && veil_radix_init(found_out, s->params, 1, err) != 0) ||
        (key_out && veil_radix_init(key_out, s->params, vals[0].width, err) != 0)) {
        veil_radix_free(index_out);
        if (found_out)
            veil_radix_free(found_out);
        free(cols);
        return -1;
    }
    struct graph g;
    graph_init(&g, s, err);
    uint64_t mx = max_noise(s);
    struct candidate *c = calloc(n, sizeof *c);
    if (!c) {
        graph_fail(&g, VEIL_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        c[i].blocks = calloc(nb ? nb : 1, sizeof *c[i].blocks);
        if (c[i].blocks)
            for (size_t k = 0; k < nb; k++) {
                struct expr x = ex_ext(&vals[i].blocks[cols[k]]);
                c[i].blocks[k] = refresh_if(&g, &x, mx);
            }
        c[i].bits = calloc(n_idx ? n_idx : 1, sizeof *c[i].bits);
        if (!c[i].blocks || !c[i].bits) {
            graph_fail(&g, VEIL_E_NOMEM, "out of memory");
            break;
        }
        for (unsigned k = 0; k < n_idx; k++) {
            if (enc_labels) {
                struct expr x = ex_ext(&enc_labels[i].blocks[k]);
                c[i].bits[k] = refresh_if(&g, &x, mx - 1);
            } else {
                c[i].bits[k] = ex_const((int64_t)((labels[i] >> (2 * k)) & 3));
            }
        }
    }
    /* The tournament of veil_int_argext (want_max = 0) over the live columns; the
     * labels are carried packed, two bits per block (constants until a match
     * makes them data), and selected like key blocks: one PBS per two bits and
     * no second final PBS per match. With no live column every key is 0: the
     * first position wins. */
    tournament(&g, c, nb ? n : 1, nb, n_cmp, n_idx, 0, mx, 1);
    if (!g.failed) {
        for (size_t k = 0; k < index_out->n_blocks; k++) {
            struct expr e = k < n_idx ? refresh_if(&g, &c[0].bits[k], 3) : ex_const(0);
            g_output(&g, &e, &index_out->blocks[k]);
        }
        if (found_out && found_low) {
            /* a dead low column is 0 in every key: none is all ones */
            struct expr f = n_cmp == low ? below_all_ones(&g, c[0].blocks, n_cmp, mx) : ex_const(1);
            g_output(&g, &f, &found_out->blocks[0]);
        } else if (found_out && top_live) {
            /* found: the winner is below 2^(width - 2), i.e. its top block is 0;
             * only that block of the last match's selection is computed */
            struct expr top = refresh_if(&g, &c[0].blocks[nb - 1], mx);
            struct expr f = ex_node(&g, g_fn(&g, &top, fn_is_zero, 0));
            g_output(&g, &f, &found_out->blocks[0]);
        } else if (found_out) {
            struct expr one = ex_const(1); /* every top block is trivially zero */
            g_output(&g, &one, &found_out->blocks[0]);
        }
        for (size_t k = 0, live = 0; key_out && k < full; k++) {
            struct expr e = ex_const(0);
            if (live < nb && cols[live] == k)
                e = c[0].blocks[live++];
            g_output(&g, &e, &key_out->blocks[k]);
        }
    }
done:
    if (c) {
        for (size_t i = 0; i < n; i++) {
            free(c[i].blocks);
            free(c[i].bits);
        }
        free(c);
    }
    free(cols);
    int rc = graph_run(&g);
    graph_free(&g);
    if (rc != 0) {
        veil_radix_free(index_out);
        if (found_out)
            veil_radix_free(found_out);
        if (key_out)
            veil_radix_free(key_out);
    }
    return rc;
}

int veil_int_argmin_labeled(struct veil_int_server *s, const struct veil_radix *vals,
                            const uint64_t *labels, size_t n, unsigned index_width,
                            struct veil_radix *index_out, struct veil_radix *found_out,
                            veil_err *err)
{
    return argmin_core(s, vals, labels, NULL, n, 0, index_width, index_out, found_out, NULL, err);
}

int veil_int_argmin_node_keys(struct veil_int_server *s, const struct veil_radix *vals,
                              const uint64_t *labels, size_t n, unsigned index_width,
                              struct veil_radix *index_out, struct veil_radix *found_out,
                              veil_err *err)
{
    if (n > 0 && vals[0].width != 16)
        return veil_err_set(err, VEIL_E_INVALID, "node keys are 16-bit, not %u", vals[0].width);
    return argmin_core(s, vals, labels, NULL, n, 7, index_width, index_out, found_out, NULL, err);
}

/* ---- sharded rounds (integer.h): a shard's winner with its key, and the
 * merge of the shards' encrypted (key, index) winners. */

int veil_int_argmin_keyed(struct veil_int_server *s, const struct veil_radix *vals,
                          const uint64_t *labels, size_t n, unsigned index_width,
                          struct veil_radix *index_out, struct veil_radix *found_out,
                          struct veil_radix *key_out, veil_err *err)
{
    return argmin_core(s, vals, labels, NULL, n, 0, index_width, index_out, found_out, key_out,
                       err);
}

int veil_int_argmin_merge(struct veil_int_server *s, const struct veil_radix *keys,
                          const struct veil_radix *indices, size_t n,
                          struct veil_radix *index_out, struct veil_radix *found_out,
                          struct veil_radix *key_out, veil_err *err)
{
    if (n == 0)
        return veil_err_set(err, VEIL_E_INVALID, "merge of no shard");
    return argmin_core(s, keys, NULL, indices, n, 0, indices[0].width, index_out, found_out,
                       key_out, err);
}

/* ---- replicas in one round: k argmins over the same keys, each winner's
 * key flagged before the next tournament (docs/SCHEDULING.md). The key's top
 * block becomes min(top + [index == label], 3): the chosen node turns
 * infeasible, exactly as a new round that excludes it (veil_sched_replicas).
 * [index == label] is shared work: the winner's index is read as 4-bit digits
 * (two blocks each), [digit == v] is one PBS per (position, value) the labels
 * use, and each node adds its digits' bits, so a node pays one PBS per extra
 * replica besides the tournament (two with more than two digit positions). */

static int fn_eq_of(int x, int v)
{
    return x == v;
}

/* min(top + [s == n_pos], 3) from top * (n_pos + 1) + s (n_pos <= 2). */
static int fn_flag_eq(int x, int n_pos)
{
    int top = x / (n_pos + 1), hit = x % (n_pos + 1) == n_pos;
    return top + hit < 3 ? top + hit : 3;
}

static int fn_min3_sum(int x, int arg)
{
    return x >= arg ? 3 : x; /* arg = 3: clamp */
}

/* A column is compared when some key has data in it (dead: constant 0). */
static size_t live_columns(struct expr **cur, size_t n, size_t full, size_t *cols)
{
    size_t nb = 0;
    for (size_t k = 0; k < full; k++) {
        int live = 0;
        for (size_t i = 0; i < n && !live; i++)
            live = cur[i][k].n > 0 || cur[i][k].cst != 0;
        if (live)
            cols[nb++] = k;
    }
    return nb;
}

/* What a replicas tournament carries besides the keys: the public labels the
 * winner is flagged by (n_lab packed blocks), and optionally an encrypted
 * payload (enc: index radices, n_enc live blocks) that becomes the output
 * index in place of the labels (the merge of shards' k-lists: flagged by
 * position, the payload is the shard's encrypted node index). ranks (the
 * merge's k; 0: none): candidate i is rank i % ranks of its list, and
 * tournament j runs over the ranks <= j only (veil_int_argmin_merge_replicas
 * says why nothing else can win it). */
struct replica_in {
    const uint64_t *labels;
    unsigned n_lab;
    const struct veil_radix *enc;
    unsigned n_enc;
    size_t ranks;
};

/* Candidate i for one replica tournament over the live columns cols[0..nb). */
static int replica_candidate(struct graph *g, struct candidate *c, struct expr *cur,
                             const struct replica_in *in, size_t i, const size_t *cols, size_t nb)
{
    uint64_t mx = max_noise(g->s);
    unsigned n_bits = in->n_lab + in->n_enc;
    c->blocks = calloc(nb ? nb : 1, sizeof *c->blocks);
    c->bits = calloc(n_bits ? n_bits : 1, sizeof *c->bits);
    if (!c->blocks || !c->bits) {
        graph_fail(g, VEIL_E_NOMEM, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < nb; k++)
        c->blocks[k] = refresh_if(g, &cur[cols[k]], mx);
    for (unsigned k = 0; k < in->n_lab; k++)
        c->bits[k] = ex_const((int64_t)((in->labels[i] >> (2 * k)) & 3));
    for (unsigned k = 0; k < in->n_enc; k++) {
        struct expr x = ex_ext(&in->enc[i].blocks[k]);
        c->bits[in->n_lab + k] = refresh_if(g, &x, mx - 1);
    }
    return 0;
}

/* The winner's outputs: its index (the payload if any, else its label), its
 * found bit and (key_out, may be NULL) its current key. */
static void replica_emit(struct graph *g, const struct candidate *w, const struct replica_in *in,
                         const size_t *cols, size_t nb, size_t full, struct veil_radix *index_out,
                         struct veil_radix *found_out, struct veil_radix *key_out)
{
    uint64_t mx = max_noise(g->s);
    unsigned from = in->enc ? in->n_lab : 0, n_out = in->enc ? in->n_enc : in->n_lab;
    for (size_t k = 0; k < index_out->n_blocks; k++) {
        struct expr e = k < n_out ? refresh_if(g, &w->bits[from + k], 3) : ex_const(0);
        g_output(g, &e, &index_out->blocks[k]);
    }
    struct expr f = ex_const(1);
    if (nb > 0 && cols[nb - 1] == full - 1) {
        struct expr top = refresh_if(g, &w->blocks[nb - 1], mx);
        f = ex_node(g, g_fn(g, &top, fn_is_zero, 0));
    }
    g_output(g, &f, &found_out->blocks[0]);
    for (size_t k = 0, live = 0; key_out && k < full; k++) {
        struct expr e = ex_const(0);
        if (live < nb && cols[live] == k)
            e = w->blocks[live++];
        g_output(g, &e, &key_out->blocks[k]);
    }
}

/* One tournament over the current keys of the candidates sel[0..n) (cur[t]
 * is candidate sel[t]'s key), in that order; the winner's label blocks
 * (refreshed to noise 1) into idx[0..n_lab) and its outputs into index_out /
 * found_out / key_out (may be NULL). */
static void replica_round(struct graph *g, struct expr **cur, const struct replica_in *in,
                          const size_t *sel, size_t n, size_t full, struct expr *idx,
                          struct veil_radix *index_out, struct veil_radix *found_out,
                          struct veil_radix *key_out)
{
    uint64_t mx = max_noise(g->s);
    size_t *cols = calloc(full, sizeof *cols);
    struct candidate *c = calloc(n, sizeof *c);
    if (!cols || !c) {
        graph_fail(g, VEIL_E_NOMEM, "out of memory");
        goto out;
    }
    size_t nb = live_columns(cur, n, full, cols);
    for (size_t i = 0; i < n && !g->failed; i++)
        if (replica_candidate(g, &c[i], cur[i], in, sel[i], cols, nb) != 0)
            break;
    if (!g->failed)
        tournament(g, c, nb ? n : 1, nb, nb, in->n_lab + in->n_enc, 0, mx, 1);
    if (g->failed)
        goto out;
    replica_emit(g, &c[0], in, cols, nb, full, index_out, found_out, key_out);
    for (unsigned k = 0; k < in->n_lab; k++)
        idx[k] = refresh_if(g, &c[0].bits[k], 1);
out:
    if (c)
        for (size_t i = 0; i < n; i++) {
            free(c[i].blocks);
            free(c[i].bits);
        }
    free(c);
    free(cols);
}

/* Flags the winner (index blocks idx, noise 1) among the candidates sel[0..n)
 * (cur[t] is candidate sel[t]'s key): each one's top block becomes
 * min(top + [winner == label], 3). */
static void flag_winner(struct graph *g, struct expr **cur, const uint64_t *labels,
                        const size_t *sel, size_t n, size_t full, unsigned n_idx,
                        const struct expr *idx)
{
    unsigned n_pos = (n_idx + 1) / 2; /* 4-bit digits of the index */
    struct expr onehot[8][16];
    int have[8][16];
    memset(have, 0, sizeof have);
    struct expr digit[8];
    for (unsigned p = 0; p < n_pos; p++) {
        digit[p] = idx[2 * p];
        if (2 * p + 1 < n_idx)
            ex_addk(g, &digit[p], &idx[2 * p + 1], 4);
    }
    for (size_t i = 0; i < n && !g->failed; i++) {
        struct expr s = ex_const(0);
        for (unsigned p = 0; p < n_pos; p++) {
            int v = (int)((labels[sel[i]] >> (4 * p)) & 15);
            if (!have[p][v]) {
                onehot[p][v] = ex_node(g, g_fn(g, &digit[p], fn_eq_of, v));
                have[p][v] = 1;
            }
            ex_addk(g, &s, &onehot[p][v], 1);
        }
        struct expr top = refresh_if(g, &cur[i][full - 1], 1);
        if (n_pos <= 2) { /* top * (n_pos + 1) + s <= 3 * 3 + 2 = 11 */
            struct expr in = s;
            ex_addk(g, &in, &top, (int64_t)n_pos + 1);
            cur[i][full - 1] = ex_node(g, g_fn(g, &in, fn_flag_eq, (int)n_pos));
        } else { /* [s == n_pos], then min(top + hit, 3) */
            struct expr hit = ex_node(g, g_fn(g, &s, fn_eq_of, (int)n_pos));
            ex_addk(g, &hit, &top, 1);
            cur[i][full - 1] = ex_node(g, g_fn(g, &hit, fn_min3_sum, 3));
        }
    }
}

/* Checks the keys and the labels (public flag labels, below 2^16) and sets
 * in->n_lab from the labels' used bits. */
static int replicas_check(const struct veil_radix *vals, const uint64_t *labels, size_t n,
                          unsigned index_width, size_t k, struct replica_in *in, veil_err *err)
{
    uint64_t all = 0;
    if (n == 0 || k == 0 || k > 64 || vals[0].width == 1 ||
        veil_radix_blocks_for_width(index_width) < 4)
        return veil_err_set(err, VEIL_E_INVALID, "replicas: %zu of %zu keys, %u-bit index", k, n,
                            index_width);
    for (size_t i = 0; i < n; i++) {
        if (check_same_width(&vals[0], &vals[i], err) != 0 || check_blocks(&vals[i], err) != 0)
            return -1;
        if (index_width < 64 && labels[i] >> index_width)
            return veil_err_set(err, VEIL_E_RANGE, "label %llu does not fit a %u-bit index",
                                (unsigned long long)labels[i], index_width);
        all |= labels[i];
    }
    unsigned n_bits = 0;
    while (n_bits < 16 && (all >> n_bits) != 0)
        n_bits++;
    if (all >> 16)
        return veil_err_set(err, VEIL_E_LIMIT, "replicas: labels above 16 bits");
    in->labels = labels;
    in->n_lab = n_bits ? (n_bits + 1) / 2 : 1;
    return 0;
}

static void replicas_free(struct veil_radix *index_out, struct veil_radix *found_out,
                          struct veil_radix *key_out, size_t k)
{
    for (size_t r = 0; r < k; r++) {
        veil_radix_free(&index_out[r]);
        veil_radix_free(&found_out[r]);
        if (key_out)
            veil_radix_free(&key_out[r]);
    }
}

static int replicas_init(struct veil_int_server *s, unsigned index_width, unsigned key_width,
                         size_t k, struct veil_radix *index_out, struct veil_radix *found_out,
                         struct veil_radix *key_out, veil_err *err)
{
    memset(index_out, 0, k * sizeof *index_out);
    memset(found_out, 0, k * sizeof *found_out);
    if (key_out)
        memset(key_out, 0, k * sizeof *key_out);
    for (size_t r = 0; r < k; r++)
        if (veil_radix_init(&index_out[r], s->params, index_width, err) != 0 ||
            veil_radix_init(&found_out[r], s->params, 1, err) != 0 ||
            (key_out && veil_radix_init(&key_out[r], s->params, key_width, err) != 0)) {
            replicas_free(index_out, found_out, key_out, k);
            return -1;
        }
    return 0;
}

/* The candidates of tournament r, in position order: all of them, or those
 * of rank <= r (in->ranks); their keys' rows into sub. Returns their count. */
static size_t replica_select(const struct replica_in *in, struct expr **cur, size_t n, size_t r,
                             size_t *sel, struct expr **sub)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (in->ranks == 0 || i % in->ranks <= r) {
            sel[m] = i;
            sub[m++] = cur[i];
        }
    return m;
}

/* k tournaments over vals (each over replica_select's candidates), the
 * winner flagged by its label after each one but the last (nothing follows
 * it); the candidates of a tournament are the only ones its winner can be, so
 * only their keys are flagged. */
static int argmin_replicas_core(struct veil_int_server *s, const struct veil_radix *vals,
                                const struct replica_in *in, size_t n, unsigned index_width,
                                size_t k, struct veil_radix *index_out,
                                struct veil_radix *found_out, struct veil_radix *key_out,
                                veil_err *err)
{
    size_t full = vals[0].n_blocks;
    if (replicas_init(s, index_width, vals[0].width, k, index_out, found_out, key_out, err) != 0)
        return -1;
    struct graph g;
    graph_init(&g, s, err);
    struct expr **cur = calloc(n, sizeof *cur), **sub = calloc(n, sizeof *sub);
    size_t *sel = calloc(n, sizeof *sel);
    struct expr idx[8];
    for (size_t i = 0; cur && i < n && !g.failed; i++) {
        cur[i] = calloc(full, sizeof *cur[i]);
        if (!cur[i]) {
            graph_fail(&g, VEIL_E_NOMEM, "out of memory");
            break;
        }
        for (size_t b = 0; b < full; b++) /* trivially zero blocks stay constants */
            cur[i][b] = vals[i].blocks[b].degree ? ex_ext(&vals[i].blocks[b]) : ex_const(0);
    }
    if (!cur || !sub || !sel)
        graph_fail(&g, VEIL_E_NOMEM, "out of memory");
    for (size_t r = 0; r < k && !g.failed; r++) {
        size_t m = replica_select(in, cur, n, r, sel, sub);
        replica_round(&g, sub, in, sel, m, full, idx, &index_out[r], &found_out[r],
                      key_out ? &key_out[r] : NULL);
        if (r + 1 < k && !g.failed)
            flag_winner(&g, sub, in->labels, sel, m, full, in->n_lab, idx);
    }
    for (size_t i = 0; cur && i < n; i++)
        free(cur[i]);
    free(cur);
    free(sub);
    free(sel);
    int rc = graph_run(&g);
    graph_free(&g);
    if (rc != 0)
        replicas_free(index_out, found_out, key_out, k);
    return rc;
}

int veil_int_argmin_replicas(struct veil_int_server *s, const struct veil_radix *vals,
                             const uint64_t *labels, size_t n, unsigned index_width, size_t k,
                             struct veil_radix *index_out, struct veil_radix *found_out,
                             struct veil_radix *key_out, veil_err *err)
{
    struct replica_in in = {0};
    if (replicas_check(vals, labels, n, index_width, k, &in, err) != 0)
        return -1;
    return argmin_replicas_core(s, vals, &in, n, index_width, k, index_out, found_out, key_out,
                                err);
}

/* The merge of the shards' k-lists (docs/SCHEDULING.md "Sharded rounds"):
 * candidate p = s k + r is shard s's r-th winner (key keys[p], encrypted
 * index indices[p]), labelled by its position p for the flag. Why the k
 * tournaments over these S k candidates give exactly the unsharded k
 * replicas (veil_sched_replicas: the k smallest (key, index) of the feasible
 * nodes not excluded, the rest not found):
 * - the j-th global winner lies in some shard s, where fewer than k feasible
 *   pairs are smaller than it (at most j < k are smaller at all), so it is in
 *   shard s's k-list: the union of the lists holds the global top k;
 * - ties: positions order equal keys as indices do, since shards are ranges
 *   of consecutive indices in shard order (shard-major positions) and each
 *   list is ordered by (key, index) (rank order); so "smallest key, ties to
 *   the earlier position" is "smallest (key, index)";
 * - a flagged candidate (an earlier winner) and a not-found entry (its key
 *   is at least 2^(width - 2): top block >= 1) lose to every feasible one,
 *   so replica j is found iff j feasible candidates remain.
 * Tournament j compares only the candidates of rank <= j ((j + 1) S of
 * them, not S k: sum_j ((j + 1) S - 1) matches instead of k (S k - 1), 15
 * instead of 24 at S = 3, k = 3), in position order, with the same result:
 * - the j-th global winner W (when found) has rank r <= j in its shard s:
 *   shard s's entries of rank < r are feasible (a list's found entries come
 *   before its not-found ones) and smaller than W in (key, index) (the list
 *   is in (key, index) order); W is the smallest feasible pair not won
 *   before, so every feasible pair smaller than W is among winners
 *   0..j - 1: those r entries are, hence r <= j;
 * - so tournament j over ranks <= j still holds W, and W is still its
 *   minimum (a subset); the subset keeps the position order (shard-major,
 *   then rank), so ties still go to the earlier position, i.e. the lowest
 *   index. With no feasible unflagged candidate left among all S k, none is
 *   left among the subset: not found either way. Only a not-found winner
 *   (whose index is not read) may differ, and flagging it leaves an
 *   infeasible key infeasible;
 * - a candidate of rank r takes part from tournament r on, and tournament
 *   j's winner has rank <= j, so it could only have been flagged by
 *   tournaments >= r: flagging just tournament j's candidates gives every
 *   later tournament the flags it would have seen; the last winner is not
 *   flagged at all (argmin_replicas_core). */
int veil_int_argmin_merge_replicas(struct veil_int_server *s, const struct veil_radix *keys,
                                   const struct veil_radix *indices, size_t n, size_t k,
                                   struct veil_radix *index_out, struct veil_radix *found_out,
                                   veil_err *err)
{
    if (n == 0 || n > 65536 || k == 0 || n % k != 0) /* whole k-lists: ranks are p % k */
        return veil_err_set(err, VEIL_E_INVALID, "merge of %zu shard winners in lists of %zu", n,
                            k);
    uint64_t *pos = malloc(n * sizeof *pos);
    if (!pos)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        pos[i] = i;
    unsigned width = indices[0].width;
    struct replica_in in = {0};
    int rc = replicas_check(keys, pos, n, 16, k, &in, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (indices[i].width != width)
            rc = veil_err_set(err, VEIL_E_MISMATCH, "index %zu is %u bits, not %u", i,
                              indices[i].width, width);
        else if (check_blocks(&indices[i], err) != 0)
            rc = -1;
        /* payload blocks up to the last one not trivially zero anywhere */
        for (unsigned b = (unsigned)indices[i].n_blocks; rc == 0 && b > in.n_enc; b--)
            if (indices[i].blocks[b - 1].degree != 0) {
                in.n_enc = b;
                break;
            }
    }
    in.enc = indices;
    in.ranks = k;
    if (rc == 0 && (width == 1 || veil_radix_blocks_for_width(width) < 4))
        rc = veil_err_set(err, VEIL_E_INVALID, "merge: %u-bit indices", width);
    if (rc == 0)
        rc = argmin_replicas_core(s, keys, &in, n, width, k, index_out, found_out, NULL, err);
    free(pos);
    return rc;
}

int veil_int_truncate(struct veil_int_server *s, const struct veil_radix *a, unsigned width,
                      struct veil_radix *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (check_blocks(a, err) != 0)
        return -1;
    if (a->width == 1 || width == 1 || width > a->width)
        return veil_err_set(err, VEIL_E_INVALID, "truncate a %u-bit integer to %u bits", a->width,
                            width);
    if (veil_radix_init(out, s->params, width, err) != 0)
        return -1;
    for (size_t i = 0; i < out->n_blocks; i++) /* the low blocks: no PBS */
        copy_block(s, &out->blocks[i], &a->blocks[i]);
    return 0;
}
