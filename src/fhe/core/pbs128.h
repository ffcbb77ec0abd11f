// SPDX-License-Identifier: Apache-2.0
/*
 * core/pbs128.h - the 128-bit programmable bootstrap of noise squashing
 * (private): GLWE/GGSW encryption modulo 2^128 under a binary GLWE key, the
 * bootstrapping key held in the three-prime NTT domain (ntt128.h), CMux
 * blind rotation of a 64-bit small-key LWE ciphertext, and sample
 * extraction to an LWE ciphertext of dimension k*N modulo 2^128.
 *
 * Conventions are those of the 64-bit core (lwe.h, pbs.h) with q = 2^128:
 * GGSW row (c, j), c = 0..k, j = 0..level-1, is a GLWE encryption of zero
 * whose body also holds -m g_j S_c (c < k) or +m g_j (c = k), with
 * g_j = 2^(128 - (j+1) base_log); gadget digits are rounded, signed, with
 * ties split on the next bit (zero mean). All arithmetic is exact integer
 * arithmetic: outputs are the same bits whatever the CPU or thread count.
 */
#ifndef VEIL_FHE_CORE_PBS128_H
#define VEIL_FHE_CORE_PBS128_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#include "ntt128.h"
#include "rng.h"

#define VEIL_PBS128_MAX_K     4
#define VEIL_PBS128_MAX_LEVEL 4

struct veil_pbs128_shape {
    size_t lwe_dim; /* n: GGSW ciphertexts (the small 64-bit LWE key's size) */
    size_t k;       /* GLWE dimension */
    size_t poly;    /* N */
    unsigned base_log;
    unsigned level;
    unsigned noise_log2; /* TUniform bound of the GGSW rows */
};

static inline size_t veil_pbs128_rows(const struct veil_pbs128_shape *s)
{
    return (s->k + 1) * s->level;
}
/* Words between consecutive NTT-domain polynomials of a GGSW or a digit
 * set: N plus one cache line, so that the 9 rows a multiply-accumulate
 * streams side by side (strides that are multiples of 4 KiB otherwise)
 * fall into different cache sets. */
#define VEIL_PBS128_PAD 8
static inline size_t veil_pbs128_stride(const struct veil_pbs128_shape *s)
{
    return s->poly + VEIL_PBS128_PAD;
}
/* u64 words of one GGSW in the NTT domain: rows x (k+1) columns x channels
 * (2 limbs x 2 primes) x stride. */
static inline size_t veil_pbs128_ggsw_words(const struct veil_pbs128_shape *s)
{
    return veil_pbs128_rows(s) * (s->k + 1) * VEIL_NTT128_CHANNELS * veil_pbs128_stride(s);
}

/* Writes digits of the rounded value, least significant level first
 * (out[level-1] is the top digit), |digit| <= 2^(base_log-1). */
void veil_pbs128_decompose(veil_u128_t v, unsigned base_log, unsigned level, int64_t *out);

/* The GLWE key (k binary polynomials, key[c*N + t] in {0, 1}) in the NTT
 * domain: kntt[(c * PRIMES + prime) * N ...]. */
void veil_pbs128_key_ntt(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                         const uint8_t *key, uint64_t *kntt);

/* Per-thread working memory for GGSW generation and blind rotation. */
struct veil_pbs128_scratch {
    veil_u128_t *acc;  /* (k+1) N: the accumulator */
    veil_u128_t *poly; /* N */
    veil_u128_t *rot;  /* (k+1) * PRIMES * N: X^r acc - acc, per digits task */
    int64_t *digits;   /* (k+1) * PRIMES * level * N: scalar digits, per task */
    uint64_t *dntt;    /* rows * PRIMES * stride: digit polynomials in the NTT domain */
    uint64_t *out;     /* (k+1) * CHANNELS * N */
};
VEIL_WARN_UNUSED int veil_pbs128_scratch_init(struct veil_pbs128_scratch *sc,
                                              const struct veil_pbs128_shape *s, veil_err *err);
void veil_pbs128_scratch_free(struct veil_pbs128_scratch *sc);

/* GGSW encryption of bit m into ggsw (NTT domain, veil_pbs128_ggsw_words).
 * Masks from mask_rng (row after row, each mask polynomial's coefficients
 * as two words, low first), noise from noise_rng. bodies (optional, rows x
 * N words) receives the row bodies in the standard domain (what a saved key
 * stores). */
void veil_pbs128_ggsw_encrypt(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                              const uint8_t *key, const uint64_t *kntt, unsigned m,
                              struct veil_fhe_rng *mask_rng, struct veil_fhe_rng *noise_rng,
                              uint64_t *ggsw, veil_u128_t *bodies, struct veil_pbs128_scratch *sc);
/* Rebuilds a GGSW from its mask stream and stored bodies (loading). */
void veil_pbs128_ggsw_expand(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                             struct veil_fhe_rng *mask_rng, const veil_u128_t *bodies,
                             uint64_t *ggsw);
/* The row bodies of a GGSW back in the standard domain (saving). */
void veil_pbs128_ggsw_bodies(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                             const uint64_t *ggsw, veil_u128_t *bodies,
                             struct veil_pbs128_scratch *sc);

/* Blind rotation of `count` small-key LWE ciphertexts (64-bit, lwe_dim + 1
 * words) through the test polynomial lut (the body of a trivial GLWE, N
 * words): scs[c].acc receives X^(-b~ + sum a~_i s_i) * (0, .., 0, lut),
 * using the same centred modulus switch as the 64-bit PBS. bsk: lwe_dim
 * NTT-domain GGSWs end to end, read once for the whole batch. On the
 * calling thread alone: */
void veil_pbs128_blind_rotate_batch(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                                    const uint64_t *bsk, const uint64_t *const *lwes,
                                    const veil_u128_t *lut, size_t count,
                                    struct veil_pbs128_scratch *scs);

/* The same batch shared by any number of threads: team_init (one thread,
 * before the others start), then every thread calls team_work, which
 * returns once no task is left to claim; a member that waited long for the
 * others steps out, holding no task, and rejoins after a while when the
 * machine has a core to spare, or returns (the last member never steps
 * out); the batch is done when every call has returned. The output is the same words whatever
 * the number of threads (pbs128.c explains the tasks and phases). */
struct veil_pbs128_team {
    const struct veil_ntt128 *t;
    const struct veil_pbs128_shape *s;
    const uint64_t *bsk;
    const uint64_t *const *lwes;
    size_t count;
    struct veil_pbs128_scratch *scs;
    size_t phase_tasks, total;
    atomic_size_t next; /* next task ticket */
    atomic_size_t done; /* tasks finished */
    atomic_uint active; /* threads inside team_work that may still claim */
};
void veil_pbs128_team_init(struct veil_pbs128_team *tm, const struct veil_ntt128 *t,
                           const struct veil_pbs128_shape *s, const uint64_t *bsk,
                           const uint64_t *const *lwes, const veil_u128_t *lut, size_t count,
                           struct veil_pbs128_scratch *scs);
void veil_pbs128_team_work(struct veil_pbs128_team *tm);

/* (mask (kN words), body) <- coefficient 0 of the GLWE acc's phase. */
void veil_pbs128_sample_extract(veil_u128_t *mask, veil_u128_t *body, const veil_u128_t *acc,
                                size_t k, size_t n);

#endif /* VEIL_FHE_CORE_PBS128_H */
