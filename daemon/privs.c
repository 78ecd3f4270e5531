/* privs.c — dropping root once every socket is bound. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "daemon/daemon_int.h"

/*
 * Least privilege: once every socket is bound (port 53 needs root) and the
 * state directory is open, become `user` for good — its groups, then its
 * gid, then its uid, and check that root cannot be regained. glibc applies
 * setuid/setgid to every thread of the process.
 */
int daemon_drop_privileges(const char *user, diag_t *diag)
{
	if (user == NULL)
		return SOV_OK;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		diag_add(diag, NULL, 0, 0, "\"user\": no such account \"%s\"", user);
		return SOV_EINVAL;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return SOV_OK;
		diag_add(diag, NULL, 0, 0,
			 "\"user\": cannot become %s: not started as root (running as uid %u)",
			 user, (unsigned)geteuid());
		return SOV_ESYS;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		diag_add(diag, NULL, 0, 0, "\"user\": cannot become %s: %s", user, strerror(errno));
		return SOV_ESYS;
	}
	if (setuid(0) == 0) {
		diag_add(diag, NULL, 0, 0, "\"user\": root could be regained after becoming %s",
			 user);
		return SOV_ESYS;
	}
	log_info("main", "running as %s (uid %u, gid %u)", user, (unsigned)pw->pw_uid,
		 (unsigned)pw->pw_gid);
	return SOV_OK;
}
