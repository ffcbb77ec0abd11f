// SPDX-License-Identifier: Apache-2.0
/*
 * core/pbs.h - GGSW ciphertexts, the Fourier-domain bootstrapping key,
 * external product, CMux blind rotation and programmable bootstrapping
 * (private).
 *
 * A GGSW encryption of a bit m under the GLWE key has (k+1)*level rows; row
 * (c, j) (c = 0..k, j = 0..level-1) is a GLWE encryption of zero whose body
 * additionally holds -m * g_j * S_c (c < k) or +m * g_j (c = k), with
 * g_j = 2^(64 - (j+1) base_log). Its phase is thus m * g_j * (-S_c or 1), so
 * sum_{c,j} d_{c,j} * row(c,j) for the gadget digits d of a GLWE c' has phase
 * m * phase(c') plus noise: the external product.
 */
#ifndef VEIL_FHE_CORE_PBS_H
#define VEIL_FHE_CORE_PBS_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#include "fft.h"
#include "rng.h"

struct veil_fhe_bsk_shape {
    size_t lwe_dim; /* n: number of GGSW ciphertexts */
    size_t k;       /* GLWE dimension */
    size_t poly;    /* N */
    unsigned base_log;
    unsigned level;
};

/* Words in one standard-domain GGSW: (k+1)*level rows of (k+1) polynomials. */
static inline size_t veil_fhe_ggsw_words(const struct veil_fhe_bsk_shape *s)
{
    return (s->k + 1) * s->level * (s->k + 1) * s->poly;
}
/* Doubles in one Fourier-domain GGSW (same count: N/2 complex per polynomial). */
static inline size_t veil_fhe_ggsw_fourier_doubles(const struct veil_fhe_bsk_shape *s)
{
    return veil_fhe_ggsw_words(s);
}

/* ggsw <- GGSW encryption of bit m; masks from mask_rng, noise from noise_rng. */
void veil_fhe_ggsw_encrypt(uint64_t *ggsw, const struct veil_fhe_bsk_shape *s,
                           const uint64_t *glwe_key, uint64_t m, unsigned noise_log2,
                           struct veil_fhe_rng *mask_rng, struct veil_fhe_rng *noise_rng);
/* out (Fourier) <- ggsw (standard). scratch: N aligned doubles. */
void veil_fhe_ggsw_to_fourier(const struct veil_fhe_fft *fft, const struct veil_fhe_bsk_shape *s,
                              double *out, const uint64_t *ggsw, double *scratch);

/* Per-call working memory for the blind rotation (no allocation in the loop). */
struct veil_fhe_pbs_scratch {
    uint64_t *acc;    /* (k+1) N */
    uint64_t *diff;   /* N */
    int64_t *digits;  /* level * N */
    double *fin;      /* N */
    double *fout;     /* (k+2) N */
    double *tmp;      /* N */
    uint64_t *lwe;    /* n + 1: keyswitch output */
    uint32_t *ks_acc; /* n + 1: keyswitch accumulator */
};
int veil_fhe_pbs_scratch_init(struct veil_fhe_pbs_scratch *sc, const struct veil_fhe_bsk_shape *s,
                              veil_err *err);
void veil_fhe_pbs_scratch_free(struct veil_fhe_pbs_scratch *sc);

/* acc ((k+1)N) <- X^{-b~ + sum a~_i s_i} * lut, the blind rotation of the
 * small LWE ciphertext `lwe` (n+1 words) after a modulus switch to 2N (the
 * body switched with the centered-mean correction, lwe.h).
 * bsk_fourier: n Fourier GGSWs laid end to end. */
void veil_fhe_blind_rotate(const struct veil_fhe_fft *fft, const struct veil_fhe_bsk_shape *s,
                           const double *bsk_fourier, const uint64_t *lwe, const uint64_t *lut,
                           struct veil_fhe_pbs_scratch *sc);
/* Blind rotation of count ciphertexts at once (scs[c] holds the result of
 * lwes[c] in its acc): the bootstrapping key is streamed once for all of
 * them, which is what makes batches faster than single PBSs. Same results
 * as veil_fhe_blind_rotate on each. */
void veil_fhe_blind_rotate_batch(const struct veil_fhe_fft *fft, const struct veil_fhe_bsk_shape *s,
                                 const double *bsk_fourier, const uint64_t *const *lwes,
                                 const uint64_t *const *luts, size_t count,
                                 struct veil_fhe_pbs_scratch *scs);
/* out (kN+1) <- PBS(lwe, lut): blind rotation then sample extraction. */
void veil_fhe_pbs(const struct veil_fhe_fft *fft, const struct veil_fhe_bsk_shape *s,
                  const double *bsk_fourier, const uint64_t *lwe, const uint64_t *lut,
                  uint64_t *out, struct veil_fhe_pbs_scratch *sc);

#endif /* VEIL_FHE_CORE_PBS_H */
