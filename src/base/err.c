// SPDX-License-Identifier: Apache-2.0
/*
 * err.c - veil_err: how failures carry a code and a human message up the
 * stack. Messages are built once at the failing site and wrapped with
 * context on the way up ("loading server key: truncated ciphertext").
 */
#include <stdio.h>
#include <string.h>

#include <veil/base.h>

int veil_err_setv(veil_err *err, enum veil_err_code code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return -1;
}

int veil_err_set(veil_err *err, enum veil_err_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    veil_err_setv(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

int veil_err_wrap(veil_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    /* Build "prefix: old" in a scratch buffer, then truncate into msg. */
    char joined[2 * VEIL_ERR_MSG_MAX + 2];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(joined, VEIL_ERR_MSG_MAX, fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : ((size_t)n < VEIL_ERR_MSG_MAX ? (size_t)n : VEIL_ERR_MSG_MAX - 1);
    joined[used++] = ':';
    joined[used++] = ' ';
    size_t old_len = strnlen(err->msg, VEIL_ERR_MSG_MAX - 1);
    memcpy(joined + used, err->msg, old_len);
    used += old_len;
    if (used > VEIL_ERR_MSG_MAX - 1)
        used = VEIL_ERR_MSG_MAX - 1;
    memcpy(err->msg, joined, used);
    err->msg[used] = '\0';
    if (err->code == VEIL_OK)
        err->code = VEIL_E_INTERNAL;
    return -1;
}

void veil_err_clear(veil_err *err)
{
    if (err) {
        err->code = VEIL_OK;
        err->msg[0] = '\0';
    }
}

const char *veil_err_code_name(enum veil_err_code code)
{
    static const char *const names[] = {
        [VEIL_OK] = "ok",
        [VEIL_E_INVALID] = "invalid",
        [VEIL_E_PARSE] = "parse",
        [VEIL_E_RANGE] = "range",
        [VEIL_E_NOMEM] = "nomem",
        [VEIL_E_IO] = "io",
        [VEIL_E_NOTFOUND] = "notfound",
        [VEIL_E_EXISTS] = "exists",
        [VEIL_E_PERMISSION] = "permission",
        [VEIL_E_CRYPTO] = "crypto",
        [VEIL_E_PROTOCOL] = "protocol",
        [VEIL_E_TIMEOUT] = "timeout",
        [VEIL_E_STATE] = "state",
        [VEIL_E_NETWORK] = "network",
        [VEIL_E_UNSUPPORTED] = "unsupported",
        [VEIL_E_MISMATCH] = "mismatch",
        [VEIL_E_LIMIT] = "limit",
        [VEIL_E_INTERNAL] = "internal",
    };
    if ((size_t)code < VEIL_ARRAY_LEN(names) && names[code])
        return names[code];
    return "unknown";
}
