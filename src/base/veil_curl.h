// SPDX-License-Identifier: Apache-2.0
/*
 * veil_curl.h - the one process-wide libcurl initializer. libcurl's global
 * init is not safe to run twice at once, and the chain RPC client, the
 * registry client and the Docker driver can all be reached first from libuv
 * worker threads: every Veil user of libcurl calls this before its first
 * curl_easy_init (library veil_curl, src/base/curl.c).
 */
#ifndef VEIL_BASE_CURL_H
#define VEIL_BASE_CURL_H

#include <veil/base.h>

/* Runs curl_global_init exactly once per process (pthread_once); every call,
 * from any thread, returns its result: 0, or -1 with the libcurl error. */
int veil_curl_global_init(veil_err *err) VEIL_WARN_UNUSED;

/* How many times curl_global_init actually ran in this process (0 or 1). */
unsigned veil_curl_global_init_runs(void);

#endif
