// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_conflux_cert.c - libFuzzer target for the agent's reading of the
 * overlay names in a certificate from Guardian (src/conflux/dataplane.c,
 * veil_conflux_overlay_of_cert): the input is one DER certificate, handed
 * over as the PEM chain Guardian's RESULT carries; and the input as raw
 * PEM text. A success must name an address inside the pool.
 */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <veil/conflux.h>

static void check(const char *pem)
{
    struct veil_conflux_overlay o;
    if (veil_conflux_overlay_of_cert(pem, &o, NULL) != 0)
        return;
    struct in_addr a;
    uint32_t net;
    unsigned prefix;
    if (inet_pton(AF_INET, o.ipv4, &a) != 1 ||
        veil_guardian_cidr_parse(o.pool, &net, &prefix, NULL) != 0 || prefix != o.prefix ||
        (ntohl(a.s_addr) & (~0u << (32 - prefix))) != net || o.realm[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)size);
    BIO *b = x ? BIO_new(BIO_s_mem()) : NULL;
    if (b && PEM_write_bio_X509(b, x) == 1) {
        char *pem = NULL;
        long n = BIO_get_mem_data(b, &pem);
        char *text = strndup(pem, (size_t)n);
        if (text)
            check(text);
        free(text);
    }
    BIO_free(b);
    X509_free(x);
    char *raw = strndup((const char *)data, size);
    if (raw)
        check(raw);
    free(raw);
    return 0;
}
