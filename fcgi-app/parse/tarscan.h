/*
 * tarscan: watches a `docker save` upload as it streams to the engine and
 * says "stop" once the image would unpack to more than a limit, so that a
 * small upload whose layers inflate to gigabytes (a gzip bomb) is cut off
 * before the engine's disk fills. Memory is fixed whatever the input: two
 * zlib inflate states with their 32 KiB windows, one tar header, two
 * 16 KiB scratch buffers (under 120 KiB in all); nothing grows with the
 * upload.
 *
 * What is counted, the "unpacked" size, is what the engine writes when it
 * loads the image: the upload may be a gzip stream (several concatenated
 * members are one stream), which is inflated first; in the tar inside,
 * every member with content counts its size, except that a member whose
 * content is gzip counts its inflated size (a compressed layer: the engine
 * inflates it). Content compressed otherwise (bzip2, xz, zstd), at the top
 * or in a member, is refused: the engine would inflate it and we cannot
 * count it.
 *
 * The scanner reads the tar as the engine's reader (Go's archive/tar)
 * does, so that both agree where every member starts: a member the engine
 * sees is never skipped here as another member's content. What the two
 * could read differently is refused as invalid rather than guessed:
 * sparse members, a size in a global pax header, a legacy regular file
 * (typeflag NUL) named like a directory. GNU long names and pax headers
 * are metadata, not counted; like the engine, at most TARSCAN_META_MAX
 * bytes each. After the end-of-archive blocks only zero bytes may follow.
 *
 * A scanner is not thread-safe; give each upload its own.
 */
#ifndef MINILAMBDA_TARSCAN_H
#define MINILAMBDA_TARSCAN_H

#include <stddef.h>

#include "base/err.h"

/* The largest pax header or GNU long name content (the engine's limit). */
#define TARSCAN_META_MAX (1024 * 1024)

typedef struct tarscan tarscan_t;

/*
 * A scanner for one upload that refuses more than `max_unpacked` bytes of
 * unpacked content. Returns it, owned by the caller (tarscan_free), or
 * NULL when memory ran out.
 */
tarscan_t *tarscan_new(unsigned long long max_unpacked);

/*
 * Scan the next `n` bytes of the upload (in order; pieces of any size, 0
 * included, give the same verdict and count). Returns 0, or -1 with `e`
 * filled in:
 *   ERR_TOO_LARGE "image_too_large": the unpacked total passed the limit;
 *   ERR_INVALID "invalid_image": not a tar (a bad header checksum or size
 *     field, a corrupt gzip stream, a malformed pax record, data after the
 *     end of the archive) or a tar the engine could read differently;
 *   ERR_INVALID "unsupported_compression": the upload or a member is
 *     compressed with bzip2, xz or zstd;
 *   ERR_NOMEM: zlib could not allocate its window.
 * The message names the member concerned. A failure is final: every later
 * tarscan_feed and tarscan_finish returns -1 with the same error. Must not
 * be called after tarscan_finish.
 */
int tarscan_feed(tarscan_t *t, const void *p, size_t n, err_t *e);

/*
 * The upload ended. Returns 0 when it ended between members (with or
 * without the end-of-archive blocks, as the engine accepts; an empty
 * upload included), or -1 with `e` filled in: ERR_INVALID "invalid_image"
 * when it ended inside a header, a member's content or padding, or the
 * upload's gzip stream; or the earlier failure.
 */
int tarscan_finish(tarscan_t *t, err_t *e);

/* Unpacked bytes counted so far: the whole size of each plain member
 * once its first bytes (enough to tell it is not compressed) are in, and
 * the bytes inflated so far of gzip members. Past the limit, the total
 * that passed it. */
unsigned long long tarscan_unpacked(const tarscan_t *t);

/* Free `t` and everything it holds; NULL is ignored. */
void tarscan_free(tarscan_t *t);

#endif
