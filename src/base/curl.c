// SPDX-License-Identifier: Apache-2.0
/*
 * curl.c - the process-wide libcurl initializer (see veil_curl.h). Its own
 * small library (veil_curl) so that veil_base itself does not link libcurl.
 */
#include <pthread.h>
#include <stdatomic.h>

#include <curl/curl.h>

#include "veil_curl.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;
static atomic_uint curl_init_count;

static void curl_init_once(void)
{
    atomic_fetch_add(&curl_init_count, 1);
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int veil_curl_global_init(veil_err *err)
{
    if (pthread_once(&curl_once, curl_init_once) != 0)
        return veil_err_set(err, VEIL_E_INTERNAL, "libcurl: pthread_once failed");
    if (curl_init_result != CURLE_OK)
        return veil_err_set(err, VEIL_E_INTERNAL, "libcurl global init failed: %s",
                            curl_easy_strerror(curl_init_result));
    return 0;
}

unsigned veil_curl_global_init_runs(void)
{
    return atomic_load(&curl_init_count);
}
