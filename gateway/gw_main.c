/* gateway: entry point. `gateway --config FILE` serves; subcommands for
 * people: check-config, redact, token, keys. Signals are taken synchronously
 * by the main thread: SIGHUP reloads (a bad config is refused and the old one
 * keeps serving), SIGTERM/SIGINT drain in-flight requests, then exit. */
#include "gw_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void usage(void)
{
    fputs("usage: gateway --config FILE [--port N] [--log-level debug|info|warn|error]\n"
          "       gateway check-config --config FILE\n"
          "       gateway redact --config FILE [--jsonl]    (stdin -> stdout)\n"
          "       gateway token --sub NAME --role ROLE [--ttl 1h] ...  (development JWT)\n"
          "       gateway keys new --name NAME --role ROLE\n",
          stderr);
}

static void print_errors(const char *path, const cm_errlist *errs)
{
    fprintf(stderr, "%s: %zu error%s\n", path, errs->n, errs->n == 1 ? "" : "s");
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "  %s\n", errs->msgs[i]);
}

static const char *arg_value(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static int cmd_check_config(int argc, char **argv)
{
    const char *path = arg_value(argc, argv, "--config");
    if (path == NULL) {
        usage();
        return 2;
    }
    cm_errlist errs = {0};
    gw_config *c = NULL;
    if (gw_config_load(path, &c, &errs) != 0) {
        print_errors(path, &errs);
        cm_errlist_fini(&errs);
        return 1;
    }
    printf("%s: ok (%zu providers, %zu models)\n", path, c->nproviders, c->nmodels);
    gw_config_release(c);
    return 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int cmd_serve(int argc, char **argv)
{
    const char *path = arg_value(argc, argv, "--config");
    const char *port = arg_value(argc, argv, "--port");
    const char *level = arg_value(argc, argv, "--log-level");
    if (path == NULL) {
        usage();
        return 2;
    }
    if (level != NULL)
        cm_log_set_level(strcmp(level, "debug") == 0  ? CM_LOG_DEBUG
                         : strcmp(level, "warn") == 0 ? CM_LOG_WARN
                         : strcmp(level, "error") == 0 ? CM_LOG_ERROR
                                                       : CM_LOG_INFO);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread started later inherits this */
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();

    cm_errlist errs = {0};
    gw_config *c = NULL;
    if (gw_config_load(path, &c, &errs) != 0) {
        print_errors(path, &errs);
        cm_errlist_fini(&errs);
        return 1;
    }
    if (port != NULL)
        c->listen_port = strtol(port, NULL, 10);
    gw_config_install(c);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned workers = c->limits.workers > 0 ? (unsigned)c->limits.workers
                                             : (unsigned)(ncpu > 0 ? ncpu : 1);
    if (gw_audit_open(c->audit_path) != 0 || gw_loops_start(c, workers) != 0)
        return 1;
    cm_log(CM_LOG_INFO, "gateway listening on %s://%s:%u (%u workers, %zu models, audit %s)",
           c->tls_cert ? "https" : "http", c->listen_host, gw_loops_port(), workers, c->nmodels,
           c->audit_path);
    if (c->red == NULL)
        cm_log(CM_LOG_WARN, "redaction is off: the config has no \"redaction\" section");
    if (c->pol == NULL)
        cm_log(CM_LOG_WARN, "authentication is off: the config has no \"auth\" section");
    unsigned grace = (unsigned)c->limits.shutdown_grace_s;
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            gw_config *n = NULL;
            if (gw_config_load(path, &n, &errs) != 0) {
                for (size_t i = 0; i < errs.n; i++)
                    cm_log(CM_LOG_ERROR, "reload refused: %s", errs.msgs[i]);
                cm_errlist_fini(&errs);
                continue;
            }
            gw_config *old = gw_config_acquire();
            n->listen_port = old->listen_port;
            if (strcmp(n->listen_host, old->listen_host) != 0)
                cm_log(CM_LOG_WARN, "reload: listen.host changes need a restart");
            grace = (unsigned)n->limits.shutdown_grace_s;
            gw_config_release(old);
            gw_config_install(n);
            cm_log(CM_LOG_INFO, "reload: %s applied (%zu models)", path, n->nmodels);
            continue;
        }
        cm_log(CM_LOG_INFO, "shutdown: draining %d in-flight requests (grace %us)",
               gw_server_inflight(), grace);
        break;
    }
    gw_server_set_draining();
    gw_loops_drain(grace);
    gw_loops_stop();
    gw_audit_close();
    gw_config_install(NULL);
    cm_log(CM_LOG_INFO, "shutdown: done");
    return 0;
}

int main(int argc, char **argv)
{
    /* every JSON tree holds prompt text at some point: wipe its memory when jansson frees it */
    json_set_alloc_funcs(malloc, cm_wipe_free);
    if (argc >= 2 && strcmp(argv[1], "check-config") == 0)
        return cmd_check_config(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "redact") == 0)
        return gw_redact_cli(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "token") == 0)
        return pol_cli_token(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "keys") == 0)
        return pol_cli_keys(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage();
        return 0;
    }
    return cmd_serve(argc, argv);
}
