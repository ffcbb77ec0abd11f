// SPDX-License-Identifier: Apache-2.0
/*
 * log.c - structured logging: one logfmt line per event on stderr,
 *   time=2026-11-21T21:06:01.123Z level=info sub=p2p msg="connected" peer=...
 * written with a single fwrite so lines from threads never interleave. The
 * level is the one process-wide setting in Veil (VEIL_LOG, --log-level).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <veil/base.h>

static _Atomic int current_level = VEIL_LOG_WARN;
static FILE *_Atomic log_stream = NULL;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

const char *veil_log_level_name(enum veil_log_level level)
{
    if ((unsigned)level < VEIL_ARRAY_LEN(level_names))
        return level_names[level];
    return "unknown";
}

int veil_log_level_parse(const char *text, enum veil_log_level *out, veil_err *err)
{
    for (size_t i = 0; i < VEIL_ARRAY_LEN(level_names); i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *out = (enum veil_log_level)i;
            return 0;
        }
    }
    if (strcmp(text, "warning") == 0) {
        *out = VEIL_LOG_WARN;
        return 0;
    }
    return veil_err_set(err, VEIL_E_INVALID,
                        "unknown log level '%s' (error, warn, info, debug or trace)", text);
}

void veil_log_set_level(enum veil_log_level level)
{
    atomic_store(&current_level, (int)level);
}

enum veil_log_level veil_log_get_level(void)
{
    return (enum veil_log_level)atomic_load(&current_level);
}

bool veil_log_enabled(enum veil_log_level level)
{
    return (int)level <= atomic_load(&current_level);
}

int veil_log_init_from_env(veil_err *err)
{
    const char *v = getenv("VEIL_LOG");
    if (!v || !*v)
        return 0;
    enum veil_log_level level;
    if (veil_log_level_parse(v, &level, err) != 0)
        return veil_err_wrap(err, "VEIL_LOG");
    veil_log_set_level(level);
    return 0;
}

void veil_log_set_stream(void *file)
{
    atomic_store(&log_stream, (FILE *)file);
}

/* Quotes msg for logfmt: wraps in "" and escapes quotes, backslashes and
 * control characters so a log line is always exactly one line. */
static void append_quoted(veil_buf *b, const char *s)
{
    veil_buf_put_u8(b, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            veil_buf_put_u8(b, '\\');
            veil_buf_put_u8(b, ch);
        } else if (ch < 0x20 || ch == 0x7f) {
            veil_buf_printf(b, "\\x%02x", ch);
        } else {
            veil_buf_put_u8(b, ch);
        }
    }
    veil_buf_put_u8(b, '"');
}

void veil_log(enum veil_log_level level, const char *subsystem, const char *msg,
              const char *fields, ...)
{
    if (!veil_log_enabled(level))
        return;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);

    veil_buf b;
    veil_buf_init(&b);
    veil_buf_printf(&b, "time=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s sub=%s msg=",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                    tm.tm_sec, ts.tv_nsec / 1000000, veil_log_level_name(level),
                    subsystem ? subsystem : "-");
    append_quoted(&b, msg ? msg : "");
    if (fields && *fields) {
        char line[2048];
        va_list ap;
        va_start(ap, fields);
        vsnprintf(line, sizeof line, fields, ap);
        va_end(ap);
        veil_buf_put_u8(&b, ' ');
        /* Fields must stay on one line even if a value carried a newline. */
        for (char *p = line; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        veil_buf_put_str(&b, line);
    }
    veil_buf_put_u8(&b, '\n');
    if (veil_buf_ok(&b)) {
        FILE *out = atomic_load(&log_stream);
        if (!out)
            out = stderr;
        fwrite(b.data, 1, b.len, out);
        fflush(out);
    }
    veil_buf_free(&b);
}

void veil_log_fingerprint(char out[17], const void *data, size_t len)
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, data, len, NULL, 0);
    veil_hex_encode(out, 17, h, 8);
}
