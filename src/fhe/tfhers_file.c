// SPDX-License-Identifier: Apache-2.0
/*
 * tfhers_file.c - TFHE-rs objects as files (include/veil/tfhers.h): the
 * client key written 0600 from the start, the rest atomically. Reading needs
 * nothing here: veil_fhe_*_load recognise a TFHE-rs header (api.c).
 */
#include "tfhers_internal.h"

static int write_out(const char *path, veil_buf *b, int secret, veil_err *err)
{
    if (!veil_buf_ok(b))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory serializing %s", path);
    return secret ? veil_key_file_write(path, b->data, b->len, err)
                  : veil_file_write_atomic(path, b->data, b->len, 0644, err);
}

int veil_fhe_client_export_tfhers(const veil_fhe_client *ck, const char *path, veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = veil_fhe_client_serialize_tfhers(ck, &b, err);
    if (rc == 0)
        rc = write_out(path, &b, 1, err);
    veil_buf_free_secure(&b);
    return rc;
}

int veil_fhe_public_export_tfhers(const veil_fhe_public *pk, const char *path, veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = veil_fhe_public_serialize_tfhers(pk, &b, err);
    if (rc == 0)
        rc = write_out(path, &b, 0, err);
    veil_buf_free(&b);
    return rc;
}

int veil_fhe_ct_export_tfhers(const veil_fhe_ct *ct, const char *path, veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = veil_fhe_ct_serialize_tfhers(ct, &b, err);
    if (rc == 0)
        rc = write_out(path, &b, 0, err);
    veil_buf_free(&b);
    return rc;
}
