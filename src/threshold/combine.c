// SPDX-License-Identifier: Apache-2.0
/*
 * combine.c - from signed partial decryptions to the value: verification of
 * every partial (dealing, index, digest, shape, signature; a holder that sent
 * two different partials is rejected), then per block the robust opening
 * (rs.c) with its acceptance rule of 2t + 1 agreeing partials, the rounding
 * of the phase to the block value and the recomposition of the integer in
 * the ciphertext's encoding (squash.h).
 */
#include <string.h>

#include "th_internal.h"

/* Keeps one verified partial per holder; returns the count. */
static unsigned collect(const veil_th_public *pub, const uint8_t digest[VEIL_TH_DIGEST_SIZE],
                        const veil_sq_ct *ct, const veil_th_partial *parts, size_t nparts,
                        const veil_th_partial **by_holder, veil_th_result *res)
{
    for (size_t k = 0; k < nparts; k++) {
        const veil_th_partial *p = &parts[k];
        veil_err e = {0};
        if (veil_th_partial_verify(pub, digest, ct->width, ct->nblocks, p, &e) != 0) {
            if (p->index >= 1 && p->index <= VEIL_TH_MAX_HOLDERS)
                res->rejected |= 1u << (p->index - 1);
            continue;
        }
        const veil_th_partial *prev = by_holder[p->index - 1];
        if (prev && memcmp(prev->y, p->y, sizeof(th_gr) * p->nblocks) != 0)
            res->rejected |= 1u << (p->index - 1); /* two different answers */
        by_holder[p->index - 1] = p;
    }
    unsigned m = 0;
    for (unsigned i = 1; i <= pub->n; i++) {
        if (res->rejected & (1u << (i - 1)))
            by_holder[i - 1] = NULL;
        if (by_holder[i - 1]) {
            res->answered |= 1u << (i - 1);
            m++;
        }
    }
    return m;
}

static unsigned round_block(veil_u128 phase)
{
    const veil_u128 half = (veil_u128)1 << (VEIL_SQ_LOG_DELTA - 1);
    return (unsigned)((phase + half) >> VEIL_SQ_LOG_DELTA) & 15u;
}

static int refuse(const veil_th_result *res, const char *why, unsigned t, veil_err *err)
{
    char answered[64], rejected[64], wrong[64];
    veil_th_holders_text(res->answered, answered, sizeof answered);
    veil_th_holders_text(res->rejected, rejected, sizeof rejected);
    veil_th_holders_text(res->wrong, wrong, sizeof wrong);
    return veil_err_set(err, VEIL_E_PROTOCOL,
                        "%s: %u must agree; answered: %s; rejected: %s; disagreeing: %s", why,
                        2 * t + 1, answered, rejected, wrong);
}

/* Opens one block from the verified partials. */
static int open_block(const veil_th_public *pub, const veil_th_partial *const *by_holder,
                      uint32_t block, veil_th_result *res, veil_err *err)
{
    uint8_t idx[VEIL_TH_MAX_HOLDERS];
    th_gr ys[VEIL_TH_MAX_HOLDERS], value;
    unsigned m = 0;
    for (unsigned i = 1; i <= pub->n; i++) {
        if (!by_holder[i - 1])
            continue;
        idx[m] = (uint8_t)i;
        ys[m++] = by_holder[i - 1]->y[block];
    }
    uint32_t agree = 0;
    if (th_robust_open(idx, ys, m, pub->t, &value, &agree) != 0)
        return refuse(res, "too few consistent partials", pub->t, err);
    res->wrong |= res->answered & ~agree;
    if (value.c[1] | value.c[2] | value.c[3])
        return veil_err_set(err, VEIL_E_PROTOCOL,
                            "block %u opened to a non-constant ring element: the partials do not "
                            "come from this dealing's key shares",
                            block);
    res->block_values[block] = round_block(value.c[0]);
    return 0;
}

int veil_th_combine(const veil_th_public *pub, const veil_sq_ct *ct, const veil_th_partial *parts,
                    size_t nparts, veil_th_result *res, veil_err *err)
{
    memset(res, 0, sizeof *res);
    uint8_t digest[VEIL_TH_DIGEST_SIZE];
    if (veil_th_check_params(pub->n, pub->t, err) != 0 || veil_th_ct_digest(ct, digest, err) != 0)
        return veil_err_wrap(err, "combine");
    const veil_th_partial *by_holder[VEIL_TH_MAX_HOLDERS] = {0};
    unsigned m = collect(pub, digest, ct, parts, nparts, by_holder, res);
    if (m < 2u * pub->t + 1)
        return refuse(res, "too few partials", pub->t, err);
    for (uint32_t b = 0; b < ct->nblocks; b++)
        if (open_block(pub, by_holder, b, res, err) != 0)
            return -1;
    res->value = veil_sq_recompose(res->block_values, ct->nblocks, ct->width, ct->encoding);
    return 0;
}
