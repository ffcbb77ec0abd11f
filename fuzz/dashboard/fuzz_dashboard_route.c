// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the dashboard's endpoints never crash or leak on any
 * body or URL, always answer a JSON object, and the asset lookup never names
 * a file outside the embedded set. The first byte picks the endpoint (bits
 * 0-2; 7: the URL is the rest of the input, e.g. a replica's logs path) and
 * the method (bit 3); the rest is the body (and, NUL-terminated, the URL
 * given to the asset lookup and the "tail" argument). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dashboard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const urls[] = {"/v1/jobs/validate",
                                       "/v1/anchors/verify",
                                       "/v1/cluster",
                                       "/v1/network",
                                       "/v1/disputes",
                                       ("/v1/jobs/0123456789abcdef0123456789abcdef0123456789abcdef"
                                        "0123456789abcdef/replicas/0/logs")};
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    unsigned pick = data[0] & 7;
    struct veil_dash_request r = {.method = data[0] & 8 ? "GET" : "POST",
                                  .url = pick < 6    ? urls[pick]
                                         : pick == 6 ? urls[5]
                                                     : text,
                                  .self = "",
                                  .tail = pick == 6 ? text : NULL,
                                  .body = data + 1,
                                  .body_len = size - 1};
    unsigned code = 0;
    void *reply = NULL;
    if (!veil_dashboard_route(&r, &code, &reply)) {
        if (pick != 7) /* a URL from the input may name no dashboard endpoint */
            abort();
    } else if (!json_is_object((json_t *)reply) || code < 200 || code > 599) {
        abort();
    }
    json_decref(reply);
    const struct veil_dash_asset *a = veil_dashboard_asset(text);
    if (a && (strncmp(text, "/ui/", 4) != 0 || strchr(a->name, '/')))
        abort();
    free(text);
    return 0;
}
