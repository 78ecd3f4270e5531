/* atomicfile.h — crash-safe replacement of small state files.
 *
 * A reader of `path` sees either the old content or the new one, never a
 * mix, even across a power cut: the new content is written to a temporary
 * file in the same directory (same file system, so rename(2) is atomic),
 * fsync'ed, renamed over `path`, and then the directory itself is fsync'ed
 * so that the rename is durable (POSIX leaves a rename in the page cache
 * until the directory is synced; ext4 and XFS both need it).
 *
 * With ATOMICFILE_KEEP_PREV the content being replaced is kept beside the
 * file as "<path>.prev" (a hard link made before the rename, so it costs no
 * copy), which lets an operator recover by hand if the newest copy is bad.
 *
 * These functions do no locking: one writer per path at a time (the caller
 * serialises). All are safe to call from any thread.
 */
#ifndef SOV_COMMON_ATOMICFILE_H
#define SOV_COMMON_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/** Keep the replaced content as "<path>.prev". */
#define ATOMICFILE_KEEP_PREV 0x1u

/** Suffix of the previous good copy. */
#define ATOMICFILE_PREV_SUFFIX ".prev"

/**
 * Replaces the file at path with len bytes of data, durably (see above).
 * mode is applied to the new file (e.g. 0640). flags: ATOMICFILE_KEEP_PREV.
 *
 * Returns SOV_OK, SOV_EINVAL (path too long or without a file name) or
 * SOV_EIO with errno saying why (ENOSPC, EROFS, EACCES, ...). On failure
 * the file at path is unchanged and no temporary file is left behind.
 */
int atomicfile_write(const char *path, const void *data, size_t len, mode_t mode, unsigned flags)
    __attribute__((nonnull(1), warn_unused_result));

/**
 * Reads the whole file at path into a new NUL-terminated buffer (*out,
 * freed by the caller with free(); *out_len excludes the NUL).
 * Returns SOV_OK, SOV_ENOENT (no such file), SOV_EINVAL (not a regular
 * file: a directory, a FIFO, a device), SOV_ESPACE (larger than max_bytes),
 * SOV_ENOMEM, or SOV_EIO with errno set (ENOENT and EIO keep errno too).
 */
int atomicfile_read(const char *path, size_t max_bytes, char **out, size_t *out_len)
    __attribute__((nonnull, warn_unused_result));

/**
 * Test seam: when a hook is set, atomicfile_write() first calls
 * hook(ctx, path); a non-zero return is taken as an errno value and the
 * write fails with SOV_EIO before touching the disk. Pass NULL to remove.
 * Set it before any thread writes (it is not synchronised). Not for
 * production use; the daemon never sets it.
 */
void atomicfile_set_fault_hook(int (*hook)(void *ctx, const char *path), void *ctx);

#endif
