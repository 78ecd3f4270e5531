/* path.h — file names given in a configuration file.
 *
 * A relative path in a configuration file (a zone file, a token file, a CA
 * bundle, a hook program) means "next to this configuration file", not
 * "relative to wherever the daemon was started". Every configuration
 * reader resolves them with the functions below, so they agree.
 */
#ifndef SOV_COMMON_PATH_H
#define SOV_COMMON_PATH_H

#include <sys/types.h>

/**
 * The directory part of file: "/etc/sovdns/sovdns.json" -> "/etc/sovdns",
 * "/x.json" -> "/", "x.json" -> "" (no directory part). A new string to
 * free(); NULL on ENOMEM.
 */
char *path_dir(const char *file) __attribute__((nonnull, warn_unused_result));

/**
 * path as written in the configuration file `file`: path itself when it is
 * absolute, when file is NULL (command-line mode) or when file has no
 * directory part; else file's directory, "/", path
 * ("/etc/sovdns/sovdns.json", "tokens/a" -> "/etc/sovdns/tokens/a").
 * A new string to free(); NULL on ENOMEM.
 */
char *path_beside(const char *file, const char *path)
    __attribute__((nonnull(2), warn_unused_result));

/**
 * Creates the directories of file's directory part that do not exist yet
 * (as mkdir -p), each with `mode` (before umask): for files sovdns keeps
 * under state_dir. SOV_OK (also when they all exist) or SOV_EIO with errno
 * set.
 */
int path_make_parents(const char *file, mode_t mode) __attribute__((nonnull));

#endif
