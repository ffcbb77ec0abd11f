// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the dashboard's endpoints never crash or leak on any
 * body, always answer a JSON object, and the asset lookup never names a file
 * outside the embedded set. The first byte picks the endpoint; the rest is
 * the body (and, NUL-terminated, the URL given to the asset lookup). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dashboard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const urls[] = {"/v1/jobs/validate", "/v1/anchors/verify", "/v1/cluster",
                                       "/v1/network"};
    struct veil_dash_request r = {.method = data[0] & 4 ? "GET" : "POST",
                                  .url = urls[data[0] & 3],
                                  .self = "",
                                  .body = data + 1,
                                  .body_len = size - 1};
    unsigned code = 0;
    void *reply = NULL;
    if (!veil_dashboard_route(&r, &code, &reply) || !json_is_object((json_t *)reply) ||
        code < 200 || code > 599)
        abort();
    json_decref(reply);
    char *url = malloc(size);
    memcpy(url, data + 1, size - 1);
    url[size - 1] = '\0';
    const struct veil_dash_asset *a = veil_dashboard_asset(url);
    if (a && (strncmp(url, "/ui/", 4) != 0 || strchr(a->name, '/')))
        abort();
    free(url);
    return 0;
}
