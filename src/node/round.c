// SPDX-License-Identifier: Apache-2.0
/*
 * round.c - what makes the redundant schedulers of one round agree and what
 * the decryptor checks: telemetry epochs, the candidate node list (same set,
 * same order on every scheduler, so that deterministic FHE evaluation gives
 * bit-identical outputs), the digest of a scheduler's output, and the guard
 * that refuses to decrypt anything a majority of the job's schedulers did
 * not vouch for (the decryptor must never be a decryption oracle); and the
 * decision, when the schedulers' digests cannot agree, to run a bounded
 * retry instead of waiting forever (veil_round_decide); the epoch a planned
 * round evaluates (attempt 0: that of the moment it was heard, however long
 * it then waited for admission: veil_round_plan_times); and the pure parts
 * of sharded rounds (shard count, derived shard ids, candidate ranges).
 *
 * Late nodes (issue 18, chaos s7): a node that heard of a round later than
 * the others (restarted, cut off, its gossip delayed past an epoch
 * boundary) plans a later epoch, and its digest can never agree with
 * theirs. The rule that makes it converge (veil_round_epoch_adopt): a
 * scheduler that has not started evaluating the round (planned, no worker
 * holds it) and holds a digest of the same (job, replica) attempt from
 * another of the round's schedulers naming an earlier epoch E' (>= the
 * attempt's epoch_min, complete by now, and held in its own telemetry
 * history: every alive member has an entry at or before E', none evicted
 * past it) evaluates E' instead; among several such digests the smallest
 * epoch, so that the order they arrive in does not matter. Nodes that
 * heard on time never move to a later epoch, so the earliest hearer's
 * epoch wins. The decryptor's decision needs no such rule (it decides the
 * round), and its retry already names epoch_min for every node. A lying
 * scheduler gains nothing by it: the epoch only selects which recent,
 * authentic telemetry ciphertexts (published and signed by each member,
 * held by every honest node) are the inputs; it never selects a
 * candidate, an output or a key. The decryptor decrypts only an output a
 * majority of the round's schedulers vouched for with the same digest
 * (veil_decrypt_guard), and the digest covers the epoch, so a lie can at
 * most split the digests (a retry, as a scheduler that sends garbage
 * can today) or move honest late nodes to an epoch the honest on-time
 * ones evaluated anyway. It cannot be outside the history, before a
 * retry's epoch_min, or in the future.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <veil/node.h>

uint64_t veil_epoch_of(uint64_t unix_ms, uint64_t interval_ms)
{
    return interval_ms ? unix_ms / interval_ms : 0;
}

static int peer_cmp(const struct veil_peer_id *a, const struct veil_peer_id *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->bytes, b->bytes, n);
    return c ? c : (int)a->len - (int)b->len;
}

size_t veil_round_candidates(const struct veil_telemetry_seen *seen, size_t n, uint64_t epoch,
                             uint64_t max_age, size_t *out_idx)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const struct veil_telemetry_seen *s = &seen[i];
        if (s->node.len == 0 || s->node.len > VEIL_PEER_ID_MAX)
            continue;
        /* The newest entry of this peer decides (ties: the first listed). */
        bool superseded = false;
        for (size_t j = 0; j < n && !superseded; j++)
            if (j != i && peer_cmp(&seen[j].node, &s->node) == 0 &&
                (seen[j].epoch > s->epoch || (seen[j].epoch == s->epoch && j < i)))
                superseded = true;
        if (superseded || !s->alive || s->epoch > epoch)
            continue;
        if (epoch - s->epoch > max_age)
            continue; /* stale telemetry expires */
        /* insertion sort by peer ID: rounds are small (<= a few thousand) */
        size_t pos = m;
        while (pos > 0 && peer_cmp(&seen[out_idx[pos - 1]].node, &s->node) > 0) {
            out_idx[pos] = out_idx[pos - 1];
            pos--;
        }
        out_idx[pos] = i;
        m++;
    }
    return m;
}

void veil_sched_output_digest(uint8_t out[32], const uint8_t job_id[32], uint32_t replica,
                              uint64_t epoch, const uint8_t *output, size_t output_len)
{
    static const char domain[] = "veil/sched-output/v1";
    uint8_t fixed[4 + 8 + 4];
    for (int i = 0; i < 4; i++)
        fixed[i] = (uint8_t)(replica >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        fixed[4 + i] = (uint8_t)(epoch >> (56 - 8 * i));
    uint32_t len32 = (uint32_t)output_len;
    for (int i = 0; i < 4; i++)
        fixed[12 + i] = (uint8_t)(len32 >> (24 - 8 * i));
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof domain); /* with NUL */
    crypto_generichash_update(&st, job_id, 32);
    crypto_generichash_update(&st, fixed, sizeof fixed);
    crypto_generichash_update(&st, output, output_len);
    crypto_generichash_final(&st, out, 32);
}

int veil_decrypt_guard(const uint8_t job_id[32], uint32_t replica, uint64_t epoch,
                       const uint8_t *output, size_t output_len,
                       const struct veil_peer_id *schedulers, size_t n_schedulers,
                       const struct veil_published_digest *published, size_t n_published,
                       veil_err *err)
{
    if (output_len == 0 || output_len > UINT32_MAX)
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "refusing to decrypt: empty or oversized output");
    uint8_t agreed[32], mine[32];
    if (!veil_digest_majority(schedulers, n_schedulers, published, n_published, agreed))
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "refusing to decrypt: no majority of the %zu schedulers agrees on an "
                            "output digest",
                            n_schedulers);
    veil_sched_output_digest(mine, job_id, replica, epoch, output, output_len);
    if (!veil_memeq_ct(mine, agreed, 32))
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "refusing to decrypt: the output does not match the digest the "
                            "schedulers agreed on");
    return 0;
}

const char *veil_round_verdict_name(enum veil_round_verdict v)
{
    switch (v) {
    case VEIL_ROUND_WAIT:
        return "wait";
    case VEIL_ROUND_AGREED:
        return "agreed";
    case VEIL_ROUND_RETRY:
        return "retry";
    case VEIL_ROUND_GIVE_UP:
        return "give_up";
    }
    return "?";
}

enum veil_round_verdict veil_round_decide(const struct veil_peer_id *schedulers,
                                          size_t n_schedulers,
                                          const struct veil_published_digest *published,
                                          size_t n_published, bool deadline_passed,
                                          uint32_t attempt, uint32_t max_attempts,
                                          uint8_t agreed[32], struct veil_round_tally *tally)
{
    struct veil_round_tally t = {0};
    uint8_t scratch[32];
    if (n_schedulers > VEIL_MAX_SCHEDULERS)
        n_schedulers = 0; /* not a selection veil_select_schedulers makes: nobody votes */
    t.needed = n_schedulers / 2 + 1;
    bool majority = veil_digest_majority(schedulers, n_schedulers, published, n_published,
                                         agreed ? agreed : scratch);
    /* The same counting as veil_digest_majority: each selected scheduler's
     * first digest, a scheduler listed twice voting once. */
    const uint8_t *vote[VEIL_MAX_SCHEDULERS] = {0};
    for (size_t s = 0; s < n_schedulers; s++) {
        bool dup = false;
        for (size_t u = 0; u < s; u++)
            dup |= schedulers[u].len == schedulers[s].len &&
                   memcmp(schedulers[u].bytes, schedulers[s].bytes, schedulers[s].len) == 0;
        for (size_t p = 0; p < n_published && !dup; p++)
            if (published[p].scheduler.len == schedulers[s].len &&
                memcmp(published[p].scheduler.bytes, schedulers[s].bytes, schedulers[s].len) == 0) {
                vote[s] = published[p].digest;
                break;
            }
        if (vote[s])
            t.voted++;
    }
    for (size_t s = 0; s < n_schedulers; s++) {
        if (!vote[s])
            continue;
        size_t count = 0;
        for (size_t u = 0; u < n_schedulers; u++)
            if (vote[u] && memcmp(vote[u], vote[s], 32) == 0)
                count++;
        if (count > t.largest)
            t.largest = count;
    }
    /* Even if every scheduler still silent voted with the largest group, no
     * strict majority: waiting longer cannot help. No scheduler at all (no
     * live member when the round was planned) is the extreme case. */
    t.split = !majority && (n_schedulers == 0 || t.largest + (n_schedulers - t.voted) < t.needed);
    if (tally)
        *tally = t;
    if (majority)
        return VEIL_ROUND_AGREED;
    if (!t.split && !deadline_passed)
        return VEIL_ROUND_WAIT;
    return attempt + 1 < max_attempts ? VEIL_ROUND_RETRY : VEIL_ROUND_GIVE_UP;
}

uint64_t veil_round_start_ms(uint64_t now_ms, uint64_t interval_ms, uint64_t guard_ms,
                             uint64_t epoch_min)
{
    if (interval_ms == 0)
        return now_ms;
    if (2 * guard_ms >= interval_ms)
        guard_ms = interval_ms / 4; /* short test intervals: keep a window to start in */
    uint64_t t = now_ms, phase = t % interval_ms;
    if (phase < guard_ms)
        t += guard_ms - phase;
    else if (phase > interval_ms - guard_ms)
        t += interval_ms - phase + guard_ms;
    /* a round at t evaluates epoch_of(t) - 1: wait for epoch_min + 1 to begin */
    if (epoch_min < UINT64_MAX / interval_ms - 1 && t / interval_ms < epoch_min + 1)
        t = (epoch_min + 1) * interval_ms + guard_ms;
    return t;
}

/* The grid, not the round's own epoch plus steps: nodes that heard of the
 * round at different moments (one restarted, one cut off) but move it
 * within one step of the grid still pick the same epoch. */
uint64_t veil_round_epoch_held(uint64_t epoch, uint64_t now_epoch, uint64_t max_lag)
{
    if (max_lag == 0 || now_epoch <= epoch || now_epoch - epoch <= max_lag)
        return epoch;
    return now_epoch - now_epoch % max_lag;
}

/* Why the first-heard time and not a time in the announcement: JOB_SUBMIT
 * carries no time all nodes share (its budget period is unix_s / period_s,
 * far too coarse for an epoch of seconds; adding one would change the
 * signed message), and a reschedule round (its node died) has no
 * announcement at all. The moment each node hears of a round differs by the
 * gossip delay, as the planning time did before rounds were queued; the
 * guard around epoch boundaries (veil_round_start_ms) makes those moments
 * agree on the epoch. */
void veil_round_plan_times(uint64_t heard_ms, uint64_t now_ms, uint64_t interval_ms,
                           uint64_t guard_ms, uint32_t attempt, uint64_t epoch_min,
                           uint64_t max_lag, struct veil_round_plan *out)
{
    bool first = attempt == 0 && heard_ms != 0 && heard_ms < now_ms;
    out->not_before_ms =
        veil_round_start_ms(first ? heard_ms : now_ms, interval_ms, guard_ms, epoch_min);
    uint64_t e = veil_epoch_of(out->not_before_ms, interval_ms);
    out->epoch = e ? e - 1 : 0;
    if (!first || interval_ms == 0)
        return;
    uint64_t newest = veil_epoch_of(now_ms, interval_ms);
    uint64_t held = veil_round_epoch_held(out->epoch, newest ? newest - 1 : 0, max_lag);
    if (held != out->epoch) { /* starts as a round heard when that epoch had just ended */
        out->epoch = held;
        out->not_before_ms =
            veil_round_start_ms((held + 1) * interval_ms, interval_ms, guard_ms, 0);
    }
}

/* Why an earlier epoch only, the smallest of the round's schedulers'
 * digests, and why a lying scheduler gains nothing by it: see the top
 * comment ("late nodes"). */
bool veil_round_epoch_adopt(uint64_t mine, uint64_t theirs, uint64_t epoch_min, uint64_t newest,
                            bool held)
{
    return held && theirs < mine && theirs >= epoch_min && theirs <= newest;
}

/* ---- sharded rounds (node.h) ---- */

size_t veil_round_shard_count(size_t n_members, size_t shard_size)
{
    if (shard_size == 0 || n_members <= shard_size)
        return 1;
    size_t n = n_members / shard_size + (n_members % shard_size != 0);
    return n < VEIL_ROUND_MAX_SHARDS ? n : VEIL_ROUND_MAX_SHARDS;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

void veil_round_shard_id(uint8_t out[32], const uint8_t job_id[32], uint32_t replica,
                         uint64_t epoch, uint32_t n_shards, uint32_t shard)
{
    static const char domain[] = "veil/shard-round/v1";
    uint8_t fixed[4 + 8 + 4 + 4];
    put_be(fixed, replica, 4);
    put_be(fixed + 4, epoch, 8);
    put_be(fixed + 12, n_shards, 4);
    put_be(fixed + 16, shard, 4);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof domain); /* with NUL */
    crypto_generichash_update(&st, job_id, 32);
    crypto_generichash_update(&st, fixed, sizeof fixed);
    crypto_generichash_final(&st, out, 32);
}

void veil_round_shard_range(size_t total, size_t n_shards, size_t shard, size_t *first,
                            size_t *end)
{
    if (n_shards == 0 || shard >= n_shards) {
        *first = *end = total;
        return;
    }
    /* shard s starts at floor(s * total / n): no overflow below 2^32 members */
    *first = (size_t)((uint64_t)shard * total / n_shards);
    *end = (size_t)((uint64_t)(shard + 1) * total / n_shards);
}

/* ---- a round's lifecycle (see enum veil_round_state) ---- */

const char *veil_round_state_name(enum veil_round_state s)
{
    static const char *const names[VEIL_ROUND_ST_COUNT] = {
        "new", "ready", "planned", "evaluating", "evaluated", "decided", "abandoned"};
    return (unsigned)s < VEIL_ROUND_ST_COUNT ? names[s] : "?";
}

bool veil_round_transition_ok(enum veil_round_state from, enum veil_round_state to)
{
    enum {
        N = 1u << VEIL_ROUND_ST_NEW,
        R = 1u << VEIL_ROUND_ST_READY,
        P = 1u << VEIL_ROUND_ST_PLANNED,
        E = 1u << VEIL_ROUND_ST_EVALUATING,
        V = 1u << VEIL_ROUND_ST_EVALUATED,
        D = 1u << VEIL_ROUND_ST_DECIDED,
        A = 1u << VEIL_ROUND_ST_ABANDONED,
    };
    /* allowed[from]: the states `from` may move to. Any round may be decided
     * or abandoned (the assignment or the final retry can arrive before this
     * node knew the job); planned -> planned is a retry's re-planning. */
    static const unsigned allowed[VEIL_ROUND_ST_COUNT] = {
        [VEIL_ROUND_ST_NEW] = R | D | A,         [VEIL_ROUND_ST_READY] = P | D | A,
        [VEIL_ROUND_ST_PLANNED] = P | E | D | A, [VEIL_ROUND_ST_EVALUATING] = V | P | D | A,
        [VEIL_ROUND_ST_EVALUATED] = P | D | A,   [VEIL_ROUND_ST_DECIDED] = R,
        [VEIL_ROUND_ST_ABANDONED] = 0,
    };
    if ((unsigned)from >= VEIL_ROUND_ST_COUNT || (unsigned)to >= VEIL_ROUND_ST_COUNT)
        return false;
    return (allowed[from] >> to) & 1u;
}

bool veil_round_state_terminal(enum veil_round_state s)
{
    return s == VEIL_ROUND_ST_DECIDED || s == VEIL_ROUND_ST_ABANDONED;
}
