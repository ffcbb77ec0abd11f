// SPDX-License-Identifier: Apache-2.0
/*
 * vtest.h - the tiny test harness every C test uses: CHECK macros that
 * report file:line and keep going, and VTEST_MAIN which runs the listed test
 * functions and exits non-zero if any check failed. One test binary per
 * module; ctest runs them (see cmake/VeilTest.cmake).
 */
#ifndef VEIL_VTEST_H
#define VEIL_VTEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vtest_failures;
static int vtest_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        vtest_checks++;                                                                            \
        if (!(cond)) {                                                                             \
            vtest_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long vt_a = (long long)(a), vt_b = (long long)(b);                                    \
        vtest_checks++;                                                                            \
        if (vt_a != vt_b) {                                                                        \
            vtest_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s == %lld, %s == %lld\n", __FILE__,      \
                    __LINE__, #a, vt_a, #b, vt_b);                                                 \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                         \
    do {                                                                                           \
        uint64_t vt_a = (uint64_t)(a), vt_b = (uint64_t)(b);                                       \
        vtest_checks++;                                                                            \
        if (vt_a != vt_b) {                                                                        \
            vtest_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ_U64 failed: %s == %" PRIu64 ", %s == %" PRIu64 "\n",  \
                    __FILE__, __LINE__, #a, vt_a, #b, vt_b);                                       \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *vt_a = (a), *vt_b = (b);                                                       \
        vtest_checks++;                                                                            \
        if (!vt_a || !vt_b || strcmp(vt_a, vt_b) != 0) {                                           \
            vtest_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ_STR failed: %s == \"%s\", %s == \"%s\"\n", __FILE__,  \
                    __LINE__, #a, vt_a ? vt_a : "(null)", #b, vt_b ? vt_b : "(null)");             \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_MEM(a, b, n)                                                                      \
    do {                                                                                           \
        vtest_checks++;                                                                            \
        if (memcmp((a), (b), (n)) != 0) {                                                          \
            vtest_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ_MEM failed: %s != %s (%zu bytes)\n", __FILE__,        \
                    __LINE__, #a, #b, (size_t)(n));                                                \
        }                                                                                          \
    } while (0)

/* Checks that a string contains a substring (error messages). */
#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        const char *vt_h = (hay), *vt_n = (needle);                                                \
        vtest_checks++;                                                                            \
        if (!vt_h || !strstr(vt_h, vt_n)) {                                                        \
            vtest_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK_CONTAINS failed: \"%s\" lacks \"%s\"\n", __FILE__,       \
                    __LINE__, vt_h ? vt_h : "(null)", vt_n);                                       \
        }                                                                                          \
    } while (0)

typedef void (*vtest_fn)(void);
struct vtest_case {
    const char *name;
    vtest_fn fn;
};
#define VTEST(fn) {#fn, fn}

/* Runs every case (or only those named on the command line). */
static inline int vtest_run(const struct vtest_case *cases, size_t n, int argc, char **argv)
{
    for (size_t i = 0; i < n; i++) {
        if (argc > 1) {
            int wanted = 0;
            for (int a = 1; a < argc; a++)
                wanted |= strcmp(argv[a], cases[i].name) == 0;
            if (!wanted)
                continue;
        }
        int before = vtest_failures;
        cases[i].fn();
        fprintf(stderr, "%s %s\n", vtest_failures == before ? "ok  " : "FAIL", cases[i].name);
    }
    fprintf(stderr, "%d checks, %d failed\n", vtest_checks, vtest_failures);
    return vtest_failures ? 1 : 0;
}

#define VTEST_MAIN(...)                                                                            \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const struct vtest_case vtest_cases[] = {__VA_ARGS__};                              \
        return vtest_run(vtest_cases, sizeof vtest_cases / sizeof vtest_cases[0], argc, argv);     \
    }

#endif /* VEIL_VTEST_H */
