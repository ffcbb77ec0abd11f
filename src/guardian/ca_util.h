// SPDX-License-Identifier: Apache-2.0
/*
 * ca_util.h - private helpers shared by ca.c (issuing) and ca_verify.c
 * (SAN text, leaf verification) and by master.c (server certificates).
 */
#ifndef VEIL_GUARDIAN_CA_UTIL_H
#define VEIL_GUARDIAN_CA_UTIL_H

#include <openssl/x509.h>

#include <veil/guardian.h>

int veil_ca_add_ext(X509 *cert, X509 *issuer, int nid, const char *value,
                    veil_err *err) VEIL_WARN_UNUSED;
/* malloc'd PEM text; NULL on failure. */
char *veil_ca_cert_pem(X509 *c);
char *veil_ca_key_pem(EVP_PKEY *k);
/* "URI:veil://r/n,DNS:x,IP:y" after checking every name's characters; ""
 * when the request names nothing. */
int veil_ca_san_text(const struct veil_ca_leaf_req *req, char *out, size_t cap,
                     veil_err *err) VEIL_WARN_UNUSED;

#endif
