// SPDX-License-Identifier: Apache-2.0
/*
 * make_seeds.c - writes the seed corpora of the threshold fuzzers: a sealed
 * share and its plaintext for holder 1 of a 4-holder dealing with the fuzz
 * keys, partial decryptions of widths 1 and 8, and the public material.
 * Not part of any build; run from the repository root after a build:
 *   cc -std=c17 -Iinclude -Isrc/threshold -Isrc/fhe fuzz/threshold/make_seeds.c \
 *      build/src/threshold/libveil_threshold.a build/src/base/libveil_base.a \
 *      -lsodium -lyaml -lm -o /tmp/make_seeds && /tmp/make_seeds fuzz/corpus
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_th_common.h"

static int put(const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    veil_err err = {0};
    if (veil_mkdir_p(dir, 0755, &err) != 0 ||
        veil_file_write_atomic(path, data, len, 0644, &err) != 0) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        return -1;
    }
    return 0;
}

static int write_partial(const char *dir, const char *name, const veil_th_share *sh, uint32_t width)
{
    veil_sq_ct ct = {.width = width, .nblocks = th_blocks_for_width(width)};
    ct.blocks = calloc(ct.nblocks, sizeof *ct.blocks);
    veil_th_partial p;
    veil_buf b;
    veil_buf_init(&b);
    int rc = (ct.blocks && veil_th_partial_decrypt(sh, &ct, &p, NULL) == 0 &&
              veil_th_partial_serialize(&p, &b, NULL) == 0)
                 ? put(dir, name, b.data, b.len)
                 : -1;
    veil_buf_free(&b);
    free(ct.blocks);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2 || sodium_init() < 0)
        return 2;
    char share_dir[256], partial_dir[256];
    snprintf(share_dir, sizeof share_dir, "%s/fuzz_threshold_share", argv[1]);
    snprintf(partial_dir, sizeof partial_dir, "%s/fuzz_threshold_partial", argv[1]);
    uint8_t pk[4][32], sk[4][64];
    for (unsigned i = 1; i <= 4; i++)
        fuzz_th_keypair(i, pk[i - 1], sk[i - 1]);
    veil_sq_secret secret;
    for (unsigned j = 0; j < VEIL_SQ_LWE_DIM; j++)
        secret.s[j] = (uint8_t)(j & 1);
    veil_th_public pub;
    veil_buf sealed[4];
    for (unsigned i = 0; i < 4; i++)
        veil_buf_init(&sealed[i]);
    veil_err err = {0};
    veil_th_share *sh = NULL;
    if (veil_th_deal(&secret, 4, 1, (const uint8_t(*)[32])pk, &pub, sealed, &err) != 0 ||
        veil_th_share_open(sealed[0].data, sealed[0].len, sk[0], &sh, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    /* the plaintext: open the box by hand */
    size_t hdr = 4 + 1 + 1 + 32 + 32 + 4, box = sealed[0].len - hdr;
    uint8_t *plain = malloc(box), xpk[32], xsk[32];
    if (!plain || crypto_sign_ed25519_pk_to_curve25519(xpk, pk[0]) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(xsk, sk[0]) != 0 ||
        crypto_box_seal_open(plain, sealed[0].data + hdr, box, xpk, xsk) != 0)
        return 1;
    veil_buf pb;
    veil_buf_init(&pb);
    int rc = put(share_dir, "sealed-1", sealed[0].data, sealed[0].len) |
             put(share_dir, "plain-1", plain, box - crypto_box_SEALBYTES) |
             write_partial(partial_dir, "partial-w1", sh, 1) |
             write_partial(partial_dir, "partial-w8", sh, 8);
    if (veil_th_public_serialize(&pub, &pb, &err) == 0)
        rc |= put(partial_dir, "public", pb.data, pb.len);
    veil_buf_free(&pb);
    veil_th_share_free(sh);
    for (unsigned i = 0; i < 4; i++)
        veil_buf_free(&sealed[i]);
    free(plain);
    return rc ? 1 : 0;
}
