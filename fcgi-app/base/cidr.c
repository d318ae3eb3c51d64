#include "base/cidr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* One parsed entry: 16 bytes (IPv4 as mapped IPv6) and a prefix length
 * over those 128 bits. */
typedef struct {
    unsigned char a[16];
    int bits;
} cidr_net;

/* Parse an address into its 16-byte mapped form; `*v4` says which kind. */
static int cidr_addr(const char *s, unsigned char out[16], bool *v4)
{
    struct in_addr a4;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        *v4 = true;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        *v4 = memcmp(out, mapped, 12) == 0;
        return 0;
    }
    return -1;
}

/* Parse one entry of `len` bytes. */
static int cidr_parse(const char *p, size_t len, cidr_net *n)
{
    char text[64];
    bool v4;
    if (len == 0 || len >= sizeof(text))
        return -1;
    memcpy(text, p, len);
    text[len] = '\0';
    char *slash = strchr(text, '/');
    if (slash != NULL)
        *slash = '\0';
    if (cidr_addr(text, n->a, &v4) != 0)
        return -1;
    int max = v4 ? 32 : 128;
    long bits = max;
    if (slash != NULL) {
        char *end;
        if (slash[1] < '0' || slash[1] > '9')
            return -1;
        bits = strtol(slash + 1, &end, 10);
        if (*end != '\0' || bits > max)
            return -1;
    }
    n->bits = (int)bits + (v4 ? 96 : 0);
    return 0;
}

static bool cidr_in(const cidr_net *n, const unsigned char a[16])
{
    int full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(n->a, a, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (n->a[full] & mask) == (a[full] & mask);
}

/* Call `fn` on each entry of `list` until it returns non-zero; that value,
 * or 0. */
static int cidr_each(const char *list, int (*fn)(const char *p, size_t len, void *arg), void *arg)
{
    for (const char *p = list; *p != '\0';) {
        size_t sep = strspn(p, ", ");
        p += sep;
        size_t len = strcspn(p, ", ");
        if (len == 0)
            continue;
        int rc = fn(p, len, arg);
        if (rc != 0)
            return rc;
        p += len;
    }
    return 0;
}

static int cidr_check_one(const char *p, size_t len, void *arg)
{
    cidr_net n;
    err_t *e = arg;
    if (cidr_parse(p, len, &n) == 0)
        return 0;
    return err_set(e, ERR_INVALID, "invalid_config", 0,
                   "\"%.*s\" is not an address or an address/prefix", (int)(len > 64 ? 64 : len),
                   p);
}

int cidr_check(const char *list, err_t *e)
{
    return cidr_each(list, cidr_check_one, e);
}

typedef struct {
    unsigned char a[16];
} cidr_probe;

static int cidr_match_one(const char *p, size_t len, void *arg)
{
    cidr_net n;
    cidr_probe *probe = arg;
    return cidr_parse(p, len, &n) == 0 && cidr_in(&n, probe->a);
}

bool cidr_allows(const char *list, const char *addr)
{
    cidr_probe probe;
    bool v4;
    if (!cidr_any(list))
        return true;
    if (addr == NULL || cidr_addr(addr, probe.a, &v4) != 0)
        return false;
    return cidr_each(list, cidr_match_one, &probe) == 1;
}

bool cidr_any(const char *list)
{
    return strspn(list, ", ") != strlen(list);
}

int cidr_key(const char *addr, unsigned char out[16])
{
    bool v4;
    if (addr == NULL || cidr_addr(addr, out, &v4) != 0)
        return -1;
    if (!v4)
        memset(out + 8, 0, 8);
    return 0;
}
