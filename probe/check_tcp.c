/* check_tcp.c — the tcp check, and the connect step that http and https share.
 *
 * A non-blocking connect() and one event waiting for the socket to become
 * writable, so the error reported is the kernel's own ("refused the
 * connection") and a silent site costs one idle socket until the timeout.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"
#include "probe/check.h"

/* connect() finished (or failed): continue by kind. */
static void connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe_inst *in = arg;
	int err = 0;
	socklen_t elen = sizeof(err);
	(void)what;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
		err = errno;
	if (err != 0) {
		if (probe_errno_text(err) != NULL)
			probe_inst_result(in, false, "%s", probe_errno_text(err));
		else
			probe_inst_result(in, false, "could not be connected to (%s)",
					  strerror(err));
		return;
	}
	event_free(in->io);
	in->io = NULL;
	in->connected(in, fd);
}

void probe_connect_start(struct probe_inst *in)
{
	const struct sockaddr *sa = (const struct sockaddr *)&in->addr.ss;

	in->step = STEP_CONNECT;
	in->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (in->fd < 0) {
		probe_inst_fail_soon(in, "could not be probed (socket: %s)", strerror(errno));
		return;
	}
	if (connect(in->fd, sa, in->addr.len) != 0 && errno != EINPROGRESS) {
		int err = errno;
		if (probe_errno_text(err) != NULL)
			probe_inst_fail_soon(in, "%s", probe_errno_text(err));
		else
			probe_inst_fail_soon(in, "could not be connected to (%s)", strerror(err));
		return;
	}
	/* Writable means connect() finished, successfully or not (connect(2)). */
	in->io = event_new(in->base, in->fd, EV_WRITE, connect_cb, in);
	if (in->io == NULL || event_add(in->io, NULL) != 0)
		probe_inst_fail_soon(in, "could not be probed (out of memory)");
}

static void tcp_connected(struct probe_inst *in, int fd)
{
	(void)fd;
	probe_inst_result(in, true, "accepted the connection in %u ms", probe_inst_elapsed_ms(in));
}

static int tcp_prepare(struct probe_inst *in)
{
	char ip[64];
	addr_format_ip((const struct sockaddr *)&in->addr.ss, ip, sizeof(ip));
	bool v6 = in->addr.ss.ss_family == AF_INET6;
	probe_text_fmt(in->desc, sizeof(in->desc), "tcp %s%s%s:%u", v6 ? "[" : "", ip,
		       v6 ? "]" : "", (unsigned)addr_port(&in->addr));
	in->connected = tcp_connected;
	return SOV_OK;
}

const struct probe_kind probe_kind_tcp = {
    .prepare = tcp_prepare,
    .start = probe_connect_start,
};
