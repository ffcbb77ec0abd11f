// SPDX-License-Identifier: Apache-2.0
/*
 * share.c - the dealing and the holders' shares: parameter limits, the public
 * material (holders' Ed25519 keys, n, t, dealing id), Shamir sharing of the
 * squashing secret over GR(2^128, 4) with PRSS keys, share files sealed to
 * each holder (crypto_box_seal to the X25519 form of its Ed25519 key), and
 * their strict loaders.
 *
 * Formats (little-endian):
 *   public:  "VTHM" 01 | n u8 | t u8 | nonce[32] | n x pk[32]
 *   sealed:  "VTHS" 01 | index u8 | pk[32] | dealing id[32] | len u32 | box
 *   plain:   "VTHI" 01 | public len u16 | public | index u8 | nsets u16 |
 *            nsets x (set u16, key[32]) | 4096 x GR element (4 x u128)
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "th_internal.h"

#define PUBLIC_MAGIC    "VTHM"
#define SEALED_MAGIC    "VTHS"
#define PLAIN_MAGIC     "VTHI"
#define FORMAT_VERSION  1
#define SHARE_FILE_MAX  (2u << 20)
#define PUBLIC_FILE_MAX 4096u
#define SEALED_HEADER   (4 + 1 + 1 + VEIL_TH_PK_SIZE + VEIL_TH_DIGEST_SIZE + 4)

int veil_th_check_params(unsigned n, unsigned t, veil_err *err)
{
    if (n > VEIL_TH_MAX_HOLDERS)
        return veil_err_set(err, VEIL_E_RANGE, "at most %u key holders (GF(16) points), got %u",
                            VEIL_TH_MAX_HOLDERS, n);
    if (t < 1)
        return veil_err_set(err, VEIL_E_RANGE, "threshold t must be at least 1");
    if (n < 2 * t + 1)
        return veil_err_set(err, VEIL_E_RANGE,
                            "n = %u holders cannot decide with t = %u: need n >= 2t + 1 "
                            "(3t + 1 to tolerate t liars)",
                            n, t);
    if (th_binom(n, t) > VEIL_TH_MAX_PRSS_SETS)
        return veil_err_set(err, VEIL_E_RANGE,
                            "C(%u, %u) = %u PRSS sets: the flooding masks would exceed Delta/2 "
                            "(at most %u)",
                            n, t, th_binom(n, t), VEIL_TH_MAX_PRSS_SETS);
    return 0;
}

void veil_th_holders_text(uint32_t mask, char *out, size_t cap)
{
    size_t len = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    for (unsigned i = 1; i <= 32 && len + 4 < cap; i++) {
        if (!(mask & (1u << (i - 1))))
            continue;
        int w = snprintf(out + len, cap - len, "%s%u", len ? "," : "", i);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (len == 0)
        snprintf(out, cap, "none");
}

/* ---- public material ---- */

int veil_th_public_serialize(const veil_th_public *pub, veil_buf *out, veil_err *err)
{
    if (veil_th_check_params(pub->n, pub->t, err) != 0)
        return -1;
    veil_buf_put(out, PUBLIC_MAGIC, 4);
    veil_buf_put_u8(out, FORMAT_VERSION);
    veil_buf_put_u8(out, pub->n);
    veil_buf_put_u8(out, pub->t);
    veil_buf_put(out, pub->nonce, sizeof pub->nonce);
    veil_buf_put(out, pub->holder_pk, (size_t)pub->n * VEIL_TH_PK_SIZE);
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "serializing the threshold public material");
    return 0;
}

int veil_th_public_parse(const uint8_t *data, size_t len, veil_th_public *out, veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, data, len);
    memset(out, 0, sizeof *out);
    const uint8_t *magic = veil_read_borrow(&r, 4);
    uint8_t version = veil_read_u8(&r);
    out->n = veil_read_u8(&r);
    out->t = veil_read_u8(&r);
    veil_read_bytes(&r, out->nonce, sizeof out->nonce);
    if (!veil_reader_ok(&r) || memcmp(magic, PUBLIC_MAGIC, 4) != 0)
        return veil_err_set(err, VEIL_E_PARSE,
                            "not threshold public material (bad magic or truncated)");
    if (version != FORMAT_VERSION)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "threshold public material version %u",
                            version);
    if (veil_th_check_params(out->n, out->t, err) != 0)
        return veil_err_wrap(err, "threshold public material");
    veil_read_bytes(&r, out->holder_pk, (size_t)out->n * VEIL_TH_PK_SIZE);
    if (!veil_reader_ok(&r) || !veil_reader_at_end(&r))
        return veil_err_set(err, VEIL_E_PARSE, "threshold public material: %s",
                            veil_reader_ok(&r) ? "trailing bytes" : "truncated holder keys");
    for (unsigned i = 0; i < out->n; i++)
        for (unsigned j = i + 1; j < out->n; j++)
            if (memcmp(out->holder_pk[i], out->holder_pk[j], VEIL_TH_PK_SIZE) == 0)
                return veil_err_set(err, VEIL_E_INVALID,
                                    "threshold public material: holders %u and %u share a key",
                                    i + 1, j + 1);
    crypto_generichash(out->id, sizeof out->id, data, len, NULL, 0);
    return 0;
}

int veil_th_public_save(const veil_th_public *pub, const char *path, veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = veil_th_public_serialize(pub, &b, err);
    if (rc == 0)
        rc = veil_file_write_atomic(path, b.data, b.len, 0644, err);
    veil_buf_free(&b);
    return rc;
}

int veil_th_public_load(const char *path, veil_th_public *out, veil_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (veil_file_read(path, PUBLIC_FILE_MAX, &data, &len, err) != 0)
        return -1;
    int rc = veil_th_public_parse(data, len, out, err);
    free(data);
    if (rc != 0)
        return veil_err_wrap(err, "%s", path);
    return 0;
}

/* ---- dealing ---- */

static th_gr random_gr(void)
{
    th_gr g;
    veil_random_bytes(g.c, sizeof g.c);
    return g;
}

/* The secret state of one dealing: sharing polynomials and PRSS keys. */
struct dealing {
    unsigned n, t, nsets;
    th_gr *coef; /* VEIL_SQ_LWE_DIM x (t + 1): s_j, r_j1 .. r_jt */
    uint16_t sets[VEIL_TH_MAX_PRSS_SETS];
    uint8_t (*keys)[TH_PRSS_KEY_SIZE];
};

static void dealing_free(struct dealing *d)
{
    if (d->coef) {
        veil_memzero(d->coef, sizeof(th_gr) * VEIL_SQ_LWE_DIM * (d->t + 1));
        free(d->coef);
    }
    if (d->keys) {
        veil_memzero(d->keys, (size_t)d->nsets * TH_PRSS_KEY_SIZE);
        free(d->keys);
    }
    memset(d, 0, sizeof *d);
}

static int dealing_init(struct dealing *d, const veil_sq_secret *secret, unsigned n, unsigned t,
                        veil_err *err)
{
    memset(d, 0, sizeof *d);
    d->n = n;
    d->t = t;
    d->nsets = th_prss_sets(n, t, d->sets);
    d->coef = malloc(sizeof(th_gr) * VEIL_SQ_LWE_DIM * (t + 1));
    d->keys = malloc((size_t)d->nsets * TH_PRSS_KEY_SIZE);
    if (!d->coef || !d->keys) {
        dealing_free(d);
        return veil_err_set(err, VEIL_E_NOMEM, "allocating the dealing");
    }
    for (unsigned j = 0; j < VEIL_SQ_LWE_DIM; j++) {
        if (secret->s[j] > 1) {
            dealing_free(d);
            return veil_err_set(err, VEIL_E_INVALID,
                                "squashing secret coefficient %u is not binary", j);
        }
        th_gr *f = d->coef + (size_t)j * (t + 1);
        f[0] = th_gr_const(secret->s[j]);
        for (unsigned k = 1; k <= t; k++)
            f[k] = random_gr();
    }
    veil_random_bytes(d->keys, (size_t)d->nsets * TH_PRSS_KEY_SIZE);
    return 0;
}

/* Holder i's plaintext share into out (a buffer the caller wipes). The
 * buffer is sized once, so that no reallocation leaves share bytes behind. */
static void write_plain(const struct dealing *d, const veil_buf *pub_bytes, unsigned i,
                        veil_buf *out)
{
    unsigned nkeys = th_binom(d->n - 1, d->t);
    size_t total = 4 + 1 + 2 + pub_bytes->len + 1 + 2 + (size_t)nkeys * (2 + TH_PRSS_KEY_SIZE) +
                   (size_t)VEIL_SQ_LWE_DIM * 64;
    if (veil_buf_reserve(out, total) != 0)
        return; /* latched in out */
    veil_buf_put(out, PLAIN_MAGIC, 4);
    veil_buf_put_u8(out, FORMAT_VERSION);
    veil_buf_put_u16le(out, (uint16_t)pub_bytes->len);
    veil_buf_put(out, pub_bytes->data, pub_bytes->len);
    veil_buf_put_u8(out, (uint8_t)i);
    veil_buf_put_u16le(out, (uint16_t)nkeys);
    for (unsigned k = 0; k < d->nsets; k++) {
        if (!(d->sets[k] & (1u << (i - 1))))
            continue;
        veil_buf_put_u16le(out, d->sets[k]);
        veil_buf_put(out, d->keys[k], TH_PRSS_KEY_SIZE);
    }
    th_gr x = th_gr_point(i);
    for (unsigned j = 0; j < VEIL_SQ_LWE_DIM; j++) {
        th_gr y = th_gr_poly_eval(d->coef + (size_t)j * (d->t + 1), d->t, x);
        for (unsigned w = 0; w < 4; w++)
            th_put_u128(out, y.c[w]);
        veil_memzero(&y, sizeof y);
    }
}

/* Seals plain to holder i's Ed25519 key and frames it. */
static int write_sealed(const veil_th_public *pub, unsigned i, const veil_buf *plain, veil_buf *out,
                        veil_err *err)
{
    uint8_t xpk[crypto_box_PUBLICKEYBYTES];
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, pub->holder_pk[i - 1]) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "holder %u's key is not a valid Ed25519 public key",
                            i);
    size_t box_len = plain->len + crypto_box_SEALBYTES;
    veil_buf_put(out, SEALED_MAGIC, 4);
    veil_buf_put_u8(out, FORMAT_VERSION);
    veil_buf_put_u8(out, (uint8_t)i);
    veil_buf_put(out, pub->holder_pk[i - 1], VEIL_TH_PK_SIZE);
    veil_buf_put(out, pub->id, VEIL_TH_DIGEST_SIZE);
    veil_buf_put_u32le(out, (uint32_t)box_len);
    uint8_t *box = veil_buf_extend(out, box_len);
    if (!box || !veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "sealing holder %u's share", i);
    if (crypto_box_seal(box, plain->data, plain->len, xpk) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "sealing holder %u's share failed", i);
    return 0;
}

static int fill_public(unsigned n, unsigned t, const uint8_t (*holder_pk)[VEIL_TH_PK_SIZE],
                       veil_th_public *pub, veil_buf *bytes, veil_err *err)
{
    memset(pub, 0, sizeof *pub);
    pub->n = (uint8_t)n;
    pub->t = (uint8_t)t;
    veil_random_bytes(pub->nonce, sizeof pub->nonce);
    memcpy(pub->holder_pk, holder_pk, (size_t)n * VEIL_TH_PK_SIZE);
    if (veil_th_public_serialize(pub, bytes, err) != 0)
        return -1;
    /* parse back: checks distinct keys and derives the id */
    return veil_th_public_parse(bytes->data, bytes->len, pub, err);
}

int veil_th_deal(const veil_sq_secret *secret, unsigned n, unsigned t,
                 const uint8_t (*holder_pk)[VEIL_TH_PK_SIZE], veil_th_public *pub, veil_buf *sealed,
                 veil_err *err)
{
    if (veil_th_check_params(n, t, err) != 0)
        return -1;
    veil_buf pub_bytes;
    veil_buf_init(&pub_bytes);
    struct dealing d;
    if (fill_public(n, t, holder_pk, pub, &pub_bytes, err) != 0 ||
        dealing_init(&d, secret, n, t, err) != 0) {
        veil_buf_free(&pub_bytes);
        return -1;
    }
    int rc = 0;
    for (unsigned i = 1; i <= n && rc == 0; i++) {
        veil_buf plain;
        veil_buf_init(&plain);
        write_plain(&d, &pub_bytes, i, &plain);
        if (!veil_buf_ok(&plain))
            rc = veil_err_set(err, VEIL_E_NOMEM, "writing holder %u's share", i);
        else
            rc = write_sealed(pub, i, &plain, &sealed[i - 1], err);
        veil_buf_free_secure(&plain);
    }
    dealing_free(&d);
    veil_buf_free(&pub_bytes);
    return rc;
}

/* ---- opening a share ---- */

void veil_th_share_free(veil_th_share *sh)
{
    if (!sh)
        return;
    if (sh->s) {
        veil_memzero(sh->s, sizeof(th_gr) * VEIL_SQ_LWE_DIM);
        free(sh->s);
    }
    if (sh->keys) {
        veil_memzero(sh->keys, (size_t)sh->nsets * TH_PRSS_KEY_SIZE);
        free(sh->keys);
    }
    free(sh->sets);
    free(sh->lambda);
    veil_memzero(sh, sizeof *sh);
    free(sh);
}

unsigned veil_th_share_index(const veil_th_share *sh)
{
    return sh->index;
}

const veil_th_public *veil_th_share_public(const veil_th_share *sh)
{
    return &sh->pub;
}

/* Reads the PRSS sets and keys: exactly the C(n-1, t) sets of size n - t
 * holding this holder, in increasing order. */
static int parse_prss(veil_reader *r, veil_th_share *sh, veil_err *err)
{
    unsigned n = sh->pub.n, t = sh->pub.t;
    unsigned want = th_binom(n - 1, t), got = veil_read_u16le(r);
    if (!veil_reader_ok(r) || got != want)
        return veil_err_set(err, VEIL_E_PARSE, "share: %u PRSS keys, expected %u", got, want);
    sh->nsets = got;
    sh->sets = calloc(got, sizeof *sh->sets);
    sh->keys = calloc(got, TH_PRSS_KEY_SIZE);
    sh->lambda = calloc(got, sizeof *sh->lambda);
    if (!sh->sets || !sh->keys || !sh->lambda)
        return veil_err_set(err, VEIL_E_NOMEM, "allocating the share");
    for (unsigned k = 0; k < got; k++) {
        uint16_t set = veil_read_u16le(r);
        veil_read_bytes(r, sh->keys[k], TH_PRSS_KEY_SIZE);
        bool ok = veil_reader_ok(r) && (set >> n) == 0 &&
                  (unsigned)__builtin_popcount(set) == n - t && (set & (1u << (sh->index - 1))) &&
                  (k == 0 || set > sh->sets[k - 1]);
        if (!ok)
            return veil_err_set(err, VEIL_E_PARSE, "share: PRSS set %u is invalid", k);
        sh->sets[k] = set;
        sh->lambda[k] = th_prss_lambda(set, n, sh->index);
    }
    return 0;
}

static int parse_header(veil_reader *r, const uint8_t sk[VEIL_TH_SK_SIZE], veil_th_share *sh,
                        veil_err *err)
{
    const uint8_t *magic = veil_read_borrow(r, 4);
    uint8_t version = veil_read_u8(r);
    uint16_t pub_len = veil_read_u16le(r);
    const uint8_t *pub = veil_read_borrow(r, pub_len);
    sh->index = veil_read_u8(r);
    if (!veil_reader_ok(r) || memcmp(magic, PLAIN_MAGIC, 4) != 0)
        return veil_err_set(err, VEIL_E_PARSE, "not a threshold share (bad magic or truncated)");
    if (version != FORMAT_VERSION)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "threshold share version %u", version);
    if (veil_th_public_parse(pub, pub_len, &sh->pub, err) != 0)
        return veil_err_wrap(err, "share");
    if (sh->index < 1 || sh->index > sh->pub.n)
        return veil_err_set(err, VEIL_E_RANGE, "share: holder index %u out of 1..%u", sh->index,
                            sh->pub.n);
    if (!veil_memeq_ct(sh->pub.holder_pk[sh->index - 1], sk + 32, VEIL_TH_PK_SIZE))
        return veil_err_set(err, VEIL_E_CRYPTO,
                            "share is for holder %u, whose key is not this identity", sh->index);
    return 0;
}

int th_share_parse_plain(const uint8_t *data, size_t len, const uint8_t sk[VEIL_TH_SK_SIZE],
                         veil_th_share **out, veil_err *err)
{
    veil_th_share *sh = calloc(1, sizeof *sh);
    if (!sh)
        return veil_err_set(err, VEIL_E_NOMEM, "allocating the share");
    veil_reader r;
    veil_reader_init(&r, data, len);
    int rc = parse_header(&r, sk, sh, err);
    if (rc == 0)
        rc = parse_prss(&r, sh, err);
    if (rc == 0 && veil_reader_remaining(&r) != (size_t)VEIL_SQ_LWE_DIM * 64)
        rc = veil_err_set(err, VEIL_E_PARSE, "share: %zu bytes of key shares, expected %u",
                          veil_reader_remaining(&r), VEIL_SQ_LWE_DIM * 64);
    if (rc == 0 && !(sh->s = malloc(sizeof(th_gr) * VEIL_SQ_LWE_DIM)))
        rc = veil_err_set(err, VEIL_E_NOMEM, "allocating the share");
    for (unsigned j = 0; rc == 0 && j < VEIL_SQ_LWE_DIM; j++)
        for (unsigned w = 0; w < 4; w++)
            sh->s[j].c[w] = th_read_u128(&r);
    if (rc != 0) {
        veil_th_share_free(sh);
        return -1;
    }
    memcpy(sh->sk, sk, VEIL_TH_SK_SIZE);
    *out = sh;
    return 0;
}

unsigned veil_th_sealed_index(const uint8_t *sealed, size_t len)
{
    if (len < SEALED_HEADER || memcmp(sealed, SEALED_MAGIC, 4) != 0 || sealed[4] != FORMAT_VERSION)
        return 0;
    return sealed[5] <= VEIL_TH_MAX_HOLDERS ? sealed[5] : 0;
}

int veil_th_share_open(const uint8_t *sealed, size_t len, const uint8_t sk[VEIL_TH_SK_SIZE],
                       veil_th_share **out, veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, sealed, len);
    const uint8_t *magic = veil_read_borrow(&r, 4);
    uint8_t version = veil_read_u8(&r), index = veil_read_u8(&r);
    const uint8_t *pk = veil_read_borrow(&r, VEIL_TH_PK_SIZE);
    const uint8_t *id = veil_read_borrow(&r, VEIL_TH_DIGEST_SIZE);
    uint32_t box_len = veil_read_u32le(&r);
    if (!veil_reader_ok(&r) || memcmp(magic, SEALED_MAGIC, 4) != 0)
        return veil_err_set(err, VEIL_E_PARSE,
                            "not a sealed threshold share (bad magic or truncated)");
    if (version != FORMAT_VERSION)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "sealed share version %u", version);
    if (box_len != veil_reader_remaining(&r) || box_len < crypto_box_SEALBYTES)
        return veil_err_set(err, VEIL_E_PARSE, "sealed share: box of %u bytes, %zu present",
                            box_len, veil_reader_remaining(&r));
    if (!veil_memeq_ct(pk, sk + 32, VEIL_TH_PK_SIZE))
        return veil_err_set(err, VEIL_E_CRYPTO, "share %u is sealed to another identity", index);
    uint8_t xpk[crypto_box_PUBLICKEYBYTES], xsk[crypto_box_SECRETKEYBYTES];
    size_t plain_len = box_len - crypto_box_SEALBYTES;
    uint8_t *plain = malloc(plain_len ? plain_len : 1);
    if (!plain)
        return veil_err_set(err, VEIL_E_NOMEM, "opening share %u", index);
    int rc = 0;
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, pk) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(xsk, sk) != 0 ||
        crypto_box_seal_open(plain, veil_read_borrow(&r, box_len), box_len, xpk, xsk) != 0)
        rc = veil_err_set(err, VEIL_E_CRYPTO, "share %u does not open with this identity", index);
    if (rc == 0)
        rc = th_share_parse_plain(plain, plain_len, sk, out, err);
    if (rc == 0 &&
        ((*out)->index != index || !veil_memeq_ct((*out)->pub.id, id, VEIL_TH_DIGEST_SIZE))) {
        veil_th_share_free(*out);
        *out = NULL;
        rc = veil_err_set(err, VEIL_E_MISMATCH, "sealed share header does not match its contents");
    }
    veil_memzero(xsk, sizeof xsk);
    veil_memzero(plain, plain_len);
    free(plain);
    return rc;
}

int veil_th_share_load(const char *path, const uint8_t sk[VEIL_TH_SK_SIZE], veil_th_share **out,
                       veil_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (veil_key_file_read(path, SHARE_FILE_MAX, &data, &len, err) != 0)
        return -1;
    int rc = veil_th_share_open(data, len, sk, out, err);
    free(data);
    if (rc != 0)
        return veil_err_wrap(err, "%s", path);
    return 0;
}
