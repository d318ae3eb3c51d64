#include "cli/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_GAP "   "
/* Bytes one escaped cell may take; longer ones are cut. */
#define TABLE_CELL_MAX (16u * 1024 * 1024)

void table_init(table_t *t, size_t ncols, const char *const *headers)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols > TABLE_MAX_COLS ? TABLE_MAX_COLS : ncols;
    for (size_t c = 0; headers != NULL && c < t->ncols; c++)
        t->headers[c] = headers[c];
}

int table_escape(const char *s, size_t n, buf_t *out)
{
    size_t i = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        if (ch >= 0x20 && ch < 0x7f) {
            if (buf_append(out, s + i, 1) != BUF_OK)
                return -1;
            i++;
            continue;
        }
        if (ch >= 0x80) {
            int len = buf_utf8_seq(s + i, n - i);
            /* U+0080..U+009F are C1 controls: escaped like C0 ones. */
            bool c1 = len == 2 && ch == 0xc2 && (unsigned char)s[i + 1] < 0xa0;
            if (len > 0 && !c1) {
                if (buf_append(out, s + i, (size_t)len) != BUF_OK)
                    return -1;
                i += (size_t)len;
                continue;
            }
        }
        if (ch == '\n')
            snprintf(esc, sizeof(esc), "\\n");
        else if (ch == '\t')
            snprintf(esc, sizeof(esc), "\\t");
        else if (ch == '\r')
            snprintf(esc, sizeof(esc), "\\r");
        else
            snprintf(esc, sizeof(esc), "\\x%02x", ch);
        if (buf_puts(out, esc) != BUF_OK)
            return -1;
        i++;
    }
    return 0;
}

size_t table_width(const char *s)
{
    size_t w = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

int table_add(table_t *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap == 0 ? 16 : t->cap * 2;
        char **grown = realloc(t->cells, cap * t->ncols * sizeof(*grown));
        if (grown == NULL)
            return -1;
        t->cells = grown;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = cells[c] != NULL ? cells[c] : "-";
        buf_t b;
        buf_init(&b, TABLE_CELL_MAX);
        /* A cell past the bound keeps what fit: it is cut, not lost. */
        table_escape(s, strlen(s), &b);
        row[c] = b.data != NULL ? b.data : strdup("");
        if (row[c] == NULL) {
            for (size_t k = 0; k < c; k++)
                free(row[k]);
            return -1;
        }
    }
    t->nrows++;
    return 0;
}

/* The bytes of `s` that fit in `width` code points. */
static size_t table_prefix(const char *s, size_t width)
{
    size_t w = 0, i = 0;
    for (; s[i] != '\0'; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (w == width)
                break;
            w++;
        }
    }
    return i;
}

/* Append one cell, cut to the table's max width and padded to `pad`
 * code points (0: no padding). */
static int table_cell(const table_t *t, const char *s, size_t pad, buf_t *out)
{
    size_t w = table_width(s);
    size_t len = strlen(s);
    const char *tail = "";
    if (t->max_width > 3 && w > t->max_width) {
        len = table_prefix(s, t->max_width - 3);
        tail = "...";
        w = t->max_width;
    }
    if (buf_append(out, s, len) != BUF_OK || buf_puts(out, tail) != BUF_OK)
        return -1;
    for (; w < pad; w++)
        if (buf_append(out, " ", 1) != BUF_OK)
            return -1;
    return 0;
}

static size_t table_cut_width(const table_t *t, const char *s)
{
    size_t w = table_width(s);
    return t->max_width > 3 && w > t->max_width ? t->max_width : w;
}

/* One line: `cells` (ncols strings) aligned to `widths`. */
static int table_line(const table_t *t, const char *const *cells, const size_t *widths, buf_t *out)
{
    /* The last column that has text: nothing is padded past it. */
    size_t last = 0;
    for (size_t c = 0; c < t->ncols; c++)
        if (cells[c][0] != '\0')
            last = c;
    for (size_t c = 0; c <= last; c++) {
        if (c > 0 && buf_puts(out, TABLE_GAP) != BUF_OK)
            return -1;
        if (table_cell(t, cells[c], c == last ? 0 : widths[c], out) != 0)
            return -1;
    }
    return buf_append(out, "\n", 1) == BUF_OK ? 0 : -1;
}

int table_render(const table_t *t, buf_t *out)
{
    size_t widths[TABLE_MAX_COLS] = {0};
    bool header = false;
    for (size_t c = 0; c < t->ncols; c++) {
        if (t->headers[c] != NULL) {
            header = true;
            widths[c] = table_width(t->headers[c]);
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = table_cut_width(t, t->cells[r * t->ncols + c]);
            if (w > widths[c])
                widths[c] = w;
        }
    }
    if (header) {
        const char *h[TABLE_MAX_COLS];
        for (size_t c = 0; c < t->ncols; c++)
            h[c] = t->headers[c] != NULL ? t->headers[c] : "";
        if (table_line(t, h, widths, out) != 0)
            return -1;
    }
    for (size_t r = 0; r < t->nrows; r++)
        if (table_line(t, (const char *const *)(t->cells + r * t->ncols), widths, out) != 0)
            return -1;
    return 0;
}

void table_free(table_t *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

void table_bytes(long long n, char *out, size_t outlen)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (n < 1024) {
        snprintf(out, outlen, "%lld B", n);
        return;
    }
    double v = (double)n / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    snprintf(out, outlen, "%.1f %s", v, units[u]);
}

void table_ms(long long ms, char *out, size_t outlen)
{
    if (ms < 1000)
        snprintf(out, outlen, "%lld ms", ms);
    else if (ms < 60000)
        snprintf(out, outlen, "%.2f s", (double)ms / 1000);
    else
        snprintf(out, outlen, "%lldm%02llds", ms / 60000, (ms / 1000) % 60);
}

int table_json_cell(json_object *v, buf_t *out)
{
    buf_rc rc;
    if (v == NULL)
        rc = buf_puts(out, "-");
    else if (json_object_is_type(v, json_type_string))
        rc = buf_append(out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    else
        rc = buf_puts(out, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    return rc == BUF_OK ? 0 : -1;
}
