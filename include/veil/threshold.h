// SPDX-License-Identifier: Apache-2.0
/*
 * veil/threshold.h - t-of-n threshold decryption of squashed ciphertexts
 * (issue 11, steps 2-5): Shamir shares of the squashing secret over the
 * Galois ring GR(2^128, 4), the dealer's ceremony, partial decryptions
 * flooded with PRSS masks and signed by each key holder, and robust
 * reconstruction (Reed-Solomon over GF(16) + Hensel lifting) that names the
 * holders whose partials were wrong. The derivations and the trust model are
 * in docs/THRESHOLD.md.
 *
 * Roles and the data they hold:
 *   - the dealer (once, `veil keys deal`): generates the TFHE keys and the
 *     squashing key, shares the squashing secret, writes one share file per
 *     holder sealed to that holder's Ed25519 identity (crypto_box_seal to its
 *     X25519 form), and wipes every secret;
 *   - holder i (1..n): opens its share with its Ed25519 secret key and
 *     publishes one signed partial decryption per agreed squashed ciphertext;
 *   - anyone with the public material (veil_th_public) and the ciphertext:
 *     verifies the partials and combines them.
 *
 * Limits: 1 <= t, 2t + 1 <= n <= 15 (points are the non-zero elements of
 * GF(16)), and C(n, t) <= VEIL_TH_MAX_PRSS_SETS (the flooding bound). With
 * n >= 3t + 1 any t wrong or missing partials are tolerated; below that,
 * decryption may be refused but is never wrong while at most t holders lie.
 *
 * Acceptance rule of veil_th_combine: a value is output only from a degree-t
 * polynomial that agrees exactly with at least 2t + 1 verified partials
 * (hence with at least t + 1 honest ones, which determine it). Otherwise it
 * refuses. With n = 4, t = 1: any 3 agreeing holders decide; one holder down
 * or one liar is tolerated.
 *
 * Partials are bound to veil_th_ct_digest() of the squashed ciphertext (a
 * BLAKE2b-256 of its exact content, independent of any file container) and to
 * the holder's index and the dealing id, and are signed with Ed25519.
 */
#ifndef VEIL_THRESHOLD_H
#define VEIL_THRESHOLD_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>
#include <veil/squash.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_TH_MAX_HOLDERS   15u
#define VEIL_TH_PK_SIZE       32u /* Ed25519 public key */
#define VEIL_TH_SK_SIZE       64u /* Ed25519 secret key, libsodium layout (seed || pk) */
#define VEIL_TH_SIG_SIZE      64u
#define VEIL_TH_DIGEST_SIZE   32u
#define VEIL_TH_LOG_MASK      110u  /* each PRSS set's mask is uniform in [-2^110, 2^110) */
#define VEIL_TH_MAX_PRSS_SETS 4095u /* C(n, t) * 2^110 + 2^70 < 2^122 = Delta / 2 */

/* The dealing's public material: who holds shares and the threshold. */
typedef struct veil_th_public {
    uint8_t n, t;
    uint8_t holder_pk[VEIL_TH_MAX_HOLDERS][VEIL_TH_PK_SIZE]; /* holder i is [i - 1] */
    uint8_t nonce[32];                                       /* random per dealing */
    uint8_t id[VEIL_TH_DIGEST_SIZE]; /* BLAKE2b-256 of the serialization (derived) */
} veil_th_public;

/* Checks the limits above for (n, t). */
VEIL_WARN_UNUSED int veil_th_check_params(unsigned n, unsigned t, veil_err *err);

VEIL_WARN_UNUSED int veil_th_public_serialize(const veil_th_public *pub, veil_buf *out,
                                              veil_err *err);
/* Strict parse; fills out->id. */
VEIL_WARN_UNUSED int veil_th_public_parse(const uint8_t *data, size_t len, veil_th_public *out,
                                          veil_err *err);
VEIL_WARN_UNUSED int veil_th_public_save(const veil_th_public *pub, const char *path,
                                         veil_err *err);
VEIL_WARN_UNUSED int veil_th_public_load(const char *path, veil_th_public *out, veil_err *err);

/* ---- dealing ---- */

/* Shares `secret` among n holders with threshold t: fills pub and writes
 * holder i's sealed share file contents into sealed[i - 1] (n caller-initialised
 * buffers). Everything secret it computed is wiped before it returns. */
VEIL_WARN_UNUSED int veil_th_deal(const veil_sq_secret *secret, unsigned n, unsigned t,
                                  const uint8_t (*holder_pk)[VEIL_TH_PK_SIZE], veil_th_public *pub,
                                  veil_buf *sealed, veil_err *err);

/* The whole ceremony into dir (created 0700 if missing): TFHE keys
 * (DIR/public.key, DIR/server.key), the squashing key (DIR/squash.key, beside
 * the server key), the public material (DIR/threshold.pub) and
 * DIR/share-1.key .. DIR/share-N.key (0600, sealed). The client key and the
 * squashing secret never touch the disk and are wiped. threads: key
 * generation (0 = VEIL_THREADS or the CPU count). */
VEIL_WARN_UNUSED int veil_th_ceremony(const char *dir, unsigned n, unsigned t,
                                      const uint8_t (*holder_pk)[VEIL_TH_PK_SIZE], unsigned threads,
                                      veil_err *err);

/* ---- a holder's share ---- */

typedef struct veil_th_share veil_th_share; /* secret; freed (and wiped) by veil_th_share_free */

/* Opens a sealed share with the holder's Ed25519 secret key (kept, wiped on
 * free, to sign partials); fails unless the share was sealed to that key and
 * names it as its holder. */
VEIL_WARN_UNUSED int veil_th_share_open(const uint8_t *sealed, size_t len,
                                        const uint8_t sk[VEIL_TH_SK_SIZE], veil_th_share **out,
                                        veil_err *err);
VEIL_WARN_UNUSED int veil_th_share_load(const char *path, const uint8_t sk[VEIL_TH_SK_SIZE],
                                        veil_th_share **out, veil_err *err);
void veil_th_share_free(veil_th_share *sh);
unsigned veil_th_share_index(const veil_th_share *sh); /* 1..n */
const veil_th_public *veil_th_share_public(const veil_th_share *sh);
/* Which holder a sealed share file is for (from its clear header), or 0. */
unsigned veil_th_sealed_index(const uint8_t *sealed, size_t len);

/* ---- partial decryption ---- */

/* BLAKE2b-256 over the squashed ciphertext's width, block count and every
 * 128-bit word: what a partial is bound to. */
VEIL_WARN_UNUSED int veil_th_ct_digest(const veil_sq_ct *ct, uint8_t out[VEIL_TH_DIGEST_SIZE],
                                       veil_err *err);

/* An element of GR(2^128, 4): c[0] + c[1] X + c[2] X^2 + c[3] X^3. */
typedef struct veil_th_gr {
    veil_u128 c[4];
} veil_th_gr;

/* One holder's signed partial decryption of one squashed ciphertext. */
typedef struct veil_th_partial {
    uint8_t dealing_id[VEIL_TH_DIGEST_SIZE];
    uint8_t index; /* holder, 1..n */
    uint8_t digest[VEIL_TH_DIGEST_SIZE];
    uint32_t width, nblocks;
    veil_th_gr y[VEIL_SQ_MAX_BLOCKS]; /* share of (phase + flooding mask), per block */
    uint8_t sig[VEIL_TH_SIG_SIZE];
} veil_th_partial;

/* The holder's partial decryption of ct, signed with the Ed25519 key the
 * share was opened with. Deterministic for a given share and ciphertext.
 * Callers must only pass ciphertexts the cluster agreed to decrypt (issue 11
 * step 5): this function cannot tell. */
VEIL_WARN_UNUSED int veil_th_partial_decrypt(const veil_th_share *sh, const veil_sq_ct *ct,
                                             veil_th_partial *out, veil_err *err);
/* Wire form (a few hundred bytes): magic, version, fields, signature. */
VEIL_WARN_UNUSED int veil_th_partial_serialize(const veil_th_partial *p, veil_buf *out,
                                               veil_err *err);
/* Strict structural parse; the signature is checked by veil_th_partial_verify. */
VEIL_WARN_UNUSED int veil_th_partial_parse(const uint8_t *data, size_t len, veil_th_partial *out,
                                           veil_err *err);
/* Checks dealing id, index range, digest, shape and the holder's signature. */
VEIL_WARN_UNUSED int veil_th_partial_verify(const veil_th_public *pub,
                                            const uint8_t digest[VEIL_TH_DIGEST_SIZE],
                                            uint32_t width, uint32_t nblocks,
                                            const veil_th_partial *p, veil_err *err);

/* ---- combine ---- */

typedef struct veil_th_result {
    uint64_t value;                            /* the integer (mod 2^width) */
    unsigned block_values[VEIL_SQ_MAX_BLOCKS]; /* each block's v in [0, 16) */
    uint32_t answered; /* bit i-1: holder i's partial verified and was used */
    uint32_t wrong;    /* bit i-1: holder i's partial disagreed with the decoded value */
    uint32_t rejected; /* bit i-1: bad signature, wrong digest/dealing, or two different partials */
} veil_th_result;

/* Verifies the partials (in any order, duplicates allowed) against pub and
 * ct, then decodes every block. Returns 0 with res->value when the acceptance
 * rule holds (res->wrong names holders that were corrected away); otherwise
 * -1 with VEIL_E_PROTOCOL ("too few consistent partials", or "too few
 * partials": fewer than 2t + 1 verified), the message listing who answered
 * and who was rejected, and res still filled in. Never a wrong value while at
 * most t holders lie. */
VEIL_WARN_UNUSED int veil_th_combine(const veil_th_public *pub, const veil_sq_ct *ct,
                                     const veil_th_partial *parts, size_t nparts,
                                     veil_th_result *res, veil_err *err);

/* Formats a holder bitmask as "1,3,4" (or "none") into out. */
void veil_th_holders_text(uint32_t mask, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_THRESHOLD_H */
