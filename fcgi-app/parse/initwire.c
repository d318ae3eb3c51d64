#include "parse/initwire.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* Whether `s` (`len` bytes) is a nonce: 1 to INITWIRE_NONCE_MAX letters
 * and digits. */
static int initwire_nonce_ok(const char *s, size_t len)
{
    if (len < 1 || len > INITWIRE_NONCE_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]))
            return 0;
    return 1;
}

int initwire_request_head(char *out, size_t outlen, size_t n_env, uint64_t event_len,
                          const char *nonce)
{
    if (!initwire_nonce_ok(nonce, strlen(nonce)))
        return -1;
    int n = snprintf(out, outlen, INITWIRE_MAGIC "%zu %" PRIu64 " %s\n", n_env, event_len, nonce);
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

/* A decimal number at *s of at most `max`, digits only (strtoull alone
 * would take a sign or leading blanks); *s moves past it. */
static int initwire_number(const char **s, uint64_t max, uint64_t *out, err_t *e)
{
    if (!isdigit((unsigned char)**s))
        return err_set(e, ERR_INVALID, "malformed_request", 0, "a number was expected at \"%.20s\"",
                       *s);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(*s, &end, 10);
    if (errno == ERANGE || v > max)
        return err_set(e, ERR_INVALID, "malformed_request", 0, "number %.24s is over %" PRIu64, *s,
                       max);
    *out = v;
    *s = end;
    return 0;
}

int initwire_request_parse(const char *line, size_t max_env, uint64_t max_event,
                           initwire_request *q, err_t *e)
{
    uint64_t n_env;
    if (strncmp(line, INITWIRE_MAGIC, strlen(INITWIRE_MAGIC)) != 0)
        return err_set(e, ERR_INVALID, "malformed_request", 0,
                       "a request must start with \"" INITWIRE_MAGIC "\", not \"%.40s\"", line);
    const char *s = line + strlen(INITWIRE_MAGIC);
    if (initwire_number(&s, max_env, &n_env, e) != 0)
        return -1;
    if (*s++ != ' ')
        return err_set(e, ERR_INVALID, "malformed_request", 0,
                       "one space must follow the number of env lines");
    if (initwire_number(&s, max_event, &q->event_len, e) != 0)
        return -1;
    if (*s++ != ' ')
        return err_set(e, ERR_INVALID, "malformed_request", 0,
                       "one space and the call's nonce must follow the event length");
    size_t nl = strlen(s);
    if (!initwire_nonce_ok(s, nl))
        return err_set(e, ERR_INVALID, "malformed_request", 0,
                       "the nonce must be 1 to %d letters and digits, not \"%.40s\"",
                       INITWIRE_NONCE_MAX, s);
    memcpy(q->nonce, s, nl + 1);
    q->n_env = (size_t)n_env;
    return 0;
}

int initwire_frame_head(char *out, size_t outlen, char kind, const char *nonce, uint64_t num)
{
    int n = snprintf(out, outlen, "%c %s %" PRIu64 "\n", kind, nonce, num);
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

initwire_frame_rc initwire_frame_parse(const char *line, size_t len, const char *nonce, char *kind,
                                       uint64_t *num)
{
    size_t nl = strlen(nonce);
    char digits[24];
    char k = len > 0 ? line[0] : '\0';
    if (len < 3 || line[1] != ' ' || k == '\0' || strchr("oexnfi", k) == NULL)
        return INITWIRE_NOT_A_FRAME;
    if (len < nl + 3 || memcmp(line + 2, nonce, nl) != 0 || line[2 + nl] != ' ')
        return INITWIRE_OTHER_NONCE;
    size_t dl = len - (3 + nl);
    if (dl < 1 || dl >= sizeof(digits))
        return INITWIRE_BAD_NUMBER;
    memcpy(digits, line + 3 + nl, dl);
    digits[dl] = '\0';
    const char *s = digits;
    uint64_t v;
    err_t why; /* the rc says it: a bad number */
    uint64_t max = k == 'x'               ? 255
                   : k == 'n'             ? 0
                   : k == 'f' || k == 'i' ? INITWIRE_ERROR_TYPE_MAX
                                          : INITWIRE_CHUNK_MAX;
    if (initwire_number(&s, max, &v, &why) != 0 || *s != '\0' || ((k == 'o' || k == 'e') && v == 0))
        return INITWIRE_BAD_NUMBER;
    *kind = k;
    *num = v;
    return INITWIRE_FRAME_OK;
}

int initwire_write_all(int fd, struct iovec *iov, int n, err_t *e)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return err_set(e, ERR_INTERNAL, NULL, errno, "writev(%d) failed: %s", fd,
                           strerror(errno));
        size_t done = (size_t)w;
        while (n > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}
