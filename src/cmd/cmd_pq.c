// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_pq.c - `veil pq mlkem768 keygen|encaps|decaps`: ML-KEM-768 (FIPS 203)
 * from the command line, in hex, for interop testing and debugging. Keys and
 * ciphertexts from the command line go through veil_mlkem768_parse (length
 * plus the FIPS 203 section 7 key checks); seeds make the operations
 * deterministic (KeyGen_internal from d||z, Encaps_internal from m).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/pq.h>

#include "cli.h"

/* Decodes hex text of exactly n bytes. */
static int hex_exact(const char *text, uint8_t *out, size_t n, const char *what, veil_err *err)
{
    long got = veil_hex_decode(out, n, text, strlen(text), false, err);
    if (got < 0)
        return veil_err_wrap(err, "%s", what);
    if ((size_t)got != n)
        return veil_err_set(err, VEIL_E_RANGE, "%s must be %zu bytes of hex, not %ld", what, n,
                            got);
    return 0;
}

/* Decodes hex text and accepts it as an ML-KEM-768 key or ciphertext. */
static int hex_blob(const char *text, enum veil_mlkem768_blob kind, uint8_t *out, size_t cap,
                    veil_err *err)
{
    size_t len = strlen(text) / 2 + 1;
    uint8_t *raw = malloc(len);
    if (!raw)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    long got = veil_hex_decode(raw, len, text, strlen(text), false, err);
    int rc = got < 0 ? -1 : veil_mlkem768_parse(kind, raw, (size_t)got, out, cap, err);
    veil_memzero(raw, len);
    free(raw);
    return rc;
}

static void print_hex(const uint8_t *data, size_t n)
{
    size_t cap = veil_hex_encoded_len(n) + 1;
    char *text = malloc(cap);
    if (!text)
        return;
    if (veil_hex_encode(text, cap, data, n) >= 0)
        printf("%s\n", text);
    veil_memzero(text, cap);
    free(text);
}

/* Parses [--seed HEX] and the expected number of positional arguments. */
static int parse_seed_opts(int argc, char **argv, const char *path, int positional,
                           const char **seed_hex)
{
    static const struct option opts[] = {{"seed", required_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    int c;
    *seed_hex = NULL;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 's')
            return veil_cli_usage_error(path, "bad option");
        *seed_hex = optarg;
    }
    if (argc - optind != positional)
        return veil_cli_usage_error(path, "expected %d argument%s", positional,
                                    positional == 1 ? "" : "s");
    return VEIL_EXIT_OK;
}

static int run_keygen(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    const char *seed_hex;
    int rc = parse_seed_opts(argc, argv, "veil pq mlkem768 keygen", 0, &seed_hex);
    if (rc != VEIL_EXIT_OK)
        return rc;
    uint8_t seed[VEIL_MLKEM768_SEED_BYTES], ek[VEIL_MLKEM768_EK_BYTES];
    uint8_t dk[VEIL_MLKEM768_DK_BYTES];
    veil_err err = {0};
    if (seed_hex)
        rc = hex_exact(seed_hex, seed, sizeof seed, "--seed (d||z)", &err);
    else
        veil_random_bytes(seed, sizeof seed);
    if (rc == 0)
        rc = veil_mlkem768_keygen_derand(ek, dk, seed, &err);
    if (rc == 0) {
        print_hex(ek, sizeof ek);
        print_hex(dk, sizeof dk);
    }
    veil_memzero(seed, sizeof seed);
    veil_memzero(dk, sizeof dk);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

static int run_encaps(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    const char *seed_hex;
    int rc = parse_seed_opts(argc, argv, "veil pq mlkem768 encaps", 1, &seed_hex);
    if (rc != VEIL_EXIT_OK)
        return rc;
    uint8_t m[VEIL_MLKEM768_MSG_BYTES], ek[VEIL_MLKEM768_EK_BYTES];
    uint8_t ct[VEIL_MLKEM768_CT_BYTES], ss[VEIL_MLKEM768_SS_BYTES];
    veil_err err = {0};
    rc = hex_blob(argv[optind], VEIL_MLKEM768_BLOB_EK, ek, sizeof ek, &err);
    if (rc == 0 && seed_hex)
        rc = hex_exact(seed_hex, m, sizeof m, "--seed (m)", &err);
    else if (rc == 0)
        veil_random_bytes(m, sizeof m);
    if (rc == 0)
        rc = veil_mlkem768_encaps_derand(ct, ss, ek, m, &err);
    if (rc == 0) {
        print_hex(ct, sizeof ct);
        print_hex(ss, sizeof ss);
    }
    veil_memzero(m, sizeof m);
    veil_memzero(ss, sizeof ss);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

static int run_decaps(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    if (argc != 3)
        return veil_cli_usage_error("veil pq mlkem768 decaps", "expected DK_HEX CT_HEX");
    uint8_t dk[VEIL_MLKEM768_DK_BYTES], ct[VEIL_MLKEM768_CT_BYTES], ss[VEIL_MLKEM768_SS_BYTES];
    veil_err err = {0};
    int rc = hex_blob(argv[1], VEIL_MLKEM768_BLOB_DK, dk, sizeof dk, &err);
    if (rc == 0)
        rc = hex_blob(argv[2], VEIL_MLKEM768_BLOB_CT, ct, sizeof ct, &err);
    if (rc == 0)
        rc = veil_mlkem768_decaps(ss, ct, dk, &err);
    if (rc == 0)
        print_hex(ss, sizeof ss);
    veil_memzero(dk, sizeof dk);
    veil_memzero(ss, sizeof ss);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

static const struct veil_cli_command mlkem_keygen = {
    .name = "keygen",
    .summary = "make an ML-KEM-768 key pair (prints ek, then dk, in hex)",
    .usage = "Usage: veil pq mlkem768 keygen [--seed HEX]\n\n"
             "Prints the encapsulation key (1184 bytes) and the decapsulation key (2400\n"
             "bytes) in hex, one per line. --seed takes the 64-byte d||z of FIPS 203\n"
             "ML-KEM.KeyGen_internal; without it the seed comes from the CSPRNG.\n",
    .run = run_keygen,
};

static const struct veil_cli_command mlkem_encaps = {
    .name = "encaps",
    .summary = "encapsulate to a key (prints ciphertext, then shared secret)",
    .usage = "Usage: veil pq mlkem768 encaps EK_HEX [--seed HEX]\n\n"
             "Checks the encapsulation key (FIPS 203 7.2 modulus check) and prints the\n"
             "ciphertext (1088 bytes) and the shared secret (32 bytes) in hex, one per\n"
             "line. --seed takes the 32-byte m of ML-KEM.Encaps_internal.\n",
    .run = run_encaps,
};

static const struct veil_cli_command mlkem_decaps = {
    .name = "decaps",
    .summary = "decapsulate a ciphertext (prints the shared secret)",
    .usage = "Usage: veil pq mlkem768 decaps DK_HEX CT_HEX\n\n"
             "Checks the decapsulation key (FIPS 203 7.3 hash check) and prints the shared\n"
             "secret in hex. A ciphertext that does not re-encrypt identically gives the\n"
             "implicit-rejection secret, as the standard requires, not an error.\n",
    .run = run_decaps,
};

static const struct veil_cli_command *const mlkem_subcommands[] = {&mlkem_keygen, &mlkem_encaps,
                                                                   &mlkem_decaps, NULL};

static const struct veil_cli_command pq_mlkem768 = {
    .name = "mlkem768",
    .summary = "ML-KEM-768 (FIPS 203) key generation, encapsulation, decapsulation",
    .usage = "Usage: veil pq mlkem768 keygen|encaps|decaps ...\n",
    .subcommands = mlkem_subcommands,
};

static const struct veil_cli_command *const pq_subcommands[] = {&pq_mlkem768, NULL};

const struct veil_cli_command veil_cmd_pq = {
    .name = "pq",
    .summary = "post-quantum primitives (ML-KEM-768)",
    .usage = "Usage: veil pq mlkem768 keygen|encaps|decaps ...\n",
    .subcommands = pq_subcommands,
};
