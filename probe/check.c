/* check.c — what the check kinds and the engine share: result texts, the
 * instance's timer and sockets, the random generator. See check.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include <event2/bufferevent.h>

#include "common/clock.h"
#include "probe/check.h"

uint64_t probe_rng_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

void probe_text_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

const char *probe_errno_text(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return "refused the connection";
	case ECONNRESET:
		return "reset the connection";
	case ETIMEDOUT:
		return "did not answer the connection (timed out in the kernel)";
	case EHOSTUNREACH:
		return "is unreachable (no route to host)";
	case ENETUNREACH:
		return "is unreachable (network unreachable)";
	case EPIPE:
		return "closed the connection";
	default:
		return NULL;
	}
}

void probe_inst_timer_arm(struct probe_inst *in, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(in->timer, &tv);
}

void probe_inst_close(struct probe_inst *in)
{
	if (in->bev != NULL) {
		bufferevent_free(in->bev); /* closes fd, frees SSL (BEV_OPT_CLOSE_ON_FREE) */
		in->bev = NULL;
		in->ssl = NULL;
		in->fd = -1;
	}
	if (in->io != NULL) {
		event_free(in->io);
		in->io = NULL;
	}
	if (in->fd >= 0) {
		close(in->fd);
		in->fd = -1;
	}
}

uint32_t probe_inst_elapsed_ms(const struct probe_inst *in)
{
	int64_t ms = clock_mono_ms() - in->started_ms;
	return ms < 0 ? 0 : (uint32_t)ms;
}

void probe_inst_result(struct probe_inst *in, bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(in->text, sizeof(in->text), fmt, ap);
	va_end(ap);
	in->done(in, ok);
}

void probe_inst_fail_soon(struct probe_inst *in, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(in->text, sizeof(in->text), fmt, ap);
	va_end(ap);
	in->pending_fail = true;
	probe_inst_timer_arm(in, 0);
}
