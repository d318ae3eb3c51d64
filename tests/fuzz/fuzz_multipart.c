/*
 * libFuzzer target for the multipart parser. The input's first line is a
 * Content-Type value (fuzzing multipart_boundary; when it yields no valid
 * boundary a fixed one is used) and the rest is the body. The body is
 * parsed whole, then again in pieces whose sizes come from the input, and
 * a byte at a time: the three event logs and results must be identical,
 * content never exceeds the body, and a part's content only arrives
 * between its begin and end. Any difference aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse/multipart.h"

typedef struct {
    unsigned char *log; /* events: 'B' name 0 filename-or-"\1" 0, 'D' bytes, 'E' */
    size_t len, cap;
    int in_part;
    size_t data; /* content bytes seen */
} fz_log;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_put(fz_log *l, const void *p, size_t n)
{
    if (n > l->cap - l->len)
        abort(); /* the log is sized for the worst case: never happens */
    memcpy(l->log + l->len, p, n);
    l->len += n;
}

static int fz_begin(void *arg, const char *name, const char *filename)
{
    fz_log *l = arg;
    if (l->in_part || name == NULL)
        abort();
    l->in_part = 1;
    fz_put(l, "B", 1);
    fz_put(l, name, strlen(name) + 1);
    if (filename != NULL)
        fz_put(l, filename, strlen(filename) + 1);
    else
        fz_put(l, "\1", 2);
    return 0;
}

static int fz_data(void *arg, const char *p, size_t n)
{
    fz_log *l = arg;
    if (!l->in_part || n == 0)
        abort();
    /* Pieces are not logged as such: only their bytes, so that any split
     * gives the same log. */
    fz_put(l, p, n);
    l->data += n;
    return 0;
}

static int fz_end(void *arg)
{
    fz_log *l = arg;
    if (!l->in_part)
        abort();
    l->in_part = 0;
    fz_put(l, "E", 1);
    return 0;
}

static const multipart_callbacks fz_cb = {fz_begin, fz_data, fz_end};

/* Parse `body` in pieces: step 0 means whole, otherwise sizes cycle
 * through 1..step driven by `seed`. */
static multipart_rc fz_parse(const char *boundary, const char *body, size_t n, unsigned step,
                             unsigned seed, fz_log *l)
{
    multipart_parser p;
    if (multipart_init(&p, boundary, &fz_cb, l) != 0)
        abort();
    size_t at = 0;
    while (at < n) {
        size_t take = n - at;
        if (step > 0) {
            seed = seed * 1103515245u + 12345u;
            size_t s = 1 + (seed >> 16) % step;
            if (s < take)
                take = s;
        }
        multipart_feed(&p, body + at, take);
        at += take;
    }
    return multipart_finish(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const uint8_t *nl = memchr(data, '\n', size < 256 ? size : 256);
    char ctype[257], boundary[MULTIPART_BOUNDARY_MAX + 1];
    const char *body = in;
    size_t n = size;

    if (nl != NULL) {
        size_t clen = (size_t)(nl - data);
        memcpy(ctype, data, clen);
        ctype[clen] = '\0';
        body = in + clen + 1;
        n = size - clen - 1;
        if (multipart_boundary(ctype, boundary, sizeof(boundary)) != 0)
            memcpy(boundary, "b", 2);
    } else {
        memcpy(boundary, "b", 2);
    }

    /* Worst case: every byte is content, plus 'B', two NULs, "\1" and 'E'
     * for a part per two bytes of body at most. */
    size_t cap = 4 * n + 16;
    fz_log l[3];
    multipart_rc rc[3];
    for (int i = 0; i < 3; i++) {
        memset(&l[i], 0, sizeof(l[i]));
        l[i].cap = cap;
        l[i].log = malloc(cap);
        if (l[i].log == NULL)
            abort();
    }
    unsigned seed = size > 0 ? data[size - 1] : 0;
    rc[0] = fz_parse(boundary, body, n, 0, 0, &l[0]);
    rc[1] = fz_parse(boundary, body, n, 1 + seed % 97, seed, &l[1]);
    rc[2] = fz_parse(boundary, body, n, 1, 0, &l[2]);
    for (int i = 1; i < 3; i++)
        if (rc[i] != rc[0] || l[i].len != l[0].len || memcmp(l[i].log, l[0].log, l[0].len) != 0)
            abort();
    if (l[0].data > n)
        abort();
    /* A completed body has every part ended. */
    if (rc[0] == MULTIPART_OK && l[0].in_part)
        abort();
    for (int i = 0; i < 3; i++)
        free(l[i].log);
    return 0;
}
