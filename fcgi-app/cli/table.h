/*
 * table: the client's human output. Rows of text cells rendered in aligned
 * columns, and the small formatters for what goes in them (sizes,
 * durations, JSON values).
 *
 * Cells come from the platform, and through it from functions and their
 * users, so they are made safe for a terminal when added: control
 * characters become \n, \t, \r or \xNN, and bytes that are not UTF-8
 * become \xNN. A table can then never be broken, nor a terminal steered,
 * by what a record holds. Widths count code points, so UTF-8 text aligns.
 */
#ifndef MINILAMBDA_CLI_TABLE_H
#define MINILAMBDA_CLI_TABLE_H

#include <json-c/json.h>
#include <stddef.h>

#include "base/buf.h"

#define TABLE_MAX_COLS 8
/* Bytes one rendered table may take. */
#define TABLE_MAX_BYTES (256u * 1024 * 1024)

typedef struct {
    size_t ncols;
    const char *headers[TABLE_MAX_COLS]; /* borrowed; all NULL: no header line */
    size_t max_width;                    /* cells wider are cut with "..."; 0: never */
    char **cells;                        /* owned: nrows * ncols escaped strings */
    size_t nrows, cap;
} table_t;

/*
 * Prepare a table of `ncols` columns (1..TABLE_MAX_COLS) named by `headers`
 * (borrowed, `ncols` strings; NULL for a table without a header line, such
 * as the field/value view of one record). Allocates nothing.
 */
void table_init(table_t *t, size_t ncols, const char *const *headers);

/* Add a row of `ncols` cells, each escaped and copied (a NULL cell shows
 * as "-"). Returns 0, or -1 when out of memory (the table is unchanged). */
int table_add(table_t *t, const char *const *cells);

/*
 * Append the table to `out`: the header line (if any), then one line per
 * row, columns separated by three spaces, padded to the widest cell of each
 * column, the last one unpadded (no trailing blanks). Returns 0, or -1 when
 * `out` is full or out of memory.
 */
int table_render(const table_t *t, buf_t *out);

/* Free the cells; the table may be reused after table_init. */
void table_free(table_t *t);

/* Append `s` to `out` made safe for a terminal, as cells are. Returns
 * 0, or -1 when `out` is full. */
int table_escape(const char *s, size_t n, buf_t *out);

/* The display width of UTF-8 text `s`: its code points. */
size_t table_width(const char *s);

/* "512 B", "2.0 KiB", "1.9 MiB", "3.2 GiB" (binary units) into `out`. */
void table_bytes(long long n, char *out, size_t outlen);

/* "238 ms", "1.28 s", "2m05s" into `out`. */
void table_ms(long long ms, char *out, size_t outlen);

/* A JSON value as a cell into `out`: a string as it is, null or absent as
 * "-", anything else as compact JSON. Returns 0, or -1 when `out` is
 * full. */
int table_json_cell(json_object *v, buf_t *out);

#endif
