/*
 * trivial-fcgi: the baseline for scripts/bench-control. A FastCGI responder
 * that does nothing but answer every request with 200 and a small fixed JSON
 * body, using libfcgi the same way minilambda does: N threads, each looping
 * on FCGX_Accept_r() over one listening unix socket.
 *
 *   trivial-fcgi SOCKET [THREADS]      (THREADS defaults to 16)
 *
 * Not part of the main build:
 *   cc -O2 -Wall -Wextra -o trivial-fcgi tests/bench/trivial-fcgi.c -lfcgi -pthread
 * Stops on SIGTERM or SIGINT (the process exits; the socket file is removed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_THREADS 256

static const char body[] = "{\"status\":\"ok\",\"service\":\"trivial-fcgi\"}\n";
static int listen_fd = -1;
static char sock_path[4096];

static void *serve(void *arg)
{
    FCGX_Request req;
    char head[256];
    (void)arg;

    if (FCGX_InitRequest(&req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
        return NULL;
    for (;;) {
        if (FCGX_Accept_r(&req) < 0)
            break;
        /* Drain a request body, as a real handler reading it would. */
        char sink[4096];
        while (FCGX_GetStr(sink, sizeof(sink), req.in) > 0)
            ;
        int n = snprintf(head, sizeof(head),
                         "Status: 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         sizeof(body) - 1);
        if (n > 0 && (size_t)n < sizeof(head))
            FCGX_PutStr(head, n, req.out);
        FCGX_PutStr(body, (int)(sizeof(body) - 1), req.out);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    if (sock_path[0] != '\0')
        unlink(sock_path);
    _exit(0);
}

int main(int argc, char **argv)
{
    pthread_t tids[MAX_THREADS];
    int threads = 16;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s SOCKET [THREADS]\n", argv[0]);
        return 2;
    }
    if (argc == 3) {
        char *end;
        long t = strtol(argv[2], &end, 10);
        if (*end != '\0' || t < 1 || t > MAX_THREADS) {
            fprintf(stderr, "%s: THREADS must be 1..%d\n", argv[0], MAX_THREADS);
            return 2;
        }
        threads = (int)t;
    }
    int n = snprintf(sock_path, sizeof(sock_path), "%s", argv[1]);
    if (n < 0 || (size_t)n >= sizeof(sock_path)) {
        fprintf(stderr, "%s: socket path too long\n", argv[0]);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (FCGX_Init() != 0) {
        fprintf(stderr, "%s: FCGX_Init failed\n", argv[0]);
        return 1;
    }
    unlink(sock_path);
    /* nginx workers may run as another user: let them connect. */
    mode_t old = umask(0);
    listen_fd = FCGX_OpenSocket(sock_path, 1024);
    umask(old);
    if (listen_fd < 0) {
        fprintf(stderr, "%s: cannot listen on %s: %s\n", argv[0], sock_path, strerror(errno));
        return 1;
    }

    int started = 0;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&tids[i], NULL, serve, NULL) != 0)
            break;
        started++;
    }
    if (started == 0) {
        fprintf(stderr, "%s: no thread could start\n", argv[0]);
        unlink(sock_path);
        return 1;
    }
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    unlink(sock_path);
    return 0;
}
