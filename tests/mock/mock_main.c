/* mock_main.c: command line, process limits and signal handling of the mock OpenAI provider.
 * Starts the HTTP daemon (mock_http.c), prints "PORT <n>" once listening, then waits in
 * sigwait() for SIGINT/SIGTERM and shuts down cleanly. SIGINT/SIGTERM are blocked before any
 * thread starts so only the main thread receives them.
 */
#include "mock.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <microhttpd.h>

mock_cfg g_mock_cfg = {
    .host = "127.0.0.1",
    .events = 3,
    .record = true,
    .max_records = 10000,
    .probe_ms = 500,
};

static void usage(FILE *f)
{
    fputs("usage: mock_provider --port N [--host ADDR] [--api-key KEY] [--events N]\n"
          "                     [--gap-ms N] [--no-record] [--max-records N] [--probe-ms N]\n"
          "                     [--quiet]\n"
          "A mock of the OpenAI API. Prints \"PORT <n>\" on stdout once listening.\n"
          "See tests/mock/README.md for endpoints and failure-injection directives.\n",
          f);
}

static bool parse_num(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv)
{
    bool has_port = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--no-record") == 0) {
            g_mock_cfg.record = false;
            continue;
        } else if (strcmp(a, "--quiet") == 0) {
            g_mock_cfg.quiet = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "mock_provider: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--port") == 0 && parse_num(v, 0, 65535, &n)) {
            g_mock_cfg.port = (unsigned)n;
            has_port = true;
        } else if (strcmp(a, "--host") == 0) {
            g_mock_cfg.host = v;
        } else if (strcmp(a, "--api-key") == 0 && v[0] != '\0') {
            g_mock_cfg.api_key = v;
        } else if (strcmp(a, "--events") == 0 && parse_num(v, 0, 100000, &n)) {
            g_mock_cfg.events = (int)n;
        } else if (strcmp(a, "--gap-ms") == 0 && parse_num(v, 0, 3600000, &n)) {
            g_mock_cfg.gap_ms = n;
        } else if (strcmp(a, "--max-records") == 0 && parse_num(v, 1, 10000000, &n)) {
            g_mock_cfg.max_records = (size_t)n;
        } else if (strcmp(a, "--probe-ms") == 0 && parse_num(v, 10, 600000, &n)) {
            g_mock_cfg.probe_ms = n;
        } else {
            fprintf(stderr, "mock_provider: bad option or value: %s %s\n", a, v);
            return -1;
        }
    }
    if (!has_port) {
        fputs("mock_provider: --port is required (0 picks a free port)\n", stderr);
        return -1;
    }
    return 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            perror("mock_provider: setrlimit(RLIMIT_NOFILE)");
    }
}

int main(int argc, char **argv)
{
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    sigset_t set;
    int sig = 0;

    if (parse_args(argc, argv) != 0) {
        usage(stderr);
        return 2;
    }
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    mock_rec_init();
    d = mock_http_start();
    if (d == NULL) {
        fprintf(stderr, "mock_provider: cannot listen on %s:%u\n", g_mock_cfg.host,
                g_mock_cfg.port);
        mock_http_stop(NULL);
        mock_rec_fini();
        return 1;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("PORT %u\n", info ? (unsigned)info->port : g_mock_cfg.port);
    fflush(stdout);

    while (sigwait(&set, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
        ;
    mock_http_stop(d);
    mock_rec_fini();
    return 0;
}
