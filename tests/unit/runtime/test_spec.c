// SPDX-License-Identifier: Apache-2.0
/*
 * test_spec.c - OCI config.json generation from image config + request,
 * user resolution from an image's passwd/group, restart policies, registry
 * auth (WWW-Authenticate parsing, Docker config.json credentials) and the
 * Docker Engine API driver's request building and response parsing.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <veil/runtime.h>

#include "vtest.h"

static json_t *build(const struct veil_run_request *req, const struct veil_image_config *img)
{
    struct veil_oci_spec_input in = {.req = req,
                                     .image = img,
                                     .uid = 65534,
                                     .gid = 65534,
                                     .cgroups_path = "/veil/abc",
                                     .hostname = "box"};
    char *text = NULL;
    veil_err err = {0};
    if (veil_oci_spec_build(&in, &text, &err) != 0) {
        fprintf(stderr, "  build: %s\n", err.msg);
        return NULL;
    }
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    return j;
}

static bool env_has(json_t *env, const char *kv)
{
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e) if (strcmp(json_string_value(e), kv) == 0) return true;
    return false;
}

static void test_spec_from_image(void)
{
    char *entry[] = {"/bin/sh", "-c"};
    char *cmd[] = {"echo default"};
    char *ienv[] = {"PATH=/image/bin", "A=image"};
    struct veil_image_config img = {.entrypoint = entry,
                                    .n_entrypoint = 2,
                                    .cmd = cmd,
                                    .n_cmd = 1,
                                    .env = ienv,
                                    .n_env = 2,
                                    .working_dir = "/srv"};
    char *renv[] = {"A=request", "B=2"};
    struct veil_run_request req = {.env = renv,
                                   .n_env = 2,
                                   .memory_bytes = 64u << 20,
                                   .cpus = 1.5,
                                   .cpu_shares = 512,
                                   .pids_limit = 20,
                                   .readonly_rootfs = true};
    json_t *j = build(&req, &img);
    CHECK(j != NULL);
    if (!j)
        return;
    CHECK_EQ_STR(json_string_value(json_object_get(j, "ociVersion")), "1.0.2");
    json_t *proc = json_object_get(j, "process");
    json_t *args = json_object_get(proc, "args");
    CHECK_EQ_INT(json_array_size(args), 3);
    CHECK_EQ_STR(json_string_value(json_array_get(args, 0)), "/bin/sh");
    CHECK_EQ_STR(json_string_value(json_array_get(args, 2)), "echo default");
    json_t *env = json_object_get(proc, "env");
    CHECK(env_has(env, "PATH=/image/bin"));
    CHECK(env_has(env, "A=request"));
    CHECK(!env_has(env, "A=image"));
    CHECK(env_has(env, "B=2"));
    CHECK(env_has(env, "HOSTNAME=box"));
    CHECK_EQ_STR(json_string_value(json_object_get(proc, "cwd")), "/srv");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(proc, "user"), "uid")), 65534);
    CHECK(json_is_true(json_object_get(proc, "noNewPrivileges")));
    CHECK(json_is_false(json_object_get(proc, "terminal")));
    CHECK(json_is_true(json_object_get(json_object_get(j, "root"), "readonly")));
    CHECK_EQ_STR(json_string_value(json_object_get(j, "hostname")), "box");
    json_t *lin = json_object_get(j, "linux");
    CHECK_EQ_STR(json_string_value(json_object_get(lin, "cgroupsPath")), "/veil/abc");
    json_t *res = json_object_get(lin, "resources");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")),
                 64 << 20);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "memory"), "swap")),
                 64 << 20);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "cpu"), "quota")), 150000);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "cpu"), "period")),
                 100000);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "cpu"), "shares")), 512);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "pids"), "limit")), 20);
    json_t *ns = json_object_get(lin, "namespaces");
    CHECK_EQ_INT(json_array_size(ns), 5);
    json_decref(j);
}

static void test_spec_request_overrides(void)
{
    char *cmd[] = {"default"};
    char *entry[] = {"/entry"};
    struct veil_image_config img = {.entrypoint = entry, .n_entrypoint = 1, .cmd = cmd, .n_cmd = 1};
    char *args[] = {"echo", "hi"};
    struct veil_mount_spec m = {.source = "/host", .destination = "/data", .readonly = true};
    struct veil_run_request req = {.args = args,
                                   .n_args = 2,
                                   .cwd = "/tmp",
                                   .host_network = true,
                                   .mounts = &m,
                                   .n_mounts = 1};
    json_t *j = build(&req, &img);
    CHECK(j != NULL);
    if (!j)
        return;
    json_t *a = json_object_get(json_object_get(j, "process"), "args");
    CHECK_EQ_INT(json_array_size(a), 3); /* entrypoint kept, Cmd replaced */
    CHECK_EQ_STR(json_string_value(json_array_get(a, 0)), "/entry");
    CHECK_EQ_STR(json_string_value(json_array_get(a, 1)), "echo");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(j, "process"), "cwd")), "/tmp");
    json_t *ns = json_object_get(json_object_get(j, "linux"), "namespaces");
    CHECK_EQ_INT(json_array_size(ns), 4); /* no network namespace */
    json_t *mounts = json_object_get(j, "mounts");
    json_t *last = json_array_get(mounts, json_array_size(mounts) - 1);
    CHECK_EQ_STR(json_string_value(json_object_get(last, "destination")), "/data");
    CHECK_EQ_STR(json_string_value(json_object_get(last, "type")), "bind");
    json_decref(j);

    /* No command at all, relative cwd, relative mount: refused. */
    struct veil_run_request empty = {0};
    struct veil_oci_spec_input in = {.req = &empty};
    char *text = NULL;
    veil_err err = {0};
    CHECK_EQ_INT(veil_oci_spec_build(&in, &text, &err), -1);
    CHECK_CONTAINS(err.msg, "no command");
    struct veil_run_request rel = {.args = args, .n_args = 1, .cwd = "tmp"};
    in.req = &rel;
    CHECK_EQ_INT(veil_oci_spec_build(&in, &text, &err), -1);
    struct veil_mount_spec bad = {.source = "host", .destination = "/x"};
    struct veil_run_request relm = {.args = args, .n_args = 1, .mounts = &bad, .n_mounts = 1};
    in.req = &relm;
    CHECK_EQ_INT(veil_oci_spec_build(&in, &text, &err), -1);
}

static void write_file(const char *path, const char *text)
{
    veil_err err = {0};
    CHECK_EQ_INT(veil_file_write_atomic(path, text, strlen(text), 0600, &err), 0);
}

static void test_resolve_user(void)
{
    char root[] = "/tmp/veil-user-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char p[128];
    snprintf(p, sizeof p, "%s/etc", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/etc/passwd", root);
    write_file(p, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n");
    snprintf(p, sizeof p, "%s/etc/group", root);
    write_file(p, "root:x:0:\nstaff:x:50:\n");
    uint32_t uid = 9, gid = 9;
    CHECK_EQ_INT(veil_resolve_user(root, "app", &uid, &gid, NULL), 0);
    CHECK_EQ_INT(uid, 1000);
    CHECK_EQ_INT(gid, 1001);
    CHECK_EQ_INT(veil_resolve_user(root, "app:staff", &uid, &gid, NULL), 0);
    CHECK_EQ_INT(gid, 50);
    CHECK_EQ_INT(veil_resolve_user(root, "123:456", &uid, &gid, NULL), 0);
    CHECK_EQ_INT(uid, 123);
    CHECK_EQ_INT(gid, 456);
    CHECK_EQ_INT(veil_resolve_user(root, "77", &uid, &gid, NULL), 0);
    CHECK_EQ_INT(uid, 77);
    CHECK_EQ_INT(gid, 0);
    veil_err err = {0};
    CHECK_EQ_INT(veil_resolve_user(root, "ghost", &uid, &gid, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    CHECK_EQ_INT(veil_resolve_user(root, "app:nogroup", &uid, &gid, &err), -1);
    CHECK_EQ_INT(veil_resolve_user(root, "99999999999", &uid, &gid, &err), -1);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK_EQ_INT(system(cmd), 0);
}

static void test_restart_policy(void)
{
    enum veil_restart_policy p;
    int max = -1;
    CHECK_EQ_INT(veil_restart_policy_parse("never", &p, &max, NULL), 0);
    CHECK_EQ_INT(p, VEIL_RESTART_NEVER);
    CHECK_EQ_INT(veil_restart_policy_parse("no", &p, &max, NULL), 0);
    CHECK_EQ_INT(veil_restart_policy_parse("always", &p, &max, NULL), 0);
    CHECK_EQ_INT(p, VEIL_RESTART_ALWAYS);
    CHECK_EQ_INT(veil_restart_policy_parse("on-failure", &p, &max, NULL), 0);
    CHECK_EQ_INT(p, VEIL_RESTART_ON_FAILURE);
    CHECK_EQ_INT(max, 0);
    CHECK_EQ_INT(veil_restart_policy_parse("on-failure:5", &p, &max, NULL), 0);
    CHECK_EQ_INT(max, 5);
    CHECK_EQ_INT(veil_restart_policy_parse("on-failure:", &p, &max, NULL), -1);
    CHECK_EQ_INT(veil_restart_policy_parse("on-failure:-1", &p, &max, NULL), -1);
    CHECK_EQ_INT(veil_restart_policy_parse("sometimes", &p, &max, NULL), -1);
    CHECK_EQ_STR(veil_restart_policy_name(VEIL_RESTART_ON_FAILURE), "on-failure");
}

static void test_www_authenticate(void)
{
    char scheme[16], realm[128], service[64], scope[128];
    veil_err err = {0};
    CHECK_EQ_INT(veil_www_authenticate_parse(
                     "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                     "scope=\"repository:library/busybox:pull\"",
                     scheme, sizeof scheme, realm, sizeof realm, service, sizeof service, scope,
                     sizeof scope, &err),
                 0);
    CHECK_EQ_STR(scheme, "Bearer");
    CHECK_EQ_STR(realm, "https://auth.docker.io/token");
    CHECK_EQ_STR(service, "registry.docker.io");
    CHECK_EQ_STR(scope, "repository:library/busybox:pull");
    CHECK_EQ_INT(veil_www_authenticate_parse("Basic realm=\"Registry Realm\"", scheme,
                                             sizeof scheme, realm, sizeof realm, service,
                                             sizeof service, scope, sizeof scope, &err),
                 0);
    CHECK_EQ_STR(scheme, "Basic");
    CHECK_EQ_STR(realm, "Registry Realm");
    CHECK_EQ_INT(veil_www_authenticate_parse("Bearer service=x", scheme, sizeof scheme, realm,
                                             sizeof realm, service, sizeof service, scope,
                                             sizeof scope, &err),
                 -1);
    CHECK_EQ_INT(veil_www_authenticate_parse("", scheme, sizeof scheme, realm, sizeof realm,
                                             service, sizeof service, scope, sizeof scope, &err),
                 -1);
    CHECK_EQ_INT(veil_www_authenticate_parse("Bearer realm", scheme, sizeof scheme, realm,
                                             sizeof realm, service, sizeof service, scope,
                                             sizeof scope, &err),
                 -1);
}

static void test_auth_file(void)
{
    char path[] = "/tmp/veil-auth-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    /* "alice:s3cret" and "bob:pw" in base64 */
    const char *cfg = "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"YWxpY2U6czNjcmV0\"},"
                      "\"https://index.docker.io/v1/\":{\"auth\":\"Ym9iOnB3\"},"
                      "\"plain.example\":{\"username\":\"u\",\"password\":\"p\"},"
                      "\"bad.example\":{\"auth\":\"!!!!\"}}}";
    CHECK(write(fd, cfg, strlen(cfg)) == (ssize_t)strlen(cfg));
    close(fd);
    char *up = NULL;
    veil_err err = {0};
    CHECK_EQ_INT(veil_registry_auth_lookup(path, "127.0.0.1:5000", &up, &err), 0);
    CHECK_EQ_STR(up, "alice:s3cret");
    free(up);
    CHECK_EQ_INT(veil_registry_auth_lookup(path, "registry-1.docker.io", &up, &err), 0);
    CHECK_EQ_STR(up, "bob:pw");
    free(up);
    CHECK_EQ_INT(veil_registry_auth_lookup(path, "plain.example", &up, &err), 0);
    CHECK_EQ_STR(up, "u:p");
    free(up);
    CHECK_EQ_INT(veil_registry_auth_lookup(path, "nowhere.example", &up, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    CHECK_EQ_INT(veil_registry_auth_lookup(path, "bad.example", &up, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_PARSE);
    unlink(path);
}

static void test_docker_body(void)
{
    char *args[] = {"echo", "hi"};
    char *env[] = {"A=1"};
    struct veil_run_request req = {.image = "busybox:1",
                                   .args = args,
                                   .n_args = 2,
                                   .env = env,
                                   .n_env = 1,
                                   .memory_bytes = 1 << 26,
                                   .cpus = 0.5,
                                   .pids_limit = 10,
                                   .restart = VEIL_RESTART_ON_FAILURE,
                                   .max_retries = 3};
    char *text = NULL;
    CHECK_EQ_INT(veil_docker_create_body(&req, &text, NULL), 0);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "Image")), "busybox:1");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "Cmd")), 2);
    json_t *h = json_object_get(j, "HostConfig");
    CHECK_EQ_INT(json_integer_value(json_object_get(h, "Memory")), 1 << 26);
    CHECK_EQ_INT(json_integer_value(json_object_get(h, "NanoCpus")), 500000000);
    CHECK_EQ_INT(json_integer_value(json_object_get(h, "PidsLimit")), 10);
    json_t *rp = json_object_get(h, "RestartPolicy");
    CHECK_EQ_STR(json_string_value(json_object_get(rp, "Name")), "on-failure");
    CHECK_EQ_INT(json_integer_value(json_object_get(rp, "MaximumRetryCount")), 3);
    json_decref(j);
}

static void test_docker_inspect_and_demux(void)
{
    const char *doc = "{\"Id\":\"abc123\",\"Name\":\"/web\",\"RestartCount\":2,"
                      "\"Config\":{\"Image\":\"busybox\"},\"State\":{\"Status\":\"exited\","
                      "\"ExitCode\":137,\"OOMKilled\":true,\"Pid\":0}}";
    struct veil_container_info info;
    CHECK_EQ_INT(veil_docker_parse_inspect(doc, strlen(doc), &info, NULL), 0);
    CHECK_EQ_STR(info.id, "abc123");
    CHECK_EQ_STR(info.name, "web");
    CHECK_EQ_INT(info.exit_code, 137);
    CHECK(info.oom_killed);
    CHECK_EQ_INT(info.restarts, 2);
    CHECK_EQ_INT(info.status, VEIL_CT_EXITED);
    CHECK_EQ_INT(veil_docker_parse_inspect("{}", 2, &info, NULL), -1);
    CHECK_EQ_INT(veil_docker_parse_inspect("nope", 4, &info, NULL), -1);

    int p[2];
    CHECK_EQ_INT(pipe(p), 0);
    static const uint8_t stream[] = {1, 0, 0, 0, 0, 0, 0, 3, 'o', 'u', 't',
                                     2, 0, 0, 0, 0, 0, 0, 3, 'e', 'r', 'r',
                                     1, 0, 0, 0, 0, 0, 0, 9, 'p', 'a'};
    size_t used = veil_docker_demux(stream, sizeof stream, p[1], p[1]);
    CHECK_EQ_INT(used, 22); /* the partial third frame waits */
    char buf[16] = "";
    CHECK_EQ_INT(read(p[0], buf, 6), 6);
    CHECK_EQ_STR(buf, "outerr");
    close(p[0]);
    close(p[1]);
}

static void test_docker_list(void)
{
    const char *doc = "[{\"Id\":\"aaa\",\"Names\":[\"/web\"],\"Image\":\"busybox:1\","
                      "\"Command\":\"sleep 9\",\"State\":\"running\",\"Created\":1700000000},"
                      "{\"Id\":\"bbb\",\"Names\":[],\"State\":\"exited\"},{\"NoId\":1}]";
    struct veil_container_info *list = NULL;
    size_t n = 0;
    CHECK_EQ_INT(veil_docker_parse_list(doc, strlen(doc), &list, &n, NULL), 0);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_STR(list[0].name, "web");
        CHECK_EQ_STR(list[0].command, "sleep 9");
        CHECK_EQ_INT(list[0].status, VEIL_CT_RUNNING);
        CHECK_EQ_INT(list[0].created, 1700000000);
        CHECK_EQ_INT(list[1].status, VEIL_CT_EXITED);
    }
    free(list);
    CHECK_EQ_INT(veil_docker_parse_list("{}", 2, &list, &n, NULL), -1);
}

static const char *fake_env(const char *name)
{
    if (strcmp(name, "VEIL_RUNTIME") == 0)
        return "crun";
    if (strcmp(name, "VEIL_INSECURE_REGISTRIES") == 0)
        return "127.0.0.1:5000,localhost:5001";
    if (strcmp(name, "VEIL_DATA_DIR") == 0)
        return "/srv/veil";
    return NULL;
}

static void test_runtime_config(void)
{
    veil_config cfg;
    veil_err err = {0};
    CHECK_EQ_INT(
        veil_config_init(&cfg, veil_config_default_keys, veil_config_default_keys_len, &err), 0);
    struct veil_runtime_config rc;
    CHECK_EQ_INT(veil_runtime_config_load(&cfg, NULL, &rc, &err), 0);
    CHECK_EQ_STR(rc.engine, "runc"); /* the default */
    CHECK_EQ_INT(rc.registry.n_insecure, 0);
    CHECK(rc.docker_socket == NULL);
    CHECK_EQ_INT(veil_config_load_env(&cfg, fake_env, &err), 0);
    CHECK_EQ_INT(veil_runtime_config_load(&cfg, NULL, &rc, &err), 0);
    CHECK_EQ_STR(rc.engine, "crun");
    CHECK_EQ_STR(rc.data_dir, "/srv/veil");
    CHECK_EQ_INT(rc.registry.n_insecure, 2);
    CHECK_EQ_STR(rc.registry.insecure[1], "localhost:5001");
    CHECK_EQ_INT(veil_runtime_config_load(&cfg, "/flag/dir", &rc, &err), 0);
    CHECK_EQ_STR(rc.data_dir, "/flag/dir");
    CHECK_EQ_INT(
        veil_config_set(&cfg, "runtime.engine", "docker", VEIL_CONFIG_FROM_FLAG, "test", &err), 0);
    CHECK_EQ_INT(veil_runtime_config_load(&cfg, NULL, &rc, &err), -1);
    CHECK_CONTAINS(err.msg, "runc or crun");
    veil_config_free(&cfg);
}

VTEST_MAIN(VTEST(test_runtime_config), VTEST(test_docker_list), VTEST(test_spec_from_image),
           VTEST(test_spec_request_overrides), VTEST(test_resolve_user), VTEST(test_restart_policy),
           VTEST(test_www_authenticate), VTEST(test_auth_file), VTEST(test_docker_body),
           VTEST(test_docker_inspect_and_demux))
