// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_net_dns.c - the overlay name resolver's query parser and answer
 * builder (src/net/resolver.c) on arbitrary datagrams.
 */
#include <stdint.h>

#include <veil/resolver.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct veil_dns_entry table[] = {{"0.web.c42", {10, 77, 1, 2}}};
    uint8_t out[VEIL_DNS_MSG_MAX];
    (void)veil_dns_answer(table, 1, data, size, out, sizeof out);
    return 0;
}
