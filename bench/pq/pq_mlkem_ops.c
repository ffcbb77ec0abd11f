// SPDX-License-Identifier: Apache-2.0
/*
 * pq_mlkem_ops.c - ML-KEM-768 keygen, encaps and decaps per second on one
 * core (src/pq/), as one JSON line. Each operation runs for about
 * SECONDS (argv[1], default 1) of this process's CPU time after a short
 * warm-up, and the rate is per CPU second (steadier than wall time on a
 * shared machine).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <veil/pq.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct keys {
    uint8_t ek[VEIL_MLKEM768_EK_BYTES], dk[VEIL_MLKEM768_DK_BYTES];
    uint8_t ct[VEIL_MLKEM768_CT_BYTES], ss[VEIL_MLKEM768_SS_BYTES];
};

static int op(int which, struct keys *k)
{
    veil_err err = {0};
    int rc = which == 0   ? veil_mlkem768_keygen(k->ek, k->dk, &err)
             : which == 1 ? veil_mlkem768_encaps(k->ct, k->ss, k->ek, &err)
                          : veil_mlkem768_decaps(k->ss, k->ct, k->dk, &err);
    if (rc != 0)
        fprintf(stderr, "bench: %s\n", err.msg);
    return rc;
}

/* Operations per second of `which` over about `seconds`. */
static double rate(int which, struct keys *k, double seconds)
{
    for (int i = 0; i < 50; i++)
        if (op(which, k) != 0)
            exit(1);
    long n = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 100; i++)
            if (op(which, k) != 0)
                exit(1);
        n += 100;
        t = now_s();
    } while (t - t0 < seconds);
    return (double)n / (t - t0);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    veil_err err = {0};
    if (veil_crypto_init(&err) != 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    static struct keys k;
    if (op(0, &k) != 0 || op(1, &k) != 0)
        return 1;
    double kg = rate(0, &k, seconds), en = rate(1, &k, seconds), de = rate(2, &k, seconds);
    printf("{\"bench\": \"pq_mlkem768\", \"impl\": \"veil\", \"keygen_per_cpu_s\": %.0f, "
           "\"encaps_per_cpu_s\": %.0f, \"decaps_per_cpu_s\": %.0f}\n",
           kg, en, de);
    return 0;
}
