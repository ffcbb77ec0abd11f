// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_guardian_jwt.c - NATS JWT parsing: whole tokens (split, header,
 * base64url, signature check) and, for inputs starting with '{', the claims
 * JSON reader directly (which a valid signature would otherwise guard).
 * Whatever parses must re-serialise and be checkable without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <veil/guardian.h>

#include "jwt_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_jwt c, other;
    veil_err err = {0};
    veil_jwt_init(&c, VEIL_JWT_USER);
    int rc = size > 0 && data[0] == '{' ? veil_jwt_claims_load((const char *)data, size, &c, &err)
                                        : veil_jwt_decode((const char *)data, size, &c, &err);
    if (rc == 0) {
        char *json = NULL;
        if (veil_jwt_claims_dump(&c, &json, &err) == 0) {
            veil_jwt_init(&other, VEIL_JWT_USER);
            if (veil_jwt_claims_load(json, strlen(json), &other, &err) == 0)
                (void)veil_jwt_check_user(&c, &other, 0, &err);
            veil_jwt_free(&other);
        }
        free(json);
        (void)veil_jwt_is_revoked(&c, c.sub, c.iat);
    }
    veil_jwt_free(&c);
    return 0;
}
