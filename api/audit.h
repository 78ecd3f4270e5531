/* audit.h — the append-only audit log of the HTTP API.
 *
 * One JSON object per line, for every authenticated request that asks for
 * a change (POST), whether it was granted or refused:
 *   {"time":"2026-11-30T07:24:00Z","who":"deploy-east","from":"192.0.2.7",
 *    "method":"POST","path":"/v1/datacenters/dc-east/drain",
 *    "request":{"reason":"deploy 1.4.2","lease_s":1800},"status":200}
 * plus "error": "<code>" when refused. Each line is one write(2) on an
 * O_APPEND descriptor followed by fdatasync, so concurrent requests never
 * interleave and a granted change is on disk when the client hears of it.
 * Requests without a valid token are not logged here (they change
 * nothing, and logging them would let anyone fill the disk); they are
 * counted in the metrics. Thread-safe.
 */
#ifndef SOV_API_AUDIT_H
#define SOV_API_AUDIT_H

#include <jansson.h>
#include <stdint.h>

typedef struct audit audit_t;

/**
 * Opens (creating with mode 0640) the log at path for appending.
 * SOV_OK, or SOV_EIO with a message naming the file in why.
 */
int audit_open(const char *path, audit_t **out, char *why, size_t cap)
    __attribute__((nonnull, warn_unused_result));
void audit_close(audit_t *a);

/**
 * Appends one line. request may be NULL; error is NULL when granted.
 * Returns SOV_OK or SOV_EIO (also counted; the request itself is not
 * undone — the change is already durable in the state files).
 */
int audit_write(audit_t *a, const char *who, const char *from, const char *method, const char *path,
		const json_t *request, int status, const char *error)
    __attribute__((nonnull(1, 2, 3, 4, 5)));

/** Lines that could not be written since start. */
uint64_t audit_failures(audit_t *a) __attribute__((nonnull));

#endif
