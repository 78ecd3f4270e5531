/* digest.h — the SHA-256 that sovctl records for a backup archive.
 *
 * An archive is a file or a directory (a duplicity backup set is a
 * directory of volumes, a manifest and signatures). The digest is defined
 * so that an operator can recompute it with coreutils alone:
 *
 *   file:       sha256sum FILE
 *   directory:  cd DIR && find . -type f -printf '%P\0' | LC_ALL=C sort -z \
 *                 | xargs -0r sha256sum | sha256sum
 *
 * i.e. for a directory, the SHA-256 of the text that sha256sum prints for
 * every regular file below it ("<hex>  <relative path>\n"), sorted by path
 * bytewise. Symbolic links are not followed and not counted; a path with a
 * newline or a backslash is refused (sha256sum would escape it). Computed
 * with OpenSSL's EVP interface.
 */
#ifndef SOV_DEPLOYER_DIGEST_H
#define SOV_DEPLOYER_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

/** 64 hex digits and a NUL. */
#define DIGEST_HEX_LEN 65

/**
 * Writes the lowercase hex SHA-256 of the archive at path (file or
 * directory, see above) into hex. Returns SOV_OK; SOV_ENOENT if path does
 * not exist; SOV_EINVAL for a path that is neither file nor directory or a
 * file name that cannot be represented; SOV_EIO on a read error (why says
 * which file and why).
 */
int digest_archive(const char *path, char hex[DIGEST_HEX_LEN], char *why, size_t why_cap)
    __attribute__((nonnull, warn_unused_result));

/** s (NULL allowed) is 64 lowercase hex digits, as digest_archive writes them. */
bool digest_hex_valid(const char *s);

#endif
