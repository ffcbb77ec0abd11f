// SPDX-License-Identifier: Apache-2.0
/*
 * veil/base.h - the basics every Veil subsystem builds on.
 *
 * Errors (veil_err), logging, bounds-checked byte buffers (the only place
 * wire parsers read bytes), text codecs (hex, base32, base58btc, base64url,
 * unsigned varint), secure memory and randomness, key files, and the layered
 * configuration (YAML file < VEIL_* environment < command-line flags).
 *
 * Conventions used across the whole code base:
 *   - functions that can fail return 0 on success and -1 on failure, and fill
 *     the caller's `veil_err *err` (which may be NULL when the caller does not
 *     care about the message);
 *   - state is owned by the caller: there are no hidden globals apart from the
 *     process-wide log level;
 *   - every length read from outside is checked before it is used.
 */
#ifndef VEIL_BASE_H
#define VEIL_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define VEIL_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define VEIL_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define VEIL_PRINTF(fmt_idx, arg_idx)
#define VEIL_WARN_UNUSED
#endif

#define VEIL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

enum veil_err_code {
    VEIL_OK = 0,
    VEIL_E_INVALID,     /* bad argument or malformed input */
    VEIL_E_PARSE,       /* syntax error in text or binary input */
    VEIL_E_RANGE,       /* value or length out of range, truncated input */
    VEIL_E_NOMEM,       /* allocation failed */
    VEIL_E_IO,          /* file or socket I/O failed */
    VEIL_E_NOTFOUND,    /* named thing does not exist */
    VEIL_E_EXISTS,      /* named thing already exists */
    VEIL_E_PERMISSION,  /* not allowed (access control, file mode) */
    VEIL_E_CRYPTO,      /* signature, MAC or key check failed */
    VEIL_E_PROTOCOL,    /* peer broke a protocol rule */
    VEIL_E_TIMEOUT,     /* deadline passed */
    VEIL_E_STATE,       /* operation not valid in the current state */
    VEIL_E_NETWORK,     /* remote endpoint unreachable or failed */
    VEIL_E_UNSUPPORTED, /* feature or version not supported */
    VEIL_E_MISMATCH,    /* parameter set / chain id / digest mismatch */
    VEIL_E_LIMIT,       /* a configured resource limit was hit */
    VEIL_E_INTERNAL,    /* a bug: an invariant did not hold */
};

#define VEIL_ERR_MSG_MAX 512

/* One error: a code for programs, a message for people. */
typedef struct veil_err {
    enum veil_err_code code;
    char msg[VEIL_ERR_MSG_MAX];
} veil_err;

/* Records an error in `err` (if not NULL) and returns -1, so that callers can
 * write `return veil_err_set(err, VEIL_E_RANGE, "frame too long: %zu", n);`. */
int veil_err_set(veil_err *err, enum veil_err_code code, const char *fmt, ...) VEIL_PRINTF(3, 4);
int veil_err_setv(veil_err *err, enum veil_err_code code, const char *fmt, va_list ap);
/* Prefixes the message already in `err` with context ("loading key: ..."). */
int veil_err_wrap(veil_err *err, const char *fmt, ...) VEIL_PRINTF(2, 3);
void veil_err_clear(veil_err *err);
/* Short stable name of a code ("parse", "range", ...). */
const char *veil_err_code_name(enum veil_err_code code);

/* ------------------------------------------------------------------------ */
/* Logging: one line per event, logfmt key=value fields, to stderr.         */
/* ------------------------------------------------------------------------ */

enum veil_log_level {
    VEIL_LOG_ERROR = 0,
    VEIL_LOG_WARN,
    VEIL_LOG_INFO,
    VEIL_LOG_DEBUG,
    VEIL_LOG_TRACE,
};

/* Parses "error|warn|info|debug|trace". */
int veil_log_level_parse(const char *text, enum veil_log_level *out, veil_err *err);
const char *veil_log_level_name(enum veil_log_level level);
void veil_log_set_level(enum veil_log_level level);
enum veil_log_level veil_log_get_level(void);
/* Applies VEIL_LOG if it is set and valid; returns -1 with a message if not. */
int veil_log_init_from_env(veil_err *err);
/* Redirects output (tests); NULL restores stderr. */
void veil_log_set_stream(void *file /* FILE* */);
bool veil_log_enabled(enum veil_log_level level);

/* `fields` is a printf format producing space-separated key=value pairs,
 * e.g. veil_log(VEIL_LOG_INFO, "p2p", "connected", "peer=%s addr=%s", id, a).
 * Never pass key material, telemetry values or passwords: log their
 * fingerprints (veil_log_fingerprint) instead. */
void veil_log(enum veil_log_level level, const char *subsystem, const char *msg,
              const char *fields, ...) VEIL_PRINTF(4, 5);

#define VEIL_LOG_ERR(sub, msg, ...) veil_log(VEIL_LOG_ERROR, sub, msg, __VA_ARGS__)
#define VEIL_LOG_WARNING(sub, msg, ...) veil_log(VEIL_LOG_WARN, sub, msg, __VA_ARGS__)
#define VEIL_LOG_INF(sub, msg, ...) veil_log(VEIL_LOG_INFO, sub, msg, __VA_ARGS__)
#define VEIL_LOG_DBG(sub, msg, ...)                                                                \
    do {                                                                                           \
        if (veil_log_enabled(VEIL_LOG_DEBUG))                                                      \
            veil_log(VEIL_LOG_DEBUG, sub, msg, __VA_ARGS__);                                       \
    } while (0)

/* Writes a short public fingerprint of secret-bearing data (first 8 bytes of
 * BLAKE2b-256, hex) into out[17]; safe to log. */
void veil_log_fingerprint(char out[17], const void *data, size_t len);

/* ------------------------------------------------------------------------ */
/* Byte buffers                                                             */
/* ------------------------------------------------------------------------ */

/* Growable arrays: room for element n of an array of *cap elements of `size`
 * bytes. Returns `items` when n < *cap; else the array reallocated to twice
 * its capacity (8 at first) with *cap updated; NULL when out of memory or
 * on overflow (`items` and *cap unchanged). The caller stores the result. */
void *veil_array_reserve(void *items, size_t *cap, size_t n, size_t size) VEIL_WARN_UNUSED;

/* Growable output buffer. Any failed append latches `failed`; check once at
 * the end with veil_buf_ok(). */
typedef struct veil_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t limit; /* 0 = no limit; appends past it fail (VEIL_E_LIMIT) */
    bool failed;
} veil_buf;

void veil_buf_init(veil_buf *b);
void veil_buf_free(veil_buf *b);
/* Frees after wiping the contents (buffers that held secrets). */
void veil_buf_free_secure(veil_buf *b);
void veil_buf_reset(veil_buf *b);
bool veil_buf_ok(const veil_buf *b);
int veil_buf_reserve(veil_buf *b, size_t extra);
/* Returns a pointer to `n` new bytes at the end (uninitialised), or NULL. */
uint8_t *veil_buf_extend(veil_buf *b, size_t n);
void veil_buf_put(veil_buf *b, const void *data, size_t n);
void veil_buf_put_u8(veil_buf *b, uint8_t v);
void veil_buf_put_u16be(veil_buf *b, uint16_t v);
void veil_buf_put_u32be(veil_buf *b, uint32_t v);
void veil_buf_put_u64be(veil_buf *b, uint64_t v);
void veil_buf_put_u16le(veil_buf *b, uint16_t v);
void veil_buf_put_u32le(veil_buf *b, uint32_t v);
void veil_buf_put_u64le(veil_buf *b, uint64_t v);
void veil_buf_put_uvarint(veil_buf *b, uint64_t v);
void veil_buf_put_str(veil_buf *b, const char *s);
void veil_buf_printf(veil_buf *b, const char *fmt, ...) VEIL_PRINTF(2, 3);
/* Removes the first n bytes (consumed input). */
void veil_buf_consume(veil_buf *b, size_t n);

/* Read cursor over borrowed bytes. Any failed read latches `failed` and
 * makes every later read fail too, so a parser can read a whole structure
 * and check once. Reads never go past `len`. */
typedef struct veil_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    bool failed;
} veil_reader;

void veil_reader_init(veil_reader *r, const void *data, size_t len);
bool veil_reader_ok(const veil_reader *r);
size_t veil_reader_remaining(const veil_reader *r);
bool veil_reader_at_end(const veil_reader *r);
uint8_t veil_read_u8(veil_reader *r);
uint16_t veil_read_u16be(veil_reader *r);
uint32_t veil_read_u32be(veil_reader *r);
uint64_t veil_read_u64be(veil_reader *r);
uint16_t veil_read_u16le(veil_reader *r);
uint32_t veil_read_u32le(veil_reader *r);
uint64_t veil_read_u64le(veil_reader *r);
/* Strict unsigned varint (multiformats unsigned-varint): at most 9 bytes,
 * minimal encoding, value < 2^63. */
uint64_t veil_read_uvarint(veil_reader *r);
/* Copies n bytes out. */
void veil_read_bytes(veil_reader *r, void *out, size_t n);
/* Borrows n bytes (pointer into the input), or NULL on failure. */
const uint8_t *veil_read_borrow(veil_reader *r, size_t n);
/* A sub-reader over the next n bytes. */
veil_reader veil_read_sub(veil_reader *r, size_t n);
void veil_reader_skip(veil_reader *r, size_t n);
/* Fails the reader explicitly (e.g. a semantic check failed). */
void veil_reader_fail(veil_reader *r);

/* ------------------------------------------------------------------------ */
/* Codecs. Encoders write a NUL-terminated string and return its length, or */
/* -1 if `out_cap` is too small. Decoders are strict: they reject any       */
/* character outside the alphabet, bad padding, non-canonical trailing bits */
/* and too-small outputs, and return the decoded length or -1 (with err).   */
/* ------------------------------------------------------------------------ */

size_t veil_hex_encoded_len(size_t n); /* without the NUL */
long veil_hex_encode(char *out, size_t out_cap, const void *in, size_t n);
/* Accepts upper or lower case; an optional "0x" prefix only if allow_0x. */
long veil_hex_decode(void *out, size_t out_cap, const char *in, size_t in_len, bool allow_0x,
                     veil_err *err);

/* RFC 4648 section 6 base32. `lower` picks the alphabet case on output;
 * `pad` adds '=' padding. Decoding accepts one case consistently and, if
 * padding is present, requires it to be exactly right. */
size_t veil_base32_encoded_len(size_t n, bool pad);
long veil_base32_encode(char *out, size_t out_cap, const void *in, size_t n, bool lower, bool pad);
long veil_base32_decode(void *out, size_t out_cap, const char *in, size_t in_len, veil_err *err);

/* Bitcoin alphabet base58 (multibase 'z' without the prefix). */
size_t veil_base58_encoded_max(size_t n);
long veil_base58_encode(char *out, size_t out_cap, const void *in, size_t n);
long veil_base58_decode(void *out, size_t out_cap, const char *in, size_t in_len, veil_err *err);

/* RFC 4648 section 5 base64url; `pad` adds '='. Decoding accepts input with
 * or without padding but rejects wrong padding and non-zero trailing bits. */
size_t veil_base64url_encoded_len(size_t n, bool pad);
long veil_base64url_encode(char *out, size_t out_cap, const void *in, size_t n, bool pad);
long veil_base64url_decode(void *out, size_t out_cap, const char *in, size_t in_len, veil_err *err);

/* Unsigned varint (multiformats): encode into out[10]; returns bytes written. */
#define VEIL_UVARINT_MAX 9
size_t veil_uvarint_encode(uint8_t out[10], uint64_t v);
/* Strict decode (minimal, <= 9 bytes, < 2^63). Returns bytes consumed, 0 if
 * more input is needed (truncated), or -1 if malformed. */
int veil_uvarint_decode(const uint8_t *in, size_t len, uint64_t *out);

/* ------------------------------------------------------------------------ */
/* Secure memory, randomness, files                                         */
/* ------------------------------------------------------------------------ */

/* Initialises libsodium; call once at program start (idempotent). */
int veil_crypto_init(veil_err *err);
void veil_memzero(void *p, size_t n);
/* Constant-time equality (sodium_memcmp): true when equal. */
bool veil_memeq_ct(const void *a, const void *b, size_t n);
/* Fills with CSPRNG bytes (libsodium randombytes). */
void veil_random_bytes(void *out, size_t n);
uint64_t veil_random_u64(void);
/* Uniform in [0, bound), bound > 0. */
uint32_t veil_random_uniform(uint32_t bound);

/* Reads a whole file (refusing files larger than max_len). The buffer gets a
 * NUL after the data for convenience (not counted in *len). */
int veil_file_read(const char *path, size_t max_len, uint8_t **data, size_t *len, veil_err *err);
/* Writes atomically: temp file in the same directory with `mode`, write,
 * fsync, rename, fsync the directory. Existing files are replaced only once
 * the new contents are safely on disk. */
int veil_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                           veil_err *err);
/* Key files: mode 0600 from creation on (no window where others can read). */
int veil_key_file_write(const char *path, const void *data, size_t len, veil_err *err);
/* Reads a key file, refusing files readable by group/others. */
int veil_key_file_read(const char *path, size_t max_len, uint8_t **data, size_t *len,
                       veil_err *err);
/* Reads a one-line secret file (a keystore password): at most cap - 1 bytes,
 * trailing CR/LF dropped, NUL-terminated into out; the read buffer is wiped. */
int veil_secret_file_read_line(const char *path, char *out, size_t cap, veil_err *err);
/* mkdir -p with mode for each created component. */
int veil_mkdir_p(const char *path, unsigned mode, veil_err *err);

/* ------------------------------------------------------------------------ */
/* Configuration: YAML file < VEIL_* environment < flags.                   */
/* ------------------------------------------------------------------------ */

enum veil_config_type {
    VEIL_CONFIG_STRING,
    VEIL_CONFIG_INT,      /* signed 64-bit, within [min, max] */
    VEIL_CONFIG_BOOL,     /* true/false/yes/no/on/off/1/0 */
    VEIL_CONFIG_DURATION, /* "500ms", "10s", "5m", "1h" -> milliseconds */
    VEIL_CONFIG_LIST,     /* YAML sequence; env/flag: comma-separated */
};

/* One known key. Keys are dotted paths into nested YAML maps
 * ("libp2p.bootstrap"). */
struct veil_config_key {
    const char *name;
    enum veil_config_type type;
    const char *env;           /* e.g. "VEIL_LIBP2P_BOOTSTRAP", or NULL */
    const char *default_value; /* text form, or NULL for unset */
    int64_t min, max;          /* for INT (ignored when min == max == 0) */
    const char *help;
};

enum veil_config_source {
    VEIL_CONFIG_UNSET = 0,
    VEIL_CONFIG_FROM_DEFAULT,
    VEIL_CONFIG_FROM_FILE,
    VEIL_CONFIG_FROM_ENV,
    VEIL_CONFIG_FROM_FLAG,
};

struct veil_config_value {
    enum veil_config_source source;
    char *text;     /* canonical text (list: comma-joined) */
    int64_t number; /* INT, BOOL (0/1), DURATION (ms) */
    char **items;   /* LIST */
    size_t n_items;
    char origin[128]; /* "file.yaml:12", "env VEIL_X", "flag --x", "default" */
};

typedef struct veil_config {
    const struct veil_config_key *keys;
    size_t n_keys;
    struct veil_config_value *values; /* parallel to keys */
} veil_config;

/* The keys every Veil program understands. */
extern const struct veil_config_key veil_config_default_keys[];
extern const size_t veil_config_default_keys_len;

int veil_config_init(veil_config *cfg, const struct veil_config_key *keys, size_t n_keys,
                     veil_err *err);
void veil_config_free(veil_config *cfg);
/* Loads a YAML file. Unknown keys and bad values fail with "path:line: ...". */
int veil_config_load_file(veil_config *cfg, const char *path, veil_err *err);
int veil_config_load_yaml(veil_config *cfg, const char *yaml, size_t len, const char *origin,
                          veil_err *err);
/* Applies every key's environment variable that is set. `getenv_fn` may be
 * NULL (uses getenv) - tests pass their own. */
int veil_config_load_env(veil_config *cfg, const char *(*getenv_fn)(const char *name),
                         veil_err *err);
/* Sets one key from a command-line flag (highest precedence). */
int veil_config_set(veil_config *cfg, const char *key, const char *value,
                    enum veil_config_source source, const char *origin, veil_err *err);
const struct veil_config_value *veil_config_get(const veil_config *cfg, const char *key);
/* Convenience getters; return the fallback when the key is unknown/unset. */
const char *veil_config_str(const veil_config *cfg, const char *key, const char *fallback);
int64_t veil_config_int(const veil_config *cfg, const char *key, int64_t fallback);
bool veil_config_bool(const veil_config *cfg, const char *key, bool fallback);
/* Logs every key with its source at INFO; values of keys whose name ends in
 * "password" or "secret" are never printed. */
void veil_config_log(const veil_config *cfg, const char *subsystem);

/* Parses a duration ("250ms", "10s", "2m", "1h", bare number = seconds). */
int veil_parse_duration_ms(const char *text, int64_t *out_ms, veil_err *err);
/* Parses a byte size ("64m", "64Mi", "1g", "512k", "100"). */
int veil_parse_size(const char *text, uint64_t *out, veil_err *err);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_BASE_H */
