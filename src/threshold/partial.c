// SPDX-License-Identifier: Apache-2.0
/*
 * partial.c - a holder's partial decryption: the content digest of a
 * squashed ciphertext, the share of (b - <a, s>) plus the holder's share of
 * the PRSS flooding mask for every block, the Ed25519 signature binding it to
 * the dealing, the holder's index and the digest, and the partial's wire form.
 *
 * Wire form: "VTHD" 01 | dealing id[32] | index u8 | digest[32] | width u8 |
 * nblocks u8 | nblocks x GR element (4 x u128 LE) | signature[64], signed
 * over "veil/threshold/partial/v1" followed by everything before it.
 */
#include <sodium.h>
#include <string.h>

#include "th_internal.h"

#define PARTIAL_MAGIC   "VTHD"
#define PARTIAL_VERSION 1
static const char sig_domain[] = "veil/threshold/partial/v1";

int veil_th_ct_digest(const veil_sq_ct *ct, uint8_t out[VEIL_TH_DIGEST_SIZE], veil_err *err)
{
    if (!ct->blocks || ct->nblocks != veil_sq_blocks_for(ct->width, ct->encoding))
        return veil_err_set(err, VEIL_E_INVALID,
                            "squashed ciphertext of width %u, encoding %u with %u blocks",
                            ct->width, ct->encoding, ct->nblocks);
    static const char domain[] = "veil/threshold/sqct/v1";
    crypto_generichash_state st;
    uint8_t hdr[8], word[16];
    const uint32_t shape = ct->width | ct->encoding << 16; /* as squash_io.c writes it */
    for (unsigned k = 0; k < 4; k++) {
        hdr[k] = (uint8_t)(shape >> (8 * k));
        hdr[4 + k] = (uint8_t)(ct->nblocks >> (8 * k));
    }
    crypto_generichash_init(&st, NULL, 0, VEIL_TH_DIGEST_SIZE);
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof domain);
    crypto_generichash_update(&st, hdr, sizeof hdr);
    for (uint32_t b = 0; b < ct->nblocks; b++) {
        const veil_sq_block *blk = &ct->blocks[b];
        for (unsigned j = 0; j <= VEIL_SQ_LWE_DIM; j++) {
            veil_u128 v = j < VEIL_SQ_LWE_DIM ? blk->a[j] : blk->b;
            for (unsigned k = 0; k < 16; k++)
                word[k] = (uint8_t)(v >> (8 * k));
            crypto_generichash_update(&st, word, sizeof word);
        }
    }
    crypto_generichash_final(&st, out, VEIL_TH_DIGEST_SIZE);
    return 0;
}

/* b - <a, s_i> in GR: the share of the block's phase. */
static th_gr phase_share(const veil_th_share *sh, const veil_sq_block *blk)
{
    veil_u128 acc[4] = {blk->b, 0, 0, 0};
    for (unsigned j = 0; j < VEIL_SQ_LWE_DIM; j++) {
        veil_u128 a = blk->a[j];
        for (unsigned w = 0; w < 4; w++)
            acc[w] -= a * sh->s[j].c[w];
    }
    th_gr r = {{acc[0], acc[1], acc[2], acc[3]}};
    veil_memzero(acc, sizeof acc);
    return r;
}

/* The signed bytes: the domain, then the wire form up to the signature. */
static int partial_body(const veil_th_partial *p, veil_buf *out, veil_err *err)
{
    if (!th_blocks_ok(p->width, p->nblocks))
        return veil_err_set(err, VEIL_E_INVALID, "partial of width %u with %u blocks", p->width,
                            p->nblocks);
    veil_buf_put(out, PARTIAL_MAGIC, 4);
    veil_buf_put_u8(out, PARTIAL_VERSION);
    veil_buf_put(out, p->dealing_id, VEIL_TH_DIGEST_SIZE);
    veil_buf_put_u8(out, p->index);
    veil_buf_put(out, p->digest, VEIL_TH_DIGEST_SIZE);
    veil_buf_put_u8(out, (uint8_t)p->width);
    veil_buf_put_u8(out, (uint8_t)p->nblocks);
    for (uint32_t b = 0; b < p->nblocks; b++)
        for (unsigned w = 0; w < 4; w++)
            th_put_u128(out, p->y[b].c[w]);
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "serializing a partial decryption");
    return 0;
}

static int signed_message(const veil_th_partial *p, veil_buf *msg, veil_err *err)
{
    veil_buf_put(msg, sig_domain, sizeof sig_domain);
    return partial_body(p, msg, err);
}

int veil_th_partial_decrypt(const veil_th_share *sh, const veil_sq_ct *ct, veil_th_partial *out,
                            veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (veil_th_ct_digest(ct, out->digest, err) != 0)
        return veil_err_wrap(err, "partial decryption");
    memcpy(out->dealing_id, sh->pub.id, VEIL_TH_DIGEST_SIZE);
    out->index = (uint8_t)sh->index;
    out->width = ct->width;
    out->nblocks = ct->nblocks;
    for (uint32_t b = 0; b < ct->nblocks; b++) {
        th_gr mask = th_share_mask(sh, out->digest, b);
        out->y[b] = th_gr_add(phase_share(sh, &ct->blocks[b]), mask);
        veil_memzero(&mask, sizeof mask);
    }
    veil_buf msg;
    veil_buf_init(&msg);
    int rc = signed_message(out, &msg, err);
    if (rc == 0)
        crypto_sign_detached(out->sig, NULL, msg.data, msg.len, sh->sk);
    veil_buf_free(&msg);
    return rc;
}

int veil_th_partial_serialize(const veil_th_partial *p, veil_buf *out, veil_err *err)
{
    if (partial_body(p, out, err) != 0)
        return -1;
    veil_buf_put(out, p->sig, VEIL_TH_SIG_SIZE);
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "serializing a partial decryption");
    return 0;
}

int veil_th_partial_parse(const uint8_t *data, size_t len, veil_th_partial *out, veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, data, len);
    memset(out, 0, sizeof *out);
    const uint8_t *magic = veil_read_borrow(&r, 4);
    uint8_t version = veil_read_u8(&r);
    veil_read_bytes(&r, out->dealing_id, VEIL_TH_DIGEST_SIZE);
    out->index = veil_read_u8(&r);
    veil_read_bytes(&r, out->digest, VEIL_TH_DIGEST_SIZE);
    out->width = veil_read_u8(&r);
    out->nblocks = veil_read_u8(&r);
    if (!veil_reader_ok(&r) || memcmp(magic, PARTIAL_MAGIC, 4) != 0)
        return veil_err_set(err, VEIL_E_PARSE, "not a partial decryption (bad magic or truncated)");
    if (version != PARTIAL_VERSION)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "partial decryption version %u", version);
    if (out->index < 1 || out->index > VEIL_TH_MAX_HOLDERS)
        return veil_err_set(err, VEIL_E_RANGE, "partial decryption: holder index %u", out->index);
    if (!th_blocks_ok(out->width, out->nblocks))
        return veil_err_set(err, VEIL_E_PARSE, "partial decryption: width %u with %u blocks",
                            out->width, out->nblocks);
    for (uint32_t b = 0; b < out->nblocks; b++)
        for (unsigned w = 0; w < 4; w++)
            out->y[b].c[w] = th_read_u128(&r);
    veil_read_bytes(&r, out->sig, VEIL_TH_SIG_SIZE);
    if (!veil_reader_ok(&r) || !veil_reader_at_end(&r))
        return veil_err_set(err, VEIL_E_PARSE, "partial decryption: %s",
                            veil_reader_ok(&r) ? "trailing bytes" : "truncated");
    return 0;
}

int veil_th_partial_verify(const veil_th_public *pub, const uint8_t digest[VEIL_TH_DIGEST_SIZE],
                           uint32_t width, uint32_t nblocks, const veil_th_partial *p,
                           veil_err *err)
{
    if (memcmp(p->dealing_id, pub->id, VEIL_TH_DIGEST_SIZE) != 0)
        return veil_err_set(err, VEIL_E_MISMATCH, "partial of holder %u is for another dealing",
                            p->index);
    if (p->index < 1 || p->index > pub->n)
        return veil_err_set(err, VEIL_E_RANGE, "partial names holder %u of %u", p->index, pub->n);
    if (memcmp(p->digest, digest, VEIL_TH_DIGEST_SIZE) != 0)
        return veil_err_set(err, VEIL_E_MISMATCH, "partial of holder %u is for another ciphertext",
                            p->index);
    if (p->width != width || p->nblocks != nblocks)
        return veil_err_set(err, VEIL_E_MISMATCH, "partial of holder %u has width %u, expected %u",
                            p->index, p->width, width);
    veil_buf msg;
    veil_buf_init(&msg);
    int rc = signed_message(p, &msg, err);
    if (rc == 0 &&
        crypto_sign_verify_detached(p->sig, msg.data, msg.len, pub->holder_pk[p->index - 1]) != 0)
        rc = veil_err_set(err, VEIL_E_CRYPTO, "partial of holder %u: bad signature", p->index);
    veil_buf_free(&msg);
    return rc;
}
