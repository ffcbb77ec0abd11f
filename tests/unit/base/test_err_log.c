// SPDX-License-Identifier: Apache-2.0
/* Errors (set, wrap, truncation) and logging (levels, logfmt format,
 * one line per event, VEIL_LOG parsing, fingerprints). */
#include <stdio.h>
#include <stdlib.h>

#include <veil/base.h>

#include "vtest.h"

static void test_err(void)
{
    veil_err err = {0};
    CHECK_EQ_INT(veil_err_set(&err, VEIL_E_RANGE, "frame too long: %d", 70000), -1);
    CHECK_EQ_INT(err.code, VEIL_E_RANGE);
    CHECK_EQ_STR(err.msg, "frame too long: 70000");
    veil_err_wrap(&err, "reading %s", "peer");
    CHECK_EQ_STR(err.msg, "reading peer: frame too long: 70000");
    CHECK_EQ_STR(veil_err_code_name(err.code), "range");
    CHECK_EQ_INT(veil_err_set(NULL, VEIL_E_IO, "ignored"), -1);
    /* Long messages are truncated, never overflowed. */
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    veil_err_set(&err, VEIL_E_PARSE, "%s", big);
    CHECK_EQ_INT(strlen(err.msg), VEIL_ERR_MSG_MAX - 1);
    veil_err_wrap(&err, "%s", big);
    CHECK_EQ_INT(strlen(err.msg), VEIL_ERR_MSG_MAX - 1);
    veil_err_clear(&err);
    CHECK_EQ_INT(err.code, VEIL_OK);
    CHECK_EQ_STR(veil_err_code_name((enum veil_err_code)999), "unknown");
}

static void test_log(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    veil_log_set_stream(mem);
    veil_log_set_level(VEIL_LOG_INFO);
    veil_log(VEIL_LOG_INFO, "p2p", "peer \"connected\"", "peer=%s n=%d", "12D3Koo", 3);
    veil_log(VEIL_LOG_DEBUG, "p2p", "hidden", "x=%d", 1);
    veil_log(VEIL_LOG_WARN, "chain", "multi\nline", "v=%s", "a\nb");
    fflush(mem);
    veil_log_set_stream(NULL);
    CHECK_CONTAINS(text, "level=info sub=p2p msg=\"peer \\\"connected\\\"\" peer=12D3Koo n=3\n");
    CHECK(strstr(text, "hidden") == NULL);
    CHECK_CONTAINS(text, "msg=\"multi\\x0aline\" v=a b\n");
    int lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    CHECK_EQ_INT(lines, 2);
    fclose(mem);
    free(text);

    enum veil_log_level level;
    veil_err err = {0};
    CHECK_EQ_INT(veil_log_level_parse("debug", &level, &err), 0);
    CHECK_EQ_INT(level, VEIL_LOG_DEBUG);
    CHECK_EQ_INT(veil_log_level_parse("loud", &level, &err), -1);
    CHECK_CONTAINS(err.msg, "unknown log level 'loud'");
    setenv("VEIL_LOG", "trace", 1);
    CHECK_EQ_INT(veil_log_init_from_env(&err), 0);
    CHECK_EQ_INT(veil_log_get_level(), VEIL_LOG_TRACE);
    setenv("VEIL_LOG", "bogus", 1);
    CHECK_EQ_INT(veil_log_init_from_env(&err), -1);
    CHECK_CONTAINS(err.msg, "VEIL_LOG");
    unsetenv("VEIL_LOG");
}

static void test_fingerprint(void)
{
    char a[17], b[17];
    veil_log_fingerprint(a, "secret-1", 8);
    veil_log_fingerprint(b, "secret-2", 8);
    CHECK_EQ_INT(strlen(a), 16);
    CHECK(strcmp(a, b) != 0);
    CHECK(strstr(a, "secret") == NULL);
}

VTEST_MAIN(VTEST(test_err), VTEST(test_log), VTEST(test_fingerprint))
