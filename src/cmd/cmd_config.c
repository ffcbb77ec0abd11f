// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_config.c - `veil config show|check|keys`: the effective configuration
 * with where each value came from (file:line, environment, flag, default),
 * validation of a config file, and the list of known keys.
 */
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

static const char *source_name(enum veil_config_source s)
{
    switch (s) {
    case VEIL_CONFIG_FROM_DEFAULT: return "default";
    case VEIL_CONFIG_FROM_FILE: return "file";
    case VEIL_CONFIG_FROM_ENV: return "env";
    case VEIL_CONFIG_FROM_FLAG: return "flag";
    default: return "unset";
    }
}

static bool is_secret_key(const char *name)
{
    size_t n = strlen(name);
    return (n >= 8 && strcmp(name + n - 8, "password") == 0) ||
           (n >= 6 && strcmp(name + n - 6, "secret") == 0);
}

static int run_show(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {{"set", required_argument, NULL, 's'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    veil_err err = {0};
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 's': {
            char key[128];
            const char *eq = strchr(optarg, '=');
            if (!eq || (size_t)(eq - optarg) >= sizeof key)
                return veil_cli_usage_error("veil config show", "--set wants KEY=VALUE");
            memcpy(key, optarg, (size_t)(eq - optarg));
            key[eq - optarg] = '\0';
            if (veil_config_set(ctx->config, key, eq + 1, VEIL_CONFIG_FROM_FLAG, "flag --set",
                                &err) != 0)
                return veil_cli_fail(&err);
            break;
        }
        case 'o':
            if (veil_cli_parse_output(optarg, &json, &err) != 0)
                return veil_cli_usage_error("veil config show", "%s", err.msg);
            break;
        case 'j': json = true; break;
        default: return veil_cli_usage_error("veil config show", "bad option");
        }
    }
    if (optind != argc)
        return veil_cli_usage_error("veil config show", "unexpected argument '%s'", argv[optind]);

    const veil_config *cfg = ctx->config;
    json_t *root = json ? json_object() : NULL;
    for (size_t i = 0; i < cfg->n_keys; i++) {
        const struct veil_config_key *k = &cfg->keys[i];
        const struct veil_config_value *v = &cfg->values[i];
        const char *text = v->text ? v->text : "";
        if (is_secret_key(k->name) && v->text)
            text = "(set)";
        if (json) {
            json_t *entry = json_pack("{s:s, s:s, s:s}", "value", text, "source",
                                      source_name(v->source), "origin", v->origin);
            json_object_set_new(root, k->name, entry);
        } else {
            printf("%-28s %-40s %s\n", k->name, text, v->origin);
        }
    }
    if (json) {
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
        puts(s);
        free(s);
        json_decref(root);
    }
    return VEIL_EXIT_OK;
}

static int run_check(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    if (argc != 2)
        return veil_cli_usage_error("veil config check", "expected one FILE");
    veil_err err = {0};
    if (veil_config_load_file(ctx->config, argv[1], &err) != 0)
        return veil_cli_fail(&err);
    printf("%s: ok\n", argv[1]);
    return VEIL_EXIT_OK;
}

static const char *type_name(enum veil_config_type t)
{
    switch (t) {
    case VEIL_CONFIG_STRING: return "string";
    case VEIL_CONFIG_INT: return "int";
    case VEIL_CONFIG_BOOL: return "bool";
    case VEIL_CONFIG_DURATION: return "duration";
    case VEIL_CONFIG_LIST: return "list";
    }
    return "?";
}

static int run_keys(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)argv;
    if (argc != 1)
        return veil_cli_usage_error("veil config keys", "takes no arguments");
    for (size_t i = 0; i < ctx->config->n_keys; i++) {
        const struct veil_config_key *k = &ctx->config->keys[i];
        printf("%-28s %-8s %-28s %s\n", k->name, type_name(k->type), k->env ? k->env : "-",
               k->help);
    }
    return VEIL_EXIT_OK;
}

static const struct veil_cli_command config_show = {
    .name = "show",
    .summary = "print the effective configuration and where each value came from",
    .usage = "Usage: veil config show [--set KEY=VALUE]... [-o json]\n\n"
             "Prints every configuration key with its value and origin. Precedence:\n"
             "defaults < --config FILE < VEIL_* environment < flags (--set).\n",
    .run = run_show,
};
static const struct veil_cli_command config_check = {
    .name = "check",
    .summary = "validate a YAML configuration file",
    .usage = "Usage: veil config check FILE\n\nReports unknown keys and bad values with "
             "FILE:LINE and exits non-zero.\n",
    .run = run_check,
};
static const struct veil_cli_command config_keys = {
    .name = "keys",
    .summary = "list the known configuration keys",
    .usage = "Usage: veil config keys\n\nLists every key, its type, its environment variable "
             "and what it means.\n",
    .run = run_keys,
};
static const struct veil_cli_command *const config_subcommands[] = {&config_show, &config_check,
                                                                    &config_keys, NULL};

const struct veil_cli_command veil_cmd_config = {
    .name = "config",
    .summary = "show and check the configuration",
    .usage = "Usage: veil config <command> [options]\n",
    .subcommands = config_subcommands,
};
