/* progress.h — what sovctl tells the operator while it works (on stderr).
 *
 * Steps are printed as lines ("[dc-eu backup] draining on ns1, ns2").
 * Waits show a live status line on a terminal ("waiting until drained:
 * 27 s left"), redrawn in place; without a terminal (cron, CI logs) the
 * same status is printed as a line at most every PROGRESS_PLAIN_EVERY_S
 * seconds, so logs stay readable. stdout is kept for results (--json).
 */
#ifndef SOV_DEPLOYER_PROGRESS_H
#define SOV_DEPLOYER_PROGRESS_H

#include <stdbool.h>

/* Without a terminal, a wait prints its status this often. */
#define PROGRESS_PLAIN_EVERY_S 10

/** Sets whether stderr is a terminal (live line, colours) and the prefix ("dc-eu backup"). */
void progress_init(bool tty);
/** Sets the prefix of step lines ("" for none). */
void progress_prefix(const char *prefix);

/** A step: one line. */
void progress_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** A warning line ("warning: ..."), highlighted on a terminal. */
void progress_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** An error line ("error: ..."), highlighted on a terminal. */
void progress_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** The live status of a wait (see above). */
void progress_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Ends a live status line (before printing anything else). */
void progress_clear(void);

/** Wraps text in a colour escape on a terminal: "red", "yellow", "green", "bold". */
const char *progress_color(const char *name);
/** The reset escape on a terminal, "" otherwise. */
const char *progress_reset(void);

#endif
