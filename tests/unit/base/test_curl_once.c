// SPDX-License-Identifier: Apache-2.0
/* The process-wide libcurl initializer: 16 threads released at once all get
 * success and curl_global_init runs exactly once; and no other file under
 * src/ calls curl_global_init itself (one initializer for the process). */
#define _XOPEN_SOURCE 700
#include <ctype.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "veil_curl.h"
#include "vtest.h"

enum { N_THREADS = 16 };

static pthread_barrier_t start;

static void *init_thread(void *arg)
{
    int *rc = arg;
    veil_err err = {0};
    pthread_barrier_wait(&start);
    *rc = veil_curl_global_init(&err);
    if (*rc == 0) {
        CURL *h = curl_easy_init();
        if (!h)
            *rc = -2;
        curl_easy_cleanup(h);
    }
    return NULL;
}

static void test_concurrent_init_runs_once(void)
{
    pthread_t th[N_THREADS];
    int rc[N_THREADS];
    CHECK_EQ_INT(pthread_barrier_init(&start, NULL, N_THREADS), 0);
    for (int i = 0; i < N_THREADS; i++)
        CHECK_EQ_INT(pthread_create(&th[i], NULL, init_thread, &rc[i]), 0);
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(rc[i], 0);
    }
    pthread_barrier_destroy(&start);
    CHECK_EQ_INT(veil_curl_global_init_runs(), 1);
    veil_err err = {0};
    CHECK_EQ_INT(veil_curl_global_init(&err), 0);
    CHECK_EQ_INT(veil_curl_global_init_runs(), 1);
}

static int stray_callers;

static int scan_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    size_t n = strlen(path);
    if (type != FTW_F || n < 2 || strcmp(path + n - 2, ".c") != 0 ||
        strstr(path, "/src/base/curl.c"))
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[1024];
    while (fgets(line, sizeof line, f))
        for (const char *p = line; (p = strstr(p, "curl_global_init(")) != NULL; p++)
            if (p == line || (p[-1] != '_' && !isalnum((unsigned char)p[-1]))) {
                fprintf(stderr, "curl_global_init called outside src/base/curl.c: %s\n", path);
                stray_callers++;
            }
    fclose(f);
    return 0;
}

static void test_single_initializer_in_source(void)
{
    const char *src = getenv("VEIL_SOURCE_DIR");
    CHECK(src != NULL);
    if (!src)
        return;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/src", src);
    CHECK_EQ_INT(nftw(dir, scan_file, 16, FTW_PHYS), 0);
    CHECK_EQ_INT(stray_callers, 0);
}

VTEST_MAIN(VTEST(test_concurrent_init_runs_once), VTEST(test_single_initializer_in_source))
