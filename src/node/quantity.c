// SPDX-License-Identifier: Apache-2.0
/*
 * quantity.c - Kubernetes resource quantities ("500m", "64Mi", "1.5G",
 * "2e3") parsed exactly into integer counts of a unit, and the table of
 * region label names. Grammar (Kubernetes apimachinery resource.Quantity):
 *   quantity = number [suffix]; number = digits ["." digits] | "." digits
 *   suffix   = binarySI (Ki Mi Gi Ti Pi Ei) | decimalSI (n u m "" k M G T P E)
 *            | decimalExponent ("e" | "E") [sign] digits
 * We refuse signs (a request is never negative), precision finer than the
 * unit (Kubernetes rounds up; we make the submitter say what they mean) and
 * anything that does not fit 64 bits.
 */
#include <stdio.h>
#include <string.h>

#include <veil/node.h>

#define QUANTITY_TEXT_MAX 64

static bool mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

int veil_quantity_parse(const char *text, int unit_exp10, uint64_t *out, veil_err *err)
{
    if (!text || !*text)
        return veil_err_set(err, VEIL_E_PARSE, "empty quantity");
    size_t len = strlen(text);
    if (len > QUANTITY_TEXT_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "quantity longer than %d characters",
                            QUANTITY_TEXT_MAX);
    const char *p = text;
    if (*p == '-')
        return veil_err_set(err, VEIL_E_RANGE, "must not be negative");
    if (*p == '+')
        p++;
    uint64_t mantissa = 0;
    int digits = 0, frac_digits = 0;
    bool seen_dot = false;
    int exp10 = 0; /* extra power of ten from dropped trailing digits */
    for (; *p; p++) {
        if (*p == '.') {
            if (seen_dot)
                return veil_err_set(err, VEIL_E_PARSE, "not a quantity");
            seen_dot = true;
            continue;
        }
        if (*p < '0' || *p > '9')
            break;
        digits++;
        if (seen_dot)
            frac_digits++;
        uint64_t next;
        if (!mul_u64(mantissa, 10, &next) ||
            __builtin_add_overflow(next, (uint64_t)(*p - '0'), &next))
            return veil_err_set(err, VEIL_E_RANGE, "too large");
        mantissa = next;
    }
    if (digits == 0)
        return veil_err_set(err, VEIL_E_PARSE, "not a quantity");
    exp10 -= frac_digits;
    uint64_t binary_mult = 1;
    const char *suffix = p;
    if (*suffix) {
        static const struct {
            const char *s;
            int shift;
        } binary[] = {{"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
        static const struct {
            const char *s;
            int exp;
        } decimal[] = {{"n", -9}, {"u", -6}, {"m", -3}, {"k", 3}, {"M", 6},
                       {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
        bool matched = false;
        for (size_t i = 0; i < VEIL_ARRAY_LEN(binary) && !matched; i++)
            if (strcmp(suffix, binary[i].s) == 0) {
                binary_mult = (uint64_t)1 << binary[i].shift;
                matched = true;
            }
        for (size_t i = 0; i < VEIL_ARRAY_LEN(decimal) && !matched; i++)
            if (strcmp(suffix, decimal[i].s) == 0) {
                exp10 += decimal[i].exp;
                matched = true;
            }
        if (!matched && (suffix[0] == 'e' || suffix[0] == 'E')) {
            const char *q = suffix + 1;
            bool neg = false;
            if (*q == '+' || *q == '-')
                neg = *q++ == '-';
            int e = 0, n = 0;
            for (; *q >= '0' && *q <= '9' && n < 4; q++, n++)
                e = e * 10 + (*q - '0');
            if (n == 0 || *q)
                return veil_err_set(err, VEIL_E_PARSE, "not a quantity");
            exp10 += neg ? -e : e;
            matched = true;
        }
        if (!matched)
            return veil_err_set(err, VEIL_E_PARSE, "not a quantity");
    }
    uint64_t value;
    if (!mul_u64(mantissa, binary_mult, &value))
        return veil_err_set(err, VEIL_E_RANGE, "too large");
    exp10 -= unit_exp10; /* express in the unit */
    if (value == 0) {
        *out = 0;
        return 0;
    }
    for (; exp10 > 0; exp10--)
        if (!mul_u64(value, 10, &value))
            return veil_err_set(err, VEIL_E_RANGE, "too large");
    for (; exp10 < 0; exp10++) {
        if (value % 10 != 0)
            return veil_err_set(err, VEIL_E_RANGE, "finer than the smallest unit (%s)",
                                unit_exp10 == -3 ? "1m" : "1");
        value /= 10;
    }
    /* Specs travel as JSON, whose integers are signed 64-bit (jansson). */
    if (value > INT64_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "too large");
    *out = value;
    return 0;
}

/* Region codes: a small fixed table so that every node and job maps names to
 * the same 8-bit codes (the FHE circuit compares codes). Codes not in the
 * table may still be written as integers. */
static const char *const region_names[] = {
    NULL,           "us-east",      "us-west",  "us-central", "ca-central", "sa-east",  "eu-west",
    "eu-central",   "eu-north",     "eu-south", "uk-south",   "me-central", "af-south", "ap-south",
    "ap-southeast", "ap-northeast", "ap-east",  "au-east",    "local",
};

int veil_region_code(const char *name, uint8_t *code)
{
    for (size_t i = 1; i < VEIL_ARRAY_LEN(region_names); i++)
        if (strcmp(region_names[i], name) == 0) {
            *code = (uint8_t)i;
            return 0;
        }
    return -1;
}

const char *veil_region_name(uint8_t code)
{
    return code < VEIL_ARRAY_LEN(region_names) ? region_names[code] : NULL;
}
