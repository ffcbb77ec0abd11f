// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_fhe.c - `veil fhe keygen|encrypt|decrypt|eval|import|export|bench`: the
 * operator's tools for the TFHE key ceremony, for debugging encrypted scheduling
 * (include/veil/fhe.h) and for exchanging keys and ciphertexts with Zama's
 * TFHE-rs / node-tfhe (include/veil/tfhers.h: every command reads TFHE-rs files
 * by their header; --format tfhe-rs writes them).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <veil/fhe.h>
#include <veil/tfhers.h>

#include "cli.h"

/* Strict unsigned decimal (or 0x hex) parser for values and scalars. */
static int parse_u64(const char *text, uint64_t *out)
{
    if (!text || !*text || text[0] == '-' || text[0] == '+' || text[0] == ' ')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno != 0 || !end || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_width(const char *text, unsigned *out)
{
    uint64_t w;
    if (parse_u64(text, &w) != 0 || (w != 1 && w != 8 && w != 16 && w != 32 && w != 64))
        return -1;
    *out = (unsigned)w;
    return 0;
}

/* --format veil|tfhe-rs: *tfhers = 1 for TFHE-rs. */
static int parse_format(const char *text, int *tfhers)
{
    if (strcmp(text, "veil") == 0 || strcmp(text, "tfhe-rs") == 0) {
        *tfhers = text[0] == 't';
        return 0;
    }
    return -1;
}

static int save_ct(const veil_fhe_ct *ct, const char *path, int tfhers, veil_err *err)
{
    return tfhers ? veil_fhe_ct_export_tfhers(ct, path, err) : veil_fhe_ct_save(ct, path, err);
}

/* ------------------------------------------------------------------ keygen */

/* DIR/client.key, server.key and public.key (Veil's format) for an existing
 * client key, e.g. one made by TFHE-rs. */
static int keygen_for(const char *dir, const char *client_key, veil_err *err)
{
    char path[4096];
    veil_fhe_client *ck = NULL;
    veil_fhe_server *sk = NULL;
    veil_fhe_public *pk = NULL;
    int rc = veil_mkdir_p(dir, 0700, err);
    if (rc == 0)
        rc = veil_fhe_client_load(client_key, &ck, err);
    if (rc == 0)
        rc = veil_fhe_server_keygen_for(ck, 0, &sk, err);
    if (rc == 0)
        rc = veil_fhe_public_keygen_for(ck, &pk, err);
    static const char *const names[] = {"client.key", "server.key", "public.key"};
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path)
            rc = veil_err_set(err, VEIL_E_RANGE, "path too long: %s", dir);
        else if (i == 0)
            rc = veil_fhe_client_save(ck, path, err);
        else
            rc = i == 1 ? veil_fhe_server_save(sk, path, err) : veil_fhe_public_save(pk, path, err);
    }
    veil_fhe_client_free(ck);
    veil_fhe_server_free(sk);
    veil_fhe_public_free(pk);
    return rc;
}

static int run_keygen(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    static const struct option opts[] = {{"client-key", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    const char *path = "veil fhe keygen", *dir = NULL, *client_key = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            dir = optarg;
            break;
        case 'c':
            client_key = optarg;
            break;
        default:
            return veil_cli_usage_error(path, "bad option");
        }
    }
    if (!dir)
        return veil_cli_usage_error(path, "missing -o DIR");
    if (optind != argc)
        return veil_cli_usage_error(path, "unexpected argument '%s'", argv[optind]);
    veil_err err = {0};
    if ((client_key ? keygen_for(dir, client_key, &err) : veil_fhe_keygen_dir(dir, &err)) != 0)
        return veil_cli_fail(&err);
    printf("%s/client.key (secret, 0600)\n%s/server.key\n%s/public.key\n", dir, dir, dir);
    return VEIL_EXIT_OK;
}

/* ----------------------------------------------------------------- encrypt */

/* Several VALUEs under a public key as one TFHE-rs CompactCiphertextList. */
static int encrypt_list(const char *key, unsigned width, int packed, int n, char **texts,
                        const char *outfile)
{
    uint64_t values[256];
    if (n > 256)
        return veil_cli_usage_error("veil fhe encrypt", "at most 256 VALUEs");
    for (int i = 0; i < n; i++)
        if (parse_u64(texts[i], &values[i]) != 0)
            return veil_cli_usage_error("veil fhe encrypt",
                                        "VALUE must be an unsigned integer, not '%s'", texts[i]);
    veil_err err = {0};
    veil_fhe_public *pk = NULL;
    veil_buf b;
    veil_buf_init(&b);
    enum veil_fhe_file_kind kind;
    int rc = veil_fhe_file_kind(key, &kind, &err);
    if (rc == 0 && kind != VEIL_FHE_FILE_PUBLIC_KEY)
        rc = veil_err_set(&err, VEIL_E_INVALID, "%s is not a public key (a list needs one)", key);
    if (rc == 0)
        rc = veil_fhe_public_load(key, &pk, &err);
    if (rc == 0)
        rc = packed ? veil_fhe_compact_encrypt_tfhers_packed(pk, width, values, (size_t)n, &b, &err)
                    : veil_fhe_compact_encrypt_tfhers(pk, width, values, (size_t)n, &b, &err);
    if (rc == 0)
        rc = veil_file_write_atomic(outfile, b.data, b.len, 0644, &err);
    veil_memzero(values, sizeof values);
    veil_buf_free(&b);
    veil_fhe_public_free(pk);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

static int run_encrypt(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    static const struct option opts[] = {{"format", required_argument, NULL, 'F'},
                                         {"packed", no_argument, NULL, 'P'},
                                         {NULL, 0, NULL, 0}};
    const char *path = "veil fhe encrypt", *key = NULL, *outfile = NULL;
    unsigned width = 0;
    int c, tfhers = 0, packed = 0;
    while ((c = getopt_long(argc, argv, "k:w:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'F':
            if (parse_format(optarg, &tfhers) != 0)
                return veil_cli_usage_error(path, "--format is veil or tfhe-rs, not '%s'", optarg);
            break;
        case 'P':
            packed = 1;
            break;
        case 'k':
            key = optarg;
            break;
        case 'o':
            outfile = optarg;
            break;
        case 'w':
            if (parse_width(optarg, &width) != 0)
                return veil_cli_usage_error(path, "-w wants 1, 8, 16, 32 or 64, not '%s'", optarg);
            break;
        default:
            return veil_cli_usage_error(path, "bad option");
        }
    }
    if (!key || !outfile || !width)
        return veil_cli_usage_error(path, "needs -k KEY, -w BITS and -o FILE");
    if (packed && !tfhers)
        return veil_cli_usage_error(path, "--packed is for --format tfhe-rs lists");
    if ((optind + 1 < argc || packed) && tfhers)
        return encrypt_list(key, width, packed, argc - optind, argv + optind, outfile);
    if (optind + 1 != argc)
        return veil_cli_usage_error(path, "expected exactly one VALUE (several: --format tfhe-rs)");
    uint64_t value;
    if (parse_u64(argv[optind], &value) != 0)
        return veil_cli_usage_error(path, "VALUE must be an unsigned integer, not '%s'",
                                    argv[optind]);
    veil_err err = {0};
    enum veil_fhe_file_kind kind;
    if (veil_fhe_file_kind(key, &kind, &err) != 0)
        return veil_cli_fail(&err);
    veil_fhe_ct *ct = NULL;
    int rc = -1;
    if (kind == VEIL_FHE_FILE_PUBLIC_KEY) {
        veil_fhe_public *pk = NULL;
        if (veil_fhe_public_load(key, &pk, &err) == 0)
            rc = veil_fhe_encrypt_public(pk, width, value, &ct, &err);
        veil_fhe_public_free(pk);
    } else if (kind == VEIL_FHE_FILE_CLIENT_KEY) {
        veil_fhe_client *ck = NULL;
        if (veil_fhe_client_load(key, &ck, &err) == 0)
            rc = veil_fhe_encrypt(ck, width, value, &ct, &err);
        veil_fhe_client_free(ck);
    } else {
        veil_err_set(&err, VEIL_E_INVALID,
                     "%s is not a public or client key (encrypt needs one of those)", key);
    }
    if (rc == 0)
        rc = save_ct(ct, outfile, tfhers, &err);
    veil_fhe_ct_free(ct);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

/* ----------------------------------------------------------------- decrypt */

/* Shared by decrypt and eval: fails with "KEY is not a <what>" unless the
 * file at `key` is of kind `want`. */
static int expect_key_kind(const char *key, enum veil_fhe_file_kind want, const char *what,
                           veil_err *err)
{
    enum veil_fhe_file_kind kind;
    if (veil_fhe_file_kind(key, &kind, err) != 0)
        return -1;
    if (kind != want)
        return veil_err_set(err, VEIL_E_INVALID, "%s is not a %s", key, what);
    return 0;
}

static int load_client(const char *key, veil_fhe_client **ck, veil_err *err)
{
    if (expect_key_kind(key, VEIL_FHE_FILE_CLIENT_KEY, "client key (decrypt needs one)", err) != 0)
        return -1;
    return veil_fhe_client_load(key, ck, err);
}

/* A TFHE-rs compact list (packed or not): one decimal value per line. */
static int decrypt_list(const char *key, const char *file)
{
    veil_err err = {0};
    veil_fhe_client *ck = NULL;
    uint8_t *data = NULL;
    size_t len = 0, n = 0;
    uint64_t *values = NULL;
    unsigned *widths = NULL;
    int rc = load_client(key, &ck, &err);
    if (rc == 0)
        rc = veil_file_read(file, 16u << 20, &data, &len, &err);
    if (rc == 0 && veil_fhe_compact_decrypt_tfhers(ck, data, len, &values, &widths, &n, &err) != 0)
        rc = veil_err_wrap(&err, "%s", file);
    for (size_t i = 0; i < n; i++)
        printf("%" PRIu64 "\n", values[i]);
    free(values);
    free(widths);
    free(data);
    veil_fhe_client_free(ck);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

static int run_decrypt(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    const char *path = "veil fhe decrypt", *key = NULL;
    int c;
    while ((c = getopt(argc, argv, "k:")) != -1) {
        switch (c) {
        case 'k':
            key = optarg;
            break;
        default:
            return veil_cli_usage_error(path, "bad option");
        }
    }
    if (!key)
        return veil_cli_usage_error(path, "missing -k CLIENT_KEY");
    if (optind + 1 != argc)
        return veil_cli_usage_error(path, "expected exactly one FILE");
    veil_err err = {0};
    veil_fhe_client *ck = NULL;
    veil_fhe_ct *ct = NULL;
    uint64_t value = 0;
    enum veil_tfhers_type type;
    if (veil_tfhers_file_type(argv[optind], &type, NULL) == 0 && type == VEIL_TFHERS_COMPACT_LIST)
        return decrypt_list(key, argv[optind]);
    int rc = load_client(key, &ck, &err);
    if (rc == 0)
        rc = veil_fhe_ct_load(argv[optind], &ct, &err);
    if (rc == 0)
        rc = veil_fhe_decrypt(ck, ct, &value, &err);
    veil_fhe_ct_free(ct);
    veil_fhe_client_free(ck);
    if (rc != 0)
        return veil_cli_fail(&err);
    printf("%" PRIu64 "\n", value);
    return VEIL_EXIT_OK;
}

/* -------------------------------------------------------------------- eval */

enum eval_kind { EV_BIN, EV_SCALAR, EV_UNARY, EV_SELECT, EV_ARG };

struct eval_op {
    const char *name;
    enum eval_kind kind;
    int code; /* enum veil_fhe_binop / veil_fhe_scalar_op / want_max */
};

static const struct eval_op eval_ops[] = {
    {"add", EV_BIN, VEIL_FHE_ADD},
    {"sub", EV_BIN, VEIL_FHE_SUB},
    {"and", EV_BIN, VEIL_FHE_AND},
    {"or", EV_BIN, VEIL_FHE_OR},
    {"xor", EV_BIN, VEIL_FHE_XOR},
    {"eq", EV_BIN, VEIL_FHE_EQ},
    {"ne", EV_BIN, VEIL_FHE_NE},
    {"lt", EV_BIN, VEIL_FHE_LT},
    {"le", EV_BIN, VEIL_FHE_LE},
    {"gt", EV_BIN, VEIL_FHE_GT},
    {"ge", EV_BIN, VEIL_FHE_GE},
    {"min", EV_BIN, VEIL_FHE_MIN},
    {"max", EV_BIN, VEIL_FHE_MAX},
    {"add_scalar", EV_SCALAR, VEIL_FHE_ADD_SCALAR},
    {"sub_scalar", EV_SCALAR, VEIL_FHE_SUB_SCALAR},
    {"mul_scalar", EV_SCALAR, VEIL_FHE_MUL_SCALAR},
    {"shl", EV_SCALAR, VEIL_FHE_SHL},
    {"shr", EV_SCALAR, VEIL_FHE_SHR},
    {"eq_scalar", EV_SCALAR, VEIL_FHE_EQ_SCALAR},
    {"ne_scalar", EV_SCALAR, VEIL_FHE_NE_SCALAR},
    {"lt_scalar", EV_SCALAR, VEIL_FHE_LT_SCALAR},
    {"le_scalar", EV_SCALAR, VEIL_FHE_LE_SCALAR},
    {"gt_scalar", EV_SCALAR, VEIL_FHE_GT_SCALAR},
    {"ge_scalar", EV_SCALAR, VEIL_FHE_GE_SCALAR},
    {"neg", EV_UNARY, 0},
    {"not", EV_UNARY, 1},
    {"select", EV_SELECT, 0},
    {"argmin", EV_ARG, 0},
    {"argmax", EV_ARG, 1},
};

/* OP or OP:N (scalar ops) into its table entry and N; 0, or the usage error's
 * exit code. */
static int parse_op(const char *path, const char *optext, const struct eval_op **out,
                    uint64_t *scalar)
{
    char opname[32];
    const char *arg = strchr(optext, ':');
    size_t nlen = arg ? (size_t)(arg - optext) : strlen(optext);
    if (nlen >= sizeof opname)
        return veil_cli_usage_error(path, "unknown OP '%s'", optext);
    memcpy(opname, optext, nlen);
    opname[nlen] = '\0';
    const struct eval_op *op = NULL;
    for (size_t i = 0; i < VEIL_ARRAY_LEN(eval_ops); i++)
        if (strcmp(eval_ops[i].name, opname) == 0)
            op = &eval_ops[i];
    if (!op)
        return veil_cli_usage_error(path, "unknown OP '%s'", opname);
    if (op->kind == EV_SCALAR) {
        if (!arg || parse_u64(arg + 1, scalar) != 0)
            return veil_cli_usage_error(path, "%s wants %s:N with N an unsigned integer", opname,
                                        opname);
    } else if (arg) {
        return veil_cli_usage_error(path, "%s takes no ':' argument", opname);
    }
    *out = op;
    return 0;
}

/* One evaluation; val (argmin/argmax's winning value) may be NULL. */
static int apply_op(veil_fhe_server *sk, const struct eval_op *op, veil_fhe_ct **in, size_t n_in,
                    uint64_t scalar, veil_fhe_ct **res, veil_fhe_ct **val, veil_err *err)
{
    switch (op->kind) {
    case EV_BIN:
        return veil_fhe_binop(sk, (enum veil_fhe_binop)op->code, in[0], in[1], res, err);
    case EV_SCALAR:
        return veil_fhe_scalar(sk, (enum veil_fhe_scalar_op)op->code, in[0], scalar, res, err);
    case EV_UNARY:
        return op->code ? veil_fhe_not(sk, in[0], res, err) : veil_fhe_neg(sk, in[0], res, err);
    case EV_SELECT:
        return veil_fhe_select(sk, in[0], in[1], in[2], res, err);
    case EV_ARG:
        return veil_fhe_argext(sk, op->code, (const veil_fhe_ct *const *)in, n_in, res, val, err);
    }
    return veil_err_set(err, VEIL_E_INTERNAL, "unknown OP kind");
}

static int run_eval(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    static const struct option opts[] = {{"value-out", required_argument, NULL, 'v'},
                                         {"format", required_argument, NULL, 'F'},
                                         {NULL, 0, NULL, 0}};
    const char *path = "veil fhe eval", *key = NULL, *outfile = NULL, *value_out = NULL;
    int c, tfhers = 0;
    /* "+": stop at the first non-option (OP), so FILEs may not start with '-' */
    while ((c = getopt_long(argc, argv, "+k:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key = optarg;
            break;
        case 'o':
            outfile = optarg;
            break;
        case 'v':
            value_out = optarg;
            break;
        case 'F':
            if (parse_format(optarg, &tfhers) != 0)
                return veil_cli_usage_error(path, "--format is veil or tfhe-rs, not '%s'", optarg);
            break;
        default:
            return veil_cli_usage_error(path, "bad option");
        }
    }
    if (!key || !outfile)
        return veil_cli_usage_error(path, "needs -k SERVER_KEY and -o OUT");
    if (optind >= argc)
        return veil_cli_usage_error(path, "missing OP");
    const struct eval_op *op = NULL;
    uint64_t scalar = 0;
    int urc = parse_op(path, argv[optind++], &op, &scalar);
    if (urc != 0)
        return urc;
    size_t n_in = (size_t)(argc - optind);
    size_t want = op->kind == EV_BIN ? 2 : op->kind == EV_SELECT ? 3 : 1;
    if (op->kind == EV_ARG ? n_in < 1 : n_in != want)
        return veil_cli_usage_error(path, "%s takes %s%zu input file%s", op->name,
                                    op->kind == EV_ARG ? "at least " : "", want,
                                    want == 1 ? "" : "s");
    if (value_out && op->kind != EV_ARG)
        return veil_cli_usage_error(path, "--value-out is for argmin/argmax");

    veil_err err = {0};
    int rc = 0;
    if (expect_key_kind(key, VEIL_FHE_FILE_SERVER_KEY, "server key (eval needs one)", &err) != 0)
        return veil_cli_fail(&err);
    veil_fhe_ct **in = calloc(n_in, sizeof *in);
    veil_fhe_server *sk = NULL;
    veil_fhe_ct *res = NULL, *val = NULL;
    if (!in) {
        veil_err_set(&err, VEIL_E_NOMEM, "out of memory");
        return veil_cli_fail(&err);
    }
    for (size_t i = 0; i < n_in && rc == 0; i++)
        rc = veil_fhe_ct_load(argv[optind + (int)i], &in[i], &err);
    if (rc == 0)
        rc = veil_fhe_server_load(key, 0, &sk, &err);
    if (rc == 0)
        rc = apply_op(sk, op, in, n_in, scalar, &res, value_out ? &val : NULL, &err);
    if (rc == 0)
        rc = save_ct(res, outfile, tfhers, &err);
    if (rc == 0 && val)
        rc = save_ct(val, value_out, tfhers, &err);
    for (size_t i = 0; i < n_in; i++)
        veil_fhe_ct_free(in[i]);
    free(in);
    veil_fhe_ct_free(res);
    veil_fhe_ct_free(val);
    veil_fhe_server_free(sk);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

/* ---------------------------------------------------------- import/export */

/* Shared option parsing: --format tfhe-rs -o OUT [-k SERVER_KEY] IN (key NULL:
 * no -k). */
static int parse_convert(int argc, char **argv, const char *path, const char **out,
                         const char **key, const char **in)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'F'},
                                         {NULL, 0, NULL, 0}};
    int c, tfhers = 0, have_format = 0;
    *out = NULL;
    while ((c = getopt_long(argc, argv, key ? "o:k:" : "o:", opts, NULL)) != -1) {
        if (c == 'o') {
            *out = optarg;
        } else if (c == 'k' && key) {
            *key = optarg;
        } else if (c == 'F' && parse_format(optarg, &tfhers) == 0 && tfhers) {
            have_format = 1;
        } else {
            return veil_cli_usage_error(path, "%s",
                                        c == 'F' ? "--format wants tfhe-rs" : "bad option");
        }
    }
    if (!have_format || !*out)
        return veil_cli_usage_error(path, "needs --format tfhe-rs and -o OUT");
    if (optind + 1 != argc)
        return veil_cli_usage_error(path, "expected exactly one input FILE");
    *in = argv[optind];
    return VEIL_EXIT_OK;
}

/* A TFHE-rs list becomes OUT.0, OUT.1, ... (one Veil ciphertext per value);
 * with a server key, a packed list too. */
static int import_list(const char *in, const char *key, const char *out, veil_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0, n = 0;
    veil_fhe_ct **cts = NULL;
    veil_fhe_server *sk = NULL;
    int rc = veil_file_read(in, 16u << 20, &data, &len, err);
    if (rc == 0 && key)
        rc = veil_fhe_server_load(key, 0, &sk, err);
    if (rc == 0 && (sk ? veil_fhe_compact_expand_tfhers_sk(sk, data, len, &cts, &n, err)
                       : veil_fhe_compact_expand_tfhers_all(data, len, &cts, &n, err)) != 0)
        rc = veil_err_wrap(err, "%s", in);
    veil_fhe_server_free(sk);
    for (size_t i = 0; i < n; i++) {
        char name[4096];
        if (rc == 0 && snprintf(name, sizeof name, "%s.%zu", out, i) >= (int)sizeof name)
            rc = veil_err_set(err, VEIL_E_RANGE, "path too long: %s", out);
        if (rc == 0 && (rc = veil_fhe_ct_save(cts[i], name, err)) == 0)
            printf("%s (%u bits)\n", name, veil_fhe_ct_width(cts[i]));
        veil_fhe_ct_free(cts[i]);
    }
    free(cts);
    free(data);
    return rc;
}

static int run_import(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    const char *out, *in, *key = NULL;
    int ec = parse_convert(argc, argv, "veil fhe import", &out, &key, &in);
    if (ec != VEIL_EXIT_OK)
        return ec;
    veil_err err = {0};
    enum veil_tfhers_type type;
    int rc = veil_tfhers_file_type(in, &type, &err);
    veil_fhe_client *ck = NULL;
    veil_fhe_ct *ct = NULL;
    if (rc == 0 && type == VEIL_TFHERS_CLIENT_KEY) {
        if ((rc = veil_fhe_client_load(in, &ck, &err)) == 0)
            rc = veil_fhe_client_save(ck, out, &err);
    } else if (rc == 0 && (type == VEIL_TFHERS_FHEUINT || type == VEIL_TFHERS_FHEBOOL)) {
        if ((rc = veil_fhe_ct_load(in, &ct, &err)) == 0)
            rc = veil_fhe_ct_save(ct, out, &err);
    } else if (rc == 0 && type == VEIL_TFHERS_COMPACT_LIST) {
        rc = import_list(in, key, out, &err);
    } else if (rc == 0) {
        rc = veil_err_set(&err, VEIL_E_UNSUPPORTED, "%s: a %s has no Veil file form%s", in,
                          veil_tfhers_type_name(type),
                          type == VEIL_TFHERS_PUBLIC_KEY
                              ? " (it has no Veil mask seed): use it as it is, e.g. veil fhe "
                                "encrypt -k FILE"
                              : "");
    }
    veil_fhe_client_free(ck);
    veil_fhe_ct_free(ct);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

static int run_export(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    const char *out, *in;
    int ec = parse_convert(argc, argv, "veil fhe export", &out, NULL, &in);
    if (ec != VEIL_EXIT_OK)
        return ec;
    veil_err err = {0};
    enum veil_fhe_file_kind kind;
    int rc = veil_fhe_file_kind(in, &kind, &err);
    veil_fhe_client *ck = NULL;
    veil_fhe_public *pk = NULL;
    veil_fhe_ct *ct = NULL;
    if (rc == 0 && kind == VEIL_FHE_FILE_CLIENT_KEY) {
        if ((rc = veil_fhe_client_load(in, &ck, &err)) == 0)
            rc = veil_fhe_client_export_tfhers(ck, out, &err);
    } else if (rc == 0 && kind == VEIL_FHE_FILE_PUBLIC_KEY) {
        if ((rc = veil_fhe_public_load(in, &pk, &err)) == 0)
            rc = veil_fhe_public_export_tfhers(pk, out, &err);
    } else if (rc == 0 && kind == VEIL_FHE_FILE_CIPHERTEXT) {
        if ((rc = veil_fhe_ct_load(in, &ct, &err)) == 0)
            rc = veil_fhe_ct_export_tfhers(ct, out, &err);
    } else if (rc == 0) {
        rc = veil_err_set(&err, VEIL_E_UNSUPPORTED,
                          "%s: only client keys, public keys and ciphertexts have a TFHE-rs form "
                          "(a server key does not: TFHE-rs generates its own)",
                          in);
    }
    veil_fhe_client_free(ck);
    veil_fhe_public_free(pk);
    veil_fhe_ct_free(ct);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

/* ------------------------------------------------------------------- bench */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* CPU time of the whole process (all threads): what an operation costs when the
 * machine is shared, next to its wall time. */
static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct bench_result {
    const char *name;
    double ms;       /* wall time, median */
    double best_ms;  /* wall time, fastest run (closest to an idle machine) */
    double cpu_ms;   /* process CPU time, median */
    uint64_t pbs;    /* PBS per operation */
    uint64_t rounds; /* rounds of independent PBS (depth) */
    int correct;     /* decrypted results matched the plaintext */
};

#define BENCH_REPS_MAX 16

/* Times one binary operation on FheUint16 (median over reps) and checks it. */
static int bench_binop(veil_fhe_server *sk, const veil_fhe_client *ck, enum veil_fhe_binop op,
                       const char *name, int reps, struct bench_result *r, veil_err *err)
{
    double t[BENCH_REPS_MAX], cpu[BENCH_REPS_MAX];
    r->name = name;
    r->correct = 1;
    for (int i = 0; i < reps; i++) {
        uint64_t x = veil_random_u64() & 0xffff, y = veil_random_u64() & 0xffff;
        veil_fhe_ct *a = NULL, *b = NULL, *o = NULL;
        if (veil_fhe_encrypt(ck, 16, x, &a, err) != 0 || veil_fhe_encrypt(ck, 16, y, &b, err) != 0)
            goto fail;
        uint64_t before = veil_fhe_server_pbs_count(sk), rounds = veil_fhe_server_pbs_rounds(sk);
        double t0 = now_s(), c0 = cpu_s();
        if (veil_fhe_binop(sk, op, a, b, &o, err) != 0)
            goto fail;
        t[i] = (now_s() - t0) * 1e3;
        cpu[i] = (cpu_s() - c0) * 1e3;
        r->pbs = veil_fhe_server_pbs_count(sk) - before;
        r->rounds = veil_fhe_server_pbs_rounds(sk) - rounds;
        uint64_t got = 0, want = 0;
        veil_fhe_decrypt(ck, o, &got, err);
        switch (op) {
        case VEIL_FHE_ADD:
            want = (x + y) & 0xffff;
            break;
        case VEIL_FHE_LT:
            want = x < y;
            break;
        case VEIL_FHE_MIN:
            want = x < y ? x : y;
            break;
        default:
            want = got;
            break;
        }
        r->correct &= got == want;
        veil_fhe_ct_free(a);
        veil_fhe_ct_free(b);
        veil_fhe_ct_free(o);
        continue;
    fail:
        veil_fhe_ct_free(a);
        veil_fhe_ct_free(b);
        return -1;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    qsort(cpu, (size_t)reps, sizeof cpu[0], cmp_double);
    r->ms = t[reps / 2];
    r->best_ms = t[0];
    r->cpu_ms = cpu[reps / 2];
    return 0;
}

static int bench_argmin(veil_fhe_server *sk, const veil_fhe_client *ck, int reps,
                        struct bench_result *r, veil_err *err)
{
    enum { N = 16 };
    double t[BENCH_REPS_MAX], cpu[BENCH_REPS_MAX];
    r->name = "argmin_16_u16";
    r->correct = 1;
    for (int rep = 0; rep < reps; rep++) {
        veil_fhe_ct *v[N] = {0}, *idx = NULL, *val = NULL;
        uint64_t pv[N];
        int rc = 0;
        for (int i = 0; i < N && rc == 0; i++) {
            pv[i] = veil_random_u64() & 0xffff;
            rc = veil_fhe_encrypt(ck, 16, pv[i], &v[i], err);
        }
        uint64_t before = veil_fhe_server_pbs_count(sk), rounds = veil_fhe_server_pbs_rounds(sk);
        double t0 = now_s(), c0 = cpu_s();
        if (rc == 0)
            rc = veil_fhe_argext(sk, 0, (const veil_fhe_ct *const *)v, N, &idx, &val, err);
        t[rep] = (now_s() - t0) * 1e3;
        cpu[rep] = (cpu_s() - c0) * 1e3;
        r->pbs = veil_fhe_server_pbs_count(sk) - before;
        r->rounds = veil_fhe_server_pbs_rounds(sk) - rounds;
        if (rc == 0) {
            size_t best = 0;
            for (size_t i = 1; i < N; i++)
                if (pv[i] < pv[best])
                    best = i;
            uint64_t gi = 0, gv = 0;
            veil_fhe_decrypt(ck, idx, &gi, err);
            veil_fhe_decrypt(ck, val, &gv, err);
            r->correct &= gi == best && gv == pv[best];
        }
        for (int i = 0; i < N; i++)
            veil_fhe_ct_free(v[i]);
        veil_fhe_ct_free(idx);
        veil_fhe_ct_free(val);
        if (rc != 0)
            return -1;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    qsort(cpu, (size_t)reps, sizeof cpu[0], cmp_double);
    r->ms = t[reps / 2];
    r->best_ms = t[0];
    r->cpu_ms = cpu[reps / 2];
    return 0;
}

/* One KS+PBS: eq of two booleans is exactly one bootstrap. */
static int bench_pbs(veil_fhe_server *sk, const veil_fhe_client *ck, int reps, double *ms,
                     double *cpu_ms, veil_err *err)
{
    double t[64], cpu[64];
    if (reps > 64)
        reps = 64;
    veil_fhe_ct *a = NULL, *b = NULL;
    if (veil_fhe_encrypt(ck, 1, 1, &a, err) != 0 || veil_fhe_encrypt(ck, 1, 0, &b, err) != 0) {
        veil_fhe_ct_free(a);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < reps && rc == 0; i++) {
        veil_fhe_ct *o = NULL;
        uint64_t before = veil_fhe_server_pbs_count(sk);
        double t0 = now_s(), c0 = cpu_s();
        rc = veil_fhe_binop(sk, VEIL_FHE_EQ, a, b, &o, err);
        t[i] = (now_s() - t0) * 1e3;
        cpu[i] = (cpu_s() - c0) * 1e3;
        if (rc == 0 && veil_fhe_server_pbs_count(sk) - before != 1)
            rc = veil_err_set(err, VEIL_E_INTERNAL, "bool eq should be one PBS");
        veil_fhe_ct_free(o);
    }
    veil_fhe_ct_free(a);
    veil_fhe_ct_free(b);
    if (rc != 0)
        return -1;
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    qsort(cpu, (size_t)reps, sizeof cpu[0], cmp_double);
    *ms = t[reps / 2];
    *cpu_ms = cpu[reps / 2];
    return 0;
}

/* What run_bench measured, for the two printers. */
struct bench_figures {
    double keygen_s, pbs_ms, pbs_cpu_ms, load;
    unsigned keygen_threads;
    int reps, all_correct;
    size_t ct16, ctbool;
    struct bench_result res[4];
};

static void print_bench_json(const struct bench_figures *f)
{
    json_t *root = json_object();
    json_object_set_new(root, "bench", json_string("fhe_integer"));
    json_object_set_new(root, "ks_pbs_ms_1thread", json_real(f->pbs_ms));
    json_object_set_new(root, "ks_pbs_cpu_ms_1thread", json_real(f->pbs_cpu_ms));
    json_object_set_new(root, "loadavg_1m_at_start", json_real(f->load));
    json_object_set_new(root, "keygen_s", json_real(f->keygen_s));
    json_object_set_new(root, "keygen_threads", json_integer(f->keygen_threads));
    json_t *ops = json_object();
    for (int i = 0; i < 4; i++)
        json_object_set_new(ops, f->res[i].name,
                            json_pack("{s:f, s:f, s:f, s:I, s:I, s:b}", "ms", f->res[i].ms,
                                      "best_ms", f->res[i].best_ms, "cpu_ms", f->res[i].cpu_ms,
                                      "pbs", (json_int_t)f->res[i].pbs, "rounds",
                                      (json_int_t)f->res[i].rounds, "correct", f->res[i].correct));
    json_object_set_new(root, "threads_2", ops);
    json_object_set_new(root, "memory_bytes",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "server_key",
                                  (json_int_t)veil_fhe_server_memory(), "client_key",
                                  (json_int_t)veil_fhe_client_memory(), "public_key",
                                  (json_int_t)veil_fhe_public_memory(), "ct_fheuint16",
                                  (json_int_t)f->ct16, "ct_fhebool", (json_int_t)f->ctbool));
    json_object_set_new(root, "reps", json_integer(f->reps));
    json_object_set_new(root, "all_correct", json_boolean(f->all_correct));
    char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS); /* one JSON line */
    puts(s);
    free(s);
    json_decref(root);
}

static void print_bench_text(const struct bench_figures *f)
{
    printf("load average at start: %.2f (timings are wall clock; cpu = all threads)\n", f->load);
    printf("KS+PBS, 1 thread:          %8.2f ms (cpu %.2f ms)\n", f->pbs_ms, f->pbs_cpu_ms);
    printf("key generation (%u threads): %8.3f s\n", f->keygen_threads, f->keygen_s);
    for (int i = 0; i < 4; i++)
        printf("%-16s 2 threads: %8.1f ms  (best %.1f, cpu %.1f ms, %" PRIu64 " PBS in %" PRIu64
               " rounds)%s\n",
               f->res[i].name, f->res[i].ms, f->res[i].best_ms, f->res[i].cpu_ms, f->res[i].pbs,
               f->res[i].rounds, f->res[i].correct ? "" : "  WRONG RESULT");
    printf("memory: server key %zu B, client key %zu B, public key %zu B,\n"
           "        FheUint16 %zu B, FheBool %zu B\n",
           veil_fhe_server_memory(), veil_fhe_client_memory(), veil_fhe_public_memory(), f->ct16,
           f->ctbool);
}

static int run_bench(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"reps", required_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    const char *path = "veil fhe bench";
    bool json = false;
    int reps = 5, c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'r':
            if (parse_u64(optarg, &v) != 0 || v < 1 || v > BENCH_REPS_MAX)
                return veil_cli_usage_error(path, "--reps wants 1..%d", BENCH_REPS_MAX);
            reps = (int)v;
            break;
        default:
            return veil_cli_usage_error(path, "bad option");
        }
    }
    if (optind != argc)
        return veil_cli_usage_error(path, "unexpected argument '%s'", argv[optind]);
    veil_err err = {0};
    veil_fhe_client *ck = NULL;
    veil_fhe_server *sk = NULL;
    veil_fhe_public *pk = NULL;
    struct bench_figures f = {.reps = reps, .load = -1};
    double t0 = now_s();
    if (veil_fhe_keygen(&ck, &sk, &pk, 0, &err) != 0)
        return veil_cli_fail(&err);
    f.keygen_s = now_s() - t0;
    f.keygen_threads = veil_fhe_server_threads(sk);
    if (getloadavg(&f.load, 1) != 1)
        f.load = -1;
    int rc = veil_fhe_server_set_threads(sk, 1, &err);
    if (rc == 0)
        rc = bench_pbs(sk, ck, 4 * reps + 1, &f.pbs_ms, &f.pbs_cpu_ms, &err);
    if (rc == 0)
        rc = veil_fhe_server_set_threads(sk, 2, &err);
    if (rc == 0)
        rc = bench_binop(sk, ck, VEIL_FHE_LT, "lt_u16", reps, &f.res[0], &err);
    if (rc == 0)
        rc = bench_binop(sk, ck, VEIL_FHE_MIN, "min_u16", reps, &f.res[1], &err);
    if (rc == 0)
        rc = bench_binop(sk, ck, VEIL_FHE_ADD, "add_u16", reps, &f.res[2], &err);
    if (rc == 0)
        rc = bench_argmin(sk, ck, reps < 3 ? reps : 3, &f.res[3], &err);
    veil_fhe_client_free(ck);
    veil_fhe_server_free(sk);
    veil_fhe_public_free(pk);
    if (rc != 0)
        return veil_cli_fail(&err);
    f.all_correct = 1;
    for (int i = 0; i < 4; i++)
        f.all_correct &= f.res[i].correct;
    f.ct16 = veil_fhe_ct_memory(16);
    f.ctbool = veil_fhe_ct_memory(1);
    if (json)
        print_bench_json(&f);
    else
        print_bench_text(&f);
    if (!f.all_correct) {
        veil_err_set(&err, VEIL_E_INTERNAL, "a benchmarked operation decrypted wrongly");
        return veil_cli_fail(&err);
    }
    return VEIL_EXIT_OK;
}

/* ---------------------------------------------------------------- commands */

static const struct veil_cli_command fhe_keygen = {
    .name = "keygen",
    .summary = "generate a TFHE key set",
    .usage = "Usage: veil fhe keygen -o DIR [--client-key FILE]\n\n"
             "Writes DIR/client.key (secret, mode 0600), DIR/server.key (evaluation key)\n"
             "and DIR/public.key (compact public key for encryption by nodes).\n"
             "--client-key FILE keeps an existing client key (Veil's or a TFHE-rs one, e.g.\n"
             "from node-tfhe) and derives the other two from it, so Veil can evaluate on\n"
             "ciphertexts made under that key.\n",
    .run = run_keygen,
};
static const struct veil_cli_command fhe_encrypt = {
    .name = "encrypt",
    .summary = "encrypt an integer or boolean",
    .usage = "Usage: veil fhe encrypt -k KEY -w BITS -o FILE [--format veil|tfhe-rs] VALUE...\n\n"
             "KEY is a public key or a client key (Veil's or TFHE-rs's); BITS is 8, 16, 32\n"
             "or 64 (FheUintN) or 1 (FheBool, VALUE 0 or 1). VALUE is unsigned decimal (or\n"
             "0x hex). --format tfhe-rs writes a TFHE-rs FheUint/FheBool (safe_serialize);\n"
             "with several VALUEs (or --packed) and a public key, one TFHE-rs\n"
             "CompactCiphertextList (--packed: two blocks per stored block, as\n"
             "build_packed(); TFHE-rs needs its server key to expand it).\n",
    .run = run_encrypt,
};
static const struct veil_cli_command fhe_decrypt = {
    .name = "decrypt",
    .summary = "decrypt a ciphertext with the client key",
    .usage = "Usage: veil fhe decrypt -k CLIENT_KEY FILE\n\n"
             "Prints the decimal value. The key and FILE may be Veil's or TFHE-rs's; a\n"
             "TFHE-rs compact list (packed or not) prints one value per line.\n",
    .run = run_decrypt,
};
static const struct veil_cli_command fhe_eval = {
    .name = "eval",
    .summary = "evaluate an operation on ciphertexts with the server key",
    .usage =
        "Usage: veil fhe eval -k SERVER_KEY -o OUT [--value-out FILE] [--format veil|tfhe-rs]\n"
        "                     OP FILE...\n\n"
        "FILEs may be TFHE-rs ciphertexts (under the client key the server key was\n"
        "made from: veil fhe keygen --client-key); --format tfhe-rs writes the result\n"
        "as one.\n\n"
        "OP (inputs):\n"
        "  add sub and or xor min max (a b)      same width as the inputs\n"
        "  eq ne lt le gt ge (a b)               a boolean\n"
        "  add_scalar:N sub_scalar:N mul_scalar:N shl:N shr:N (a)\n"
        "  eq_scalar:N ne_scalar:N lt_scalar:N le_scalar:N gt_scalar:N ge_scalar:N (a)\n"
        "                                        a boolean\n"
        "  neg not (a)\n"
        "  select (cond a b)                     cond ? a : b, cond a boolean\n"
        "  argmin argmax (v0 v1 ...)             the index (FheUint8 up to 256 inputs,\n"
        "                                        then 16/32 bits); ties: lowest index;\n"
        "                                        --value-out FILE also writes the value\n"
        "Threads: VEIL_THREADS (default: all cores). Results are byte-identical for\n"
        "any thread count.\n",
    .run = run_eval,
};
static const struct veil_cli_command fhe_bench = {
    .name = "bench",
    .summary = "measure TFHE speed and sizes",
    .usage = "Usage: veil fhe bench [--json] [--reps N]\n\n"
             "Generates a key set and prints: KS+PBS time on one thread, key generation\n"
             "time, FheUint16 lt/min/add and argmin over 16 FheUint16 on two threads (median\n"
             "of N runs, default 5, with the PBS count of each), and the memory per key and\n"
             "per ciphertext. Every result is decrypted and checked.\n",
    .run = run_bench,
};
static const struct veil_cli_command fhe_import = {
    .name = "import",
    .summary = "convert a TFHE-rs key or ciphertext to Veil's format",
    .usage = "Usage: veil fhe import --format tfhe-rs -o OUT [-k SERVER_KEY] FILE\n\n"
             "FILE is a TFHE-rs 1.7 safe_serialize object (node-tfhe 1.7): a ClientKey\n"
             "(OUT written 0600), an FheUint8/16/32/64 or FheBool, or a\n"
             "CompactCiphertextList (written as OUT.0, OUT.1, ... one per value; a packed\n"
             "one, from build_packed(), needs -k SERVER_KEY to split its blocks). A\n"
             "CompactPublicKey is used as it is (veil fhe encrypt -k FILE).\n",
    .run = run_import,
};
static const struct veil_cli_command fhe_export = {
    .name = "export",
    .summary = "convert a Veil key or ciphertext to TFHE-rs's format",
    .usage = "Usage: veil fhe export --format tfhe-rs -o OUT FILE\n\n"
             "FILE is a Veil client key (OUT written 0600), public key or ciphertext; OUT\n"
             "is what node-tfhe's TfheClientKey / TfheCompactPublicKey / FheUintN / FheBool\n"
             ".safe_deserialize reads (TFHE-rs 1.7, default parameters).\n",
    .run = run_export,
};
static const struct veil_cli_command *const fhe_subcommands[] = {
    &fhe_keygen, &fhe_encrypt, &fhe_decrypt, &fhe_eval, &fhe_import, &fhe_export, &fhe_bench, NULL};

const struct veil_cli_command veil_cmd_fhe = {
    .name = "fhe",
    .summary = "TFHE keys, encryption and encrypted evaluation",
    .usage = "Usage: veil fhe <command> [options]\n\n"
             "Key ceremony and debugging tools for Veil's encrypted scheduling.\n",
    .subcommands = fhe_subcommands,
};
