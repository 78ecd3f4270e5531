/* secretfile.h — reading a secret kept in a file of its own.
 *
 * API bearer tokens (api.tokens[].file), sovctl's token files
 * (instances[].token_file) and, later, TSIG key secrets are all kept the
 * same way: one file per secret, the secret on its first line. One reader,
 * so the rules and the messages are the same everywhere (docs/api.md,
 * "Tokens").
 */
#ifndef SOV_COMMON_SECRETFILE_H
#define SOV_COMMON_SECRETFILE_H

#include <stddef.h>

/**
 * Reads the secret in the file at path: its first line, with spaces and
 * tabs around it and a trailing CR removed. Symbolic links are followed;
 * the file actually opened is checked. Refused:
 *   - a file that is not a regular file;
 *   - a file "other" users may read or write (mode & 006): a secret others
 *     can read is not one (the message says to run chmod o-rwx);
 *   - a secret with spaces or control characters inside;
 *   - anything but blank lines after the first line (a base64 secret
 *     wrapped over lines, as `openssl rand -base64 64` writes it, would
 *     otherwise be cut to its first line);
 *   - a secret shorter than min_len or longer than max_len bytes (the
 *     message adds hint, e.g. "openssl rand -hex 32", when not NULL).
 * `what` names the secret in messages ("token", "TSIG secret").
 *
 * out must have room for max_len + 1 bytes (cap > max_len). Returns SOV_OK
 * with the secret NUL-terminated in out; else SOV_EIO (cannot open or read
 * the file) or SOV_EINVAL (refused), with a sentence naming the file in why
 * (why_cap bytes, NUL-terminated) and out[0] == '\0'. The bytes read are
 * wiped from the stack before returning.
 */
int secretfile_read(const char *path, const char *what, size_t min_len, size_t max_len,
		    const char *hint, char *out, size_t cap, char *why, size_t why_cap)
    __attribute__((nonnull(1, 2, 6, 8), warn_unused_result));

#endif
