// SPDX-License-Identifier: Apache-2.0
/*
 * bench_probe.c - the probing attack of issue 12 against a model cluster,
 * before and after the defences of src/node/privacy.c, and what the
 * defences cost honest jobs (JSON lines on stdout). Owned by the privacy
 * work; docs/BENCHMARKS.md and docs/THREAT_MODEL.md quote it.
 *
 * The model places with the real plaintext policy (veil_sched_round, the
 * oracle of the encrypted circuit), so outcomes are exactly what a round
 * decides. The adversary is tests/integration/privacy/probe_adversary.js's
 * search: bisect, in log space, the widest gap between two requests whose
 * outcomes differ; a step edge confines some node's free memory. Under
 * redaction it sees "placed" / "unschedulable" / "on my node"; under
 * capacity classes it knows the grid and widens each edge to the class.
 * "Jobs to learn within p": the first job count after which the adversary's
 * certified interval for some other node has hi/lo <= (1+p)/(1-p); never
 * (null) within the cap of 200 jobs.
 *
 *   bench_probe [TRIALS]    (default 300 random 3-node clusters per mode)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <veil/node.h>
#include <veil/privacy.h>

#define NODES     3
#define SELF      2
#define MAX_JOBS  200
#define MAX_U     65535u
#define O_UNSCHED (-1)
#define O_PLACED  (-2)

struct mode {
    const char *name;
    bool redact;
    struct veil_privacy_policy pol;
};

struct model {
    uint16_t mem[NODES];
    const struct mode *m;
};

static uint64_t rng = 0x243F6A8885A308D3ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* log-uniform free memory in [512Mi, 16Gi], 4 MiB units */
static uint16_t draw_mem(void)
{
    return (uint16_t)(128.0 * exp(urand() * log(32.0)));
}

static int place(const uint16_t *mem, size_t n, uint16_t r, const struct veil_privacy_policy *p,
                 enum veil_policy policy)
{
    struct veil_telemetry_q q[16];
    memset(q, 0, sizeof q);
    for (size_t i = 0; i < n; i++) {
        q[i].res[VEIL_RES_CPU] = 400;
        q[i].res[VEIL_RES_MEMORY] = veil_privacy_class_down(p, mem[i]);
    }
    struct veil_sched_request req = {0};
    req.res[VEIL_RES_CPU] = 1;
    req.res[VEIL_RES_MEMORY] = r;
    req.policy = policy;
    struct veil_sched_result out;
    veil_err err = {0};
    if (veil_sched_round(&req, q, NULL, n, &out, NULL, &err) != 0) {
        fprintf(stderr, "bench_probe: %s\n", err.msg);
        exit(1);
    }
    return out.found ? (int)out.index : O_UNSCHED;
}

/* what the submitter (node SELF) sees */
static int outcome(const struct model *md, uint16_t r)
{
    int o = place(md->mem, NODES, r, &md->m->pol, VEIL_POLICY_BINPACK);
    if (md->m->redact && o >= 0 && o != SELF)
        return O_PLACED;
    return o;
}

struct probe {
    uint16_t r[MAX_JOBS + 2];
    int o[MAX_JOBS + 2];
    size_t n;
};

static void sorted(struct probe *pr)
{
    for (size_t i = 1; i < pr->n; i++)
        for (size_t j = i; j > 0 && pr->r[j - 1] > pr->r[j]; j--) {
            uint16_t t = pr->r[j];
            pr->r[j] = pr->r[j - 1];
            pr->r[j - 1] = t;
            int u = pr->o[j];
            pr->o[j] = pr->o[j - 1];
            pr->o[j - 1] = u;
        }
}

/* The adversary's certified value range for an edge between adjacent
 * samples a < b: some value in [a, b-1] (the class bound, under classes,
 * which widens to the whole class). */
static double edge_ratio(const struct veil_privacy_policy *p, uint16_t a, uint16_t b)
{
    uint32_t lo = a, hi = (uint32_t)b - 1;
    uint16_t c = veil_privacy_class_down(p, a);
    if (c != a)
        lo = veil_privacy_class_next(p, a);
    if (lo > hi && p->ratio_num)
        return 1e9; /* no class bound inside: no edge can lie here */
    hi = veil_privacy_class_next(p, (uint16_t)hi) - 1;
    return lo ? (double)hi / lo : 1e9;
}

/* Does the edge after sample i confine another node? (not the adversary's
 * own value, which it knows) */
static bool others_edge(const struct probe *pr, size_t i)
{
    return pr->o[i] != pr->o[i + 1] && pr->o[i] != SELF;
}

struct result {
    int p25, p10;
};

static struct result attack(const struct model *md)
{
    struct probe pr = {0};
    struct result res = {-1, -1};
    const struct veil_privacy_policy *p = &md->m->pol;
    uint16_t self_c = veil_privacy_class_down(p, md->mem[SELF]);
    pr.r[0] = 1, pr.o[0] = outcome(md, 1);
    pr.r[1] = MAX_U, pr.o[1] = outcome(md, MAX_U);
    pr.n = 2;
    while (pr.n < MAX_JOBS) {
        sorted(&pr);
        double best_ratio = 0;
        size_t best = 0;
        for (size_t i = 0; i + 1 < pr.n; i++) {
            if (pr.o[i] == pr.o[i + 1] || pr.r[i + 1] - pr.r[i] < 2)
                continue;
            if (others_edge(&pr, i)) {
                double er = edge_ratio(p, pr.r[i], pr.r[i + 1]);
                if (res.p25 < 0 && er <= 5.0 / 3.0)
                    res.p25 = (int)pr.n;
                if (res.p10 < 0 && er <= 11.0 / 9.0)
                    res.p10 = (int)pr.n;
            }
            if (pr.o[i] == SELF && self_c >= pr.r[i] && (uint32_t)self_c + 1 == pr.r[i + 1])
                continue; /* its own edge */
            if (edge_ratio(p, pr.r[i], pr.r[i + 1]) >= 1e9)
                continue; /* nothing to find here under classes */
            double g = (double)pr.r[i + 1] / pr.r[i];
            if (g > best_ratio)
                best_ratio = g, best = i;
        }
        if (res.p10 >= 0 || best_ratio == 0)
            break;
        uint32_t a = pr.r[best], b = pr.r[best + 1];
        uint32_t mid = (uint32_t)lround(sqrt((double)a * b));
        if (pr.o[best] == SELF && self_c >= a && self_c < b)
            mid = (uint32_t)self_c + 1;
        mid = mid <= a ? a + 1 : mid >= b ? b - 1 : mid;
        pr.r[pr.n] = (uint16_t)mid;
        pr.o[pr.n] = outcome(md, (uint16_t)mid);
        pr.n++;
    }
    return res;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* A3, subtractive probing, against redaction + classes: the adversary runs
 * real jobs that hold memory. It fills its own node first (its free memory
 * is 0 here), finds the highest class bound M by placed/unschedulable
 * probes, then bisects the top node's value inside [M, next(M)): it holds h
 * with a spread job (spread picks the node with the most free: the top one)
 * and asks whether a request of M still fits (v - h >= M), then releases
 * the hold. Two jobs per step. It assumes the hold landed on the top node
 * (a tie in the top class breaks that); `wrong` counts clusters where the
 * truth is outside the interval it then believes. */
struct a3 {
    int p25, p10;
    bool wrong;
};

static bool fits_anywhere(const uint16_t *mem, const struct veil_privacy_policy *p, uint16_t r)
{
    return place(mem, NODES, r, p, VEIL_POLICY_BINPACK) >= 0;
}

static struct a3 attack_subtractive(uint16_t *mem, const struct veil_privacy_policy *p)
{
    struct a3 res = {-1, -1, false};
    int jobs = 1; /* the job that fills its own node */
    mem[SELF] = 0;
    uint32_t lo = 1, hi = MAX_U; /* highest class bound M, by bisection over bounds */
    while (veil_privacy_class_down(p, (uint16_t)hi) > lo) {
        uint32_t mid = veil_privacy_class_down(p, (uint16_t)((lo + hi + 1) / 2));
        if (mid <= lo)
            mid = veil_privacy_class_next(p, (uint16_t)lo);
        jobs++;
        if (fits_anywhere(mem, p, (uint16_t)mid))
            lo = mid;
        else
            hi = mid - 1;
    }
    uint32_t m = lo, vlo = m, vhi = veil_privacy_class_next(p, (uint16_t)m) - 1;
    int top = place(mem, NODES, 1, p, VEIL_POLICY_SPREAD);
    while (jobs < MAX_JOBS) {
        double ratio = (double)vhi / vlo;
        if (res.p25 < 0 && ratio <= 5.0 / 3.0)
            res.p25 = jobs;
        if (ratio <= 11.0 / 9.0) {
            res.p10 = jobs;
            break;
        }
        uint32_t t = (uint32_t)lround(sqrt((double)vlo * (vhi + 1)));
        if (t <= vlo)
            t = vlo + 1;
        uint32_t h = t - m; /* is v >= m + h ? */
        int on = place(mem, NODES, (uint16_t)h, p, VEIL_POLICY_SPREAD);
        jobs += 2;
        if (on < 0)
            break;
        mem[on] = (uint16_t)(mem[on] - h);
        bool yes = fits_anywhere(mem, p, (uint16_t)m);
        mem[on] = (uint16_t)(mem[on] + h);
        if (yes)
            vlo = t;
        else
            vhi = t - 1;
    }
    res.wrong = top < 0 || mem[top] < vlo || mem[top] > vhi;
    return res;
}

static void run_subtractive(const struct veil_privacy_policy *p, int trials)
{
    int *p25 = calloc((size_t)trials, sizeof *p25), *p10 = calloc((size_t)trials, sizeof *p10);
    int wrong = 0;
    for (int t = 0; t < trials; t++) {
        uint16_t mem[NODES];
        for (int i = 0; i < NODES; i++)
            mem[i] = draw_mem();
        struct a3 r = attack_subtractive(mem, p);
        p25[t] = r.p25 < 0 ? 100000 : r.p25;
        p10[t] = r.p10 < 0 ? 100000 : r.p10;
        wrong += r.wrong;
    }
    qsort(p25, (size_t)trials, sizeof *p25, cmp_int);
    qsort(p10, (size_t)trials, sizeof *p10, cmp_int);
    printf("{\"bench\":\"probe_attack_model\",\"mode\":\"redacted + classes %u/%u, adversary "
           "holds memory (A3)\",\"nodes\":%d,\"trials\":%d,\"max_jobs\":%d,"
           "\"jobs_25pct_median\":%d,\"jobs_25pct_max\":%d,\"jobs_10pct_median\":%d,"
           "\"jobs_10pct_max\":%d,\"wrong_interval\":%d}\n",
           p->ratio_num, p->ratio_den, NODES, trials, MAX_JOBS, p25[trials / 2], p25[trials - 1],
           p10[trials / 2], p10[trials - 1], wrong);
    free(p25);
    free(p10);
}

static void run_mode(const struct mode *m, int trials)
{
    int *p25 = calloc((size_t)trials, sizeof *p25), *p10 = calloc((size_t)trials, sizeof *p10);
    int never25 = 0, never10 = 0;
    for (int t = 0; t < trials; t++) {
        struct model md = {.m = m};
        for (int i = 0; i < NODES; i++)
            md.mem[i] = draw_mem();
        struct result r = attack(&md);
        p25[t] = r.p25 < 0 ? 100000 : r.p25;
        p10[t] = r.p10 < 0 ? 100000 : r.p10;
        never25 += r.p25 < 0;
        never10 += r.p10 < 0;
    }
    qsort(p25, (size_t)trials, sizeof *p25, cmp_int);
    qsort(p10, (size_t)trials, sizeof *p10, cmp_int);
#define Q(a, f) ((a)[(int)((f) * (trials - 1))] >= 100000 ? -1 : (a)[(int)((f) * (trials - 1))])
    printf(
        "{\"bench\":\"probe_attack_model\",\"mode\":\"%s\",\"nodes\":%d,\"trials\":%d,"
        "\"max_jobs\":%d,\"jobs_25pct_median\":%d,\"jobs_25pct_max\":%d,"
        "\"jobs_10pct_median\":%d,\"jobs_10pct_max\":%d,\"never_25pct\":%d,\"never_10pct\":%d}\n",
        m->name, NODES, trials, MAX_JOBS, Q(p25, 0.5), Q(p25, 1.0), Q(p10, 0.5), Q(p10, 1.0),
        never25, never10);
#undef Q
    free(p25);
    free(p10);
}

/* Honest workload: 5 nodes (log-uniform free memory), jobs of log-uniform
 * 64Mi..4Gi placed one after another (each holds its memory) until the
 * undefended policy first refuses one; the same sequence under classes.
 * Counts the decisions, on the same cluster state, that place a job on
 * another node or refuse it where the undefended policy placed it, and the
 * share of memory in use at the end in each cluster. */
static void honest_cost(const struct veil_privacy_policy *pol, enum veil_policy policy, int trials)
{
    const struct veil_privacy_policy off = {0, 0, 0, 0, 1};
    long jobs = 0, moved = 0, refused = 0;
    double used_off = 0, used_on = 0;
    for (int t = 0; t < trials; t++) {
        uint16_t a[5], b[5];
        double total = 0, free_a = 0, free_b = 0;
        for (int i = 0; i < 5; i++)
            a[i] = b[i] = draw_mem(), total += a[i];
        for (;;) {
            uint16_t r = (uint16_t)(16.0 * exp(urand() * log(64.0)));
            int x = place(a, 5, r, &off, policy);
            if (x < 0)
                break;
            jobs++;
            /* the same decision on the same state */
            int z = place(a, 5, r, pol, policy);
            moved += z >= 0 && z != x;
            refused += z < 0;
            a[x] = (uint16_t)(a[x] - r);
            /* and an independent cluster that follows the classes */
            int y = place(b, 5, r, pol, policy);
            if (y >= 0)
                b[y] = (uint16_t)(b[y] - r);
        }
        for (int i = 0; i < 5; i++)
            free_a += a[i], free_b += b[i];
        used_off += 1.0 - free_a / total;
        used_on += 1.0 - free_b / total;
    }
    printf("{\"bench\":\"probe_honest_cost\",\"policy\":\"%s\",\"class_ratio\":\"%u/%u\","
           "\"trials\":%d,\"jobs\":%ld,\"placed_elsewhere_pct\":%.1f,\"refused_pct\":%.2f,"
           "\"memory_used_undefended_pct\":%.1f,\"memory_used_classes_pct\":%.1f}\n",
           policy == VEIL_POLICY_BINPACK ? "binpack" : "spread", pol->ratio_num, pol->ratio_den,
           trials, jobs, 100.0 * moved / (double)jobs, 100.0 * refused / (double)jobs,
           100.0 * used_off / trials, 100.0 * used_on / trials);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Latency the rules add to one job at intake (every node runs them). */
static void rule_cost(void)
{
    struct veil_privacy_policy p;
    veil_privacy_policy_default(&p);
    enum { MEMBERS = 100, CAP = 3 * MEMBERS * 32 };
    static struct veil_privacy_used used[CAP];
    struct veil_privacy_ledger l = {used, 0, CAP};
    veil_err why = {0}, err = {0};
    enum veil_privacy_verdict v;
    uint64_t now = 1000000;
    double t0 = now_ns();
    int n = 0;
    for (uint32_t s = 0; s < 32; s++)
        for (int m = 0; m < MEMBERS; m++, n++) {
            struct veil_privacy_slot x = {0};
            memset(x.member, m + 1, 20);
            x.member_len = 20;
            x.period = now / p.period_s;
            x.seq = s;
            x.job_id[0] = (uint8_t)m, x.job_id[1] = (uint8_t)s;
            if (veil_privacy_budget_charge(&l, &p, &x, now, &v, &why, &err) != 0 ||
                v != VEIL_PRIVACY_ACCEPT) {
                fprintf(stderr, "bench_probe: charge: %s %s\n", err.msg, why.msg);
                exit(1);
            }
        }
    double charge = (now_ns() - t0) / n;
    t0 = now_ns();
    unsigned sink = 0;
    for (uint32_t v16 = 0; v16 < 65536; v16++)
        sink += veil_privacy_class_down(&p, (uint16_t)v16);
    double cls = (now_ns() - t0) / 65536;
    printf("{\"bench\":\"probe_rule_cost\",\"budget_charge_ns_avg_to_%d_entries\":%.0f,"
           "\"class_down_ns\":%.1f,\"sink\":%u}\n",
           CAP, charge, cls, sink & 1);
}

int main(int argc, char **argv)
{
    int trials = argc > 1 ? atoi(argv[1]) : 300;
    if (trials < 1 || trials > 100000) {
        fprintf(stderr, "usage: bench_probe [TRIALS]\n");
        return 2;
    }
    struct veil_privacy_policy off = {0, 0, 0, 0, 1}, x2 = off, x74 = off;
    x2.ratio_num = 2, x2.ratio_den = 1;
    x74.ratio_num = 7, x74.ratio_den = 4;
    const struct mode modes[] = {
        {"undefended (today: the chosen node is shown)", false, off},
        {"redacted (placed/unschedulable/on my node)", true, off},
        {"classes x2 only", false, x2},
        {"redacted + classes x7/4", true, x74},
        {"redacted + classes x2", true, x2},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        run_mode(&modes[i], trials);
    run_subtractive(&x2, trials);
    honest_cost(&x2, VEIL_POLICY_BINPACK, trials);
    honest_cost(&x2, VEIL_POLICY_SPREAD, trials);
    honest_cost(&x74, VEIL_POLICY_BINPACK, trials);
    rule_cost();
    return 0;
}
