/* catalog.h — writing a catalog zone (RFC 9432) of the zones we serve.
 *
 * A zone with "role": "catalog" is written by sovdns before every load:
 *
 *   <catalog>.            0 IN SOA invalid. invalid. SERIAL 3600 600 2147483646 0
 *   <catalog>.            0 IN NS  invalid.
 *   version.<catalog>.    0 IN TXT "2"
 *   <id>.zones.<catalog>. 0 IN PTR <member>.      (one per member)
 *
 * Members: every other zone of the configuration (primaries and
 * secondaries; not other catalogs). <id> is 16 hex digits of SHA-256 of the
 * member's lowercased name (RFC 9432 §4.4.1 asks only for a label unique
 * within the catalog and stable for the member; a hash is both without any
 * state to keep). The catalog is then served, transferred and NOTIFYed as
 * any primary zone: a consumer (Knot "catalog-role: interpret", BIND
 * "catalog-zones") adds and removes member zones from it.
 *
 * SERIAL changes only when the member list does: the file records a
 * digest of the list; an unchanged list keeps the file (and its serial)
 * untouched, a changed one gets max(old serial + 1, Unix time) (RFC 1982).
 * The file is replaced atomically (common/atomicfile.h).
 */
#ifndef SOV_DNS_CATALOG_H
#define SOV_DNS_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/diag.h"
#include "conf/config.h"

/**
 * Brings the file of catalog zone number idx of conf up to date (see
 * above) and gives in *load_path (heap, free() it) the file to load the
 * catalog from: the zone's own file. With dry_run (--check-config,
 * --explain: a check writes nothing in state_dir) the zone's file is only
 * read; when it would change, the new text goes to a temporary file under
 * $TMPDIR (or /tmp) whose path is *load_path, which the caller loads and
 * unlinks. SOV_OK, or SOV_EIO / SOV_ENOMEM with the reason in diag (the
 * file named) and *load_path NULL.
 */
int catalog_write(const config_t *conf, size_t idx, bool dry_run, char **load_path, diag_t *diag)
    __attribute__((nonnull, warn_unused_result));

#endif
