// SPDX-License-Identifier: Apache-2.0
/*
 * jwt_json.h - private: the JSON form of NATS JWT claims (jwt_json.c).
 */
#ifndef VEIL_GUARDIAN_JWT_JSON_H
#define VEIL_GUARDIAN_JWT_JSON_H

#include <veil/guardian.h>

/* Compact JSON of the claims (jti omitted when empty); malloc'd. */
int veil_jwt_claims_dump(const veil_jwt *c, char **out, veil_err *err) VEIL_WARN_UNUSED;
/* Reads claims JSON into `out` (already initialised); strict types. */
int veil_jwt_claims_load(const char *json, size_t len, veil_jwt *out,
                         veil_err *err) VEIL_WARN_UNUSED;

#endif
