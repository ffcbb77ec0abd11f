// SPDX-License-Identifier: Apache-2.0
/* Configuration: defaults, YAML with nested keys and lists, precedence
 * (file < env < flag), file:line errors for unknown keys and bad values,
 * durations and sizes. */
#include <veil/base.h>

#include "vtest.h"

static const struct veil_config_key keys[] = {
    {"name", VEIL_CONFIG_STRING, "VT_NAME", "anon", 0, 0, "a name"},
    {"port", VEIL_CONFIG_INT, "VT_PORT", "4001", 1, 65535, "a port"},
    {"debug", VEIL_CONFIG_BOOL, NULL, "false", 0, 0, "a flag"},
    {"net.interval", VEIL_CONFIG_DURATION, "VT_INTERVAL", "10s", 0, 0, "a duration"},
    {"net.bootstrap", VEIL_CONFIG_LIST, "VT_BOOTSTRAP", NULL, 0, 0, "a list"},
};

static const char *fake_env(const char *name)
{
    if (strcmp(name, "VT_PORT") == 0)
        return "5000";
    if (strcmp(name, "VT_BOOTSTRAP") == 0)
        return " /ip4/127.0.0.1/tcp/1 ,/ip4/127.0.0.1/tcp/2,";
    return NULL;
}

static void test_defaults_and_layers(void)
{
    veil_config cfg;
    veil_err err = {0};
    CHECK_EQ_INT(veil_config_init(&cfg, keys, VEIL_ARRAY_LEN(keys), &err), 0);
    CHECK_EQ_STR(veil_config_str(&cfg, "name", NULL), "anon");
    CHECK_EQ_INT(veil_config_int(&cfg, "port", 0), 4001);
    CHECK_EQ_INT(veil_config_int(&cfg, "net.interval", 0), 10000);
    CHECK(veil_config_get(&cfg, "net.bootstrap") == NULL);

    const char *yaml = "# comment\n"
                       "name: alice\n"
                       "port: 7000\n"
                       "debug: yes\n"
                       "net:\n"
                       "  interval: 250ms\n"
                       "  bootstrap:\n"
                       "    - /ip4/10.0.0.1/tcp/4001\n"
                       "    - /dns4/example.org/tcp/4001\n";
    CHECK_EQ_INT(veil_config_load_yaml(&cfg, yaml, strlen(yaml), "t.yaml", &err), 0);
    CHECK_EQ_STR(veil_config_str(&cfg, "name", NULL), "alice");
    CHECK_EQ_INT(veil_config_int(&cfg, "port", 0), 7000);
    CHECK(veil_config_bool(&cfg, "debug", false));
    CHECK_EQ_INT(veil_config_int(&cfg, "net.interval", 0), 250);
    const struct veil_config_value *list = veil_config_get(&cfg, "net.bootstrap");
    CHECK(list && list->n_items == 2);
    if (list && list->n_items == 2)
        CHECK_EQ_STR(list->items[1], "/dns4/example.org/tcp/4001");
    CHECK_EQ_STR(veil_config_get(&cfg, "port")->origin, "t.yaml:3");

    /* Environment overrides the file... */
    CHECK_EQ_INT(veil_config_load_env(&cfg, fake_env, &err), 0);
    CHECK_EQ_INT(veil_config_int(&cfg, "port", 0), 5000);
    CHECK_EQ_STR(veil_config_get(&cfg, "port")->origin, "env VT_PORT");
    list = veil_config_get(&cfg, "net.bootstrap");
    CHECK(list && list->n_items == 2);
    if (list && list->n_items == 2)
        CHECK_EQ_STR(list->items[0], "/ip4/127.0.0.1/tcp/1");
    CHECK_EQ_STR(veil_config_str(&cfg, "name", NULL), "alice"); /* not in env */

    /* ...and flags override the environment. */
    CHECK_EQ_INT(veil_config_set(&cfg, "port", "6000", VEIL_CONFIG_FROM_FLAG, "flag --port", &err),
                 0);
    CHECK_EQ_INT(veil_config_int(&cfg, "port", 0), 6000);
    CHECK_EQ_INT(veil_config_get(&cfg, "port")->source, VEIL_CONFIG_FROM_FLAG);
    veil_config_free(&cfg);
}

static void expect_yaml_error(const char *yaml, const char *want)
{
    veil_config cfg;
    veil_err err = {0};
    CHECK_EQ_INT(veil_config_init(&cfg, keys, VEIL_ARRAY_LEN(keys), &err), 0);
    CHECK_EQ_INT(veil_config_load_yaml(&cfg, yaml, strlen(yaml), "bad.yaml", &err), -1);
    CHECK_CONTAINS(err.msg, want);
    /* A failed load leaves earlier values intact. */
    CHECK_EQ_INT(veil_config_int(&cfg, "port", 0), 4001);
    veil_config_free(&cfg);
}

static void test_errors(void)
{
    expect_yaml_error("name: x\nportt: 1\n", "bad.yaml:2: unknown key 'portt'");
    expect_yaml_error("port: http\n", "bad.yaml:1: key 'port' expects an integer, got 'http'");
    expect_yaml_error("\n\nport: 70000\n", "bad.yaml:3: key 'port' must be between 1 and 65535");
    expect_yaml_error("debug: maybe\n", "bad.yaml:1: key 'debug' expects true or false");
    expect_yaml_error("net:\n  interval: 10 parsecs\n", "bad.yaml:2: key 'net.interval'");
    expect_yaml_error("net:\n  bogus: 1\n", "bad.yaml:2: unknown key 'net.bogus'");
    expect_yaml_error("port: [1, 2]\n", "bad.yaml:1: key 'port' expects a single value");
    expect_yaml_error("name:\n  a: b\n", "key 'name' expects a value, got a mapping");
    expect_yaml_error("net:\n  bootstrap:\n    - a\n    - {x: 1}\n", "bad.yaml:4: items of");
    expect_yaml_error("- a\n- b\n", "must be a mapping");
    expect_yaml_error("name: [unclosed\n", "bad.yaml:");

    veil_config cfg;
    veil_err err = {0};
    CHECK_EQ_INT(veil_config_init(&cfg, keys, VEIL_ARRAY_LEN(keys), &err), 0);
    CHECK_EQ_INT(veil_config_set(&cfg, "nope", "1", VEIL_CONFIG_FROM_FLAG, "flag --set", &err), -1);
    CHECK_CONTAINS(err.msg, "unknown configuration key 'nope'");
    CHECK_EQ_INT(veil_config_set(&cfg, "port", "0", VEIL_CONFIG_FROM_ENV, "env VT_PORT", &err), -1);
    CHECK_CONTAINS(err.msg, "env VT_PORT: key 'port' must be between 1 and 65535");
    CHECK_EQ_INT(veil_config_load_file(&cfg, "/nonexistent/veil.yaml", &err), -1);
    CHECK_CONTAINS(err.msg, "/nonexistent/veil.yaml");
    /* An empty document is fine. */
    CHECK_EQ_INT(veil_config_load_yaml(&cfg, "", 0, "empty.yaml", &err), 0);
    veil_config_free(&cfg);
}

static void test_default_keys(void)
{
    veil_config cfg;
    veil_err err = {0};
    CHECK_EQ_INT(veil_config_init(&cfg, veil_config_default_keys, veil_config_default_keys_len,
                                  &err),
                 0);
    /* The seed's environment variable names. */
    const char *seed_env[] = {"VEIL_CONTRACT_ADDRESS", "VEIL_LIBP2P_BOOTSTRAP",
                              "VEIL_ZAMA_PUBLICKEY_FILE", "VEIL_NODE_PEERID",
                              "VEIL_DOCKER_SOCKET"};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(seed_env); i++) {
        bool found = false;
        for (size_t k = 0; k < cfg.n_keys; k++)
            found |= cfg.keys[k].env && strcmp(cfg.keys[k].env, seed_env[i]) == 0;
        CHECK(found);
    }
    CHECK_EQ_STR(veil_config_str(&cfg, "rpc_url", NULL), "http://127.0.0.1:8545");
    veil_config_free(&cfg);
}

static void test_duration_and_size(void)
{
    int64_t ms;
    uint64_t sz;
    veil_err err = {0};
    CHECK_EQ_INT(veil_parse_duration_ms("1.5s", &ms, &err), 0);
    CHECK_EQ_INT(ms, 1500);
    CHECK_EQ_INT(veil_parse_duration_ms("2m", &ms, &err), 0);
    CHECK_EQ_INT(ms, 120000);
    CHECK_EQ_INT(veil_parse_duration_ms("7", &ms, &err), 0);
    CHECK_EQ_INT(ms, 7000);
    CHECK_EQ_INT(veil_parse_duration_ms("-1s", &ms, &err), -1);
    CHECK_EQ_INT(veil_parse_duration_ms("5 s", &ms, &err), -1);
    CHECK_EQ_INT(veil_parse_duration_ms("", &ms, &err), -1);
    CHECK_EQ_INT(veil_parse_size("64m", &sz, &err), 0);
    CHECK_EQ_U64(sz, 64ull << 20);
    CHECK_EQ_INT(veil_parse_size("64Mi", &sz, &err), 0);
    CHECK_EQ_U64(sz, 64ull << 20);
    CHECK_EQ_INT(veil_parse_size("1G", &sz, &err), 0);
    CHECK_EQ_U64(sz, 1000000000ull);
    CHECK_EQ_INT(veil_parse_size("12", &sz, &err), 0);
    CHECK_EQ_U64(sz, 12);
    CHECK_EQ_INT(veil_parse_size("12q", &sz, &err), -1);
    CHECK_EQ_INT(veil_parse_size("-5m", &sz, &err), -1);
    CHECK_EQ_INT(veil_parse_size("99999999999999999999", &sz, &err), -1);
    CHECK_EQ_INT(veil_parse_size("17179869184Gi", &sz, &err), -1);
}

VTEST_MAIN(VTEST(test_defaults_and_layers), VTEST(test_errors), VTEST(test_default_keys),
           VTEST(test_duration_and_size))
