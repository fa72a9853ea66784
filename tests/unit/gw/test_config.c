/* Unit tests for the gateway's config loader: defaults, every mistake reported
 * with its JSON path, keys from env and files, snapshot reference counting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gateway/gw_internal.h"

CHECK_MAIN_DEFS

static char dir[] = "/tmp/gwcfgXXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static bool has_msg(const cm_errlist *e, const char *frag)
{
    for (size_t i = 0; i < e->n; i++)
        if (strstr(e->msgs[i], frag) != NULL)
            return true;
    return false;
}

static void test_defaults_and_keys(void)
{
    write_file("key.txt", "sk-from-file\n");
    setenv("GWT_KEY", "sk-from-env", 1);
    const char *p = write_file("ok.json",
                               "{\"providers\":{\"a\":{\"type\":\"openai\",\"base_url\":\"http://h/v1/\","
                               "\"api_key_env\":\"GWT_KEY\"},\"b\":{\"type\":\"openai\","
                               "\"base_url\":\"https://x/v1\",\"api_key_file\":\"key.txt\"}},"
                               "\"models\":{\"m\":{\"provider\":\"a\",\"model\":\"up\"},"
                               "\"f\":{\"targets\":[{\"provider\":\"b\"},{\"provider\":\"a\"}]}}}");
    cm_errlist e = {0};
    gw_config *c = NULL;
    CHECK(gw_config_load(p, &c, &e) == 0);
    CHECK(e.n == 0);
    if (c == NULL)
        return;
    CHECK(c->listen_port == 8080);
    CHECK(c->limits.max_body_bytes == 4 << 20);
    CHECK(c->limits.shutdown_grace_s == 30);
    CHECK_STR_EQ(c->providers[0].base_url, "http://h/v1"); /* trailing slash dropped */
    CHECK_STR_EQ(c->providers[0].auth_hdr, "Authorization: Bearer sk-from-env");
    CHECK_STR_EQ(c->providers[1].auth_hdr, "Authorization: Bearer sk-from-file");
    const gw_model *m = gw_config_model(c, "f");
    CHECK(m != NULL && m->ntargets == 2 && strcmp(m->targets[0].model, "f") == 0);
    CHECK(gw_config_model(c, "nope") == NULL);
    CHECK(c->pol == NULL && c->red == NULL);
    gw_config_install(c);
    gw_config *held = gw_config_acquire();
    CHECK(held == c);
    gw_config_install(NULL); /* the request still holds it */
    CHECK(held->nmodels == 2);
    gw_config_release(held);
    cm_errlist_fini(&e);
}

static void test_every_mistake(void)
{
    unsetenv("GWT_MISSING");
    const char *p = write_file(
        "bad.json", "{\"listen\":{\"port\":70000,\"extra\":1},\"limits\":{\"max_body_bytes\":\"big\","
                    "\"shutdown_grace_s\":-1},\"providers\":{\"a\":{\"type\":\"anthropic\",\"base_url\":"
                    "\"ftp://x\",\"api_key_env\":\"GWT_MISSING\"}},\"models\":{\"m\":{\"provider\":"
                    "\"zz\"},\"t\":{\"targets\":[]}},\"roles\":{}}");
    cm_errlist e = {0};
    gw_config *c = NULL;
    CHECK(gw_config_load(p, &c, &e) == CM_EINVAL);
    CHECK(c == NULL);
    CHECK(has_msg(&e, "listen.port: 70000 is above maximum 65535"));
    CHECK(has_msg(&e, "listen.extra: unknown key"));
    CHECK(has_msg(&e, "limits.max_body_bytes: expected an integer"));
    CHECK(has_msg(&e, "limits.shutdown_grace_s: -1 is below minimum 0"));
    CHECK(has_msg(&e, "providers.a.type"));
    CHECK(has_msg(&e, "providers.a.base_url"));
    CHECK(has_msg(&e, "providers.a.api_key_env: environment variable GWT_MISSING is not set"));
    CHECK(has_msg(&e, "models.m.provider: \"zz\" is not defined"));
    CHECK(has_msg(&e, "models.t.targets: expected a non-empty array"));
    CHECK(has_msg(&e, "auth: required when \"roles\" is given"));
    CHECK(e.n >= 10);
    cm_errlist_fini(&e);

    p = write_file("dup.json", "{\"models\":{},\"models\":{}}");
    CHECK(gw_config_load(p, &c, &e) == CM_EINVAL);
    CHECK(has_msg(&e, "duplicate"));
    cm_errlist_fini(&e);
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    test_defaults_and_keys();
    test_every_mistake();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return check_report("unit_gw");
}
