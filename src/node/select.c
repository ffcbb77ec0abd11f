// SPDX-License-Identifier: Apache-2.0
/*
 * select.c - which nodes schedule a job and which result the decryptor may
 * decrypt. Schedulers: rendezvous (highest-random-weight) hashing of the job
 * id over the alive members with BLAKE2b-256, so every node computes the same
 * up-to-3 schedulers from the same membership view without coordination, and
 * a member joining or leaving moves only the jobs it wins or held.
 * Agreement: the decryptor decrypts only an output whose digest a strict
 * majority of the job's selected schedulers published.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <veil/node.h>

static void hrw_weight(uint8_t w[32], const uint8_t job_id[32], const struct veil_peer_id *p)
{
    static const char domain[] = "veil-sched-v1";
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof domain - 1);
    crypto_generichash_update(&st, job_id, 32);
    crypto_generichash_update(&st, &p->len, 1);
    crypto_generichash_update(&st, p->bytes, p->len);
    crypto_generichash_final(&st, w, 32);
}

static int peer_cmp(const struct veil_peer_id *a, const struct veil_peer_id *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->bytes, b->bytes, n);
    if (c)
        return c;
    return (int)a->len - (int)b->len;
}

static bool peer_eq(const struct veil_peer_id *a, const struct veil_peer_id *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

size_t veil_select_schedulers(const uint8_t job_id[32], const struct veil_peer_id *alive,
                              size_t n_alive, size_t k, size_t *chosen)
{
    uint8_t best_w[VEIL_MAX_SCHEDULERS][32];
    size_t n = 0;
    if (k > VEIL_MAX_SCHEDULERS)
        k = VEIL_MAX_SCHEDULERS;
    for (size_t i = 0; i < n_alive; i++) {
        if (alive[i].len > VEIL_PEER_ID_MAX)
            continue;
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = peer_eq(&alive[j], &alive[i]);
        if (dup)
            continue;
        uint8_t w[32];
        hrw_weight(w, job_id, &alive[i]);
        /* Insertion into the descending top-k list. */
        size_t pos = n;
        while (pos > 0) {
            int c = memcmp(w, best_w[pos - 1], 32);
            if (c < 0 || (c == 0 && peer_cmp(&alive[i], &alive[chosen[pos - 1]]) > 0))
                break;
            pos--;
        }
        if (pos >= k)
            continue;
        size_t last = n < k ? n : k - 1;
        for (size_t j = last; j > pos; j--) {
            memcpy(best_w[j], best_w[j - 1], 32);
            chosen[j] = chosen[j - 1];
        }
        memcpy(best_w[pos], w, 32);
        chosen[pos] = i;
        if (n < k)
            n++;
    }
    return n;
}

bool veil_digest_majority(const struct veil_peer_id *schedulers, size_t n_schedulers,
                          const struct veil_published_digest *published, size_t n_published,
                          uint8_t agreed[32])
{
    if (n_schedulers == 0 || n_schedulers > VEIL_MAX_SCHEDULERS)
        return false;
    /* votes[s] = index into published of scheduler s's first digest, or -1 */
    long votes[VEIL_MAX_SCHEDULERS];
    for (size_t s = 0; s < n_schedulers; s++) {
        votes[s] = -1;
        for (size_t p = 0; p < n_published; p++)
            if (peer_eq(&published[p].scheduler, &schedulers[s])) {
                votes[s] = (long)p;
                break;
            }
        /* A scheduler listed twice in the selection still votes once. */
        for (size_t t = 0; t < s; t++)
            if (peer_eq(&schedulers[t], &schedulers[s]))
                votes[s] = -1;
    }
    for (size_t s = 0; s < n_schedulers; s++) {
        if (votes[s] < 0)
            continue;
        const uint8_t *d = published[votes[s]].digest;
        size_t count = 0;
        for (size_t t = 0; t < n_schedulers; t++)
            if (votes[t] >= 0 && memcmp(published[votes[t]].digest, d, 32) == 0)
                count++;
        if (2 * count > n_schedulers) {
            memcpy(agreed, d, 32);
            return true;
        }
    }
    return false;
}
