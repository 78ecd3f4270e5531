/*
 * reflector — the ceiling for bench/run: a UDP "server" that does no DNS work.
 *
 *   reflector ADDR PORT [THREADS]
 *
 * Each thread owns one SO_REUSEPORT socket bound to ADDR:PORT (IPv4), reads up
 * to 32 datagrams with one recvmmsg(), sets the QR bit of each (byte 2, bit 7:
 * RFC 1035 §4.1.1), and sends them all back to their sources with one
 * sendmmsg(). That is the least any UDP DNS server on this kernel must do per
 * query (one receive, one send, batched), so no real server can use less CPU
 * per query than this: every server's ratio to it says how close it is to the
 * limit of the machine rather than to the other servers.
 *
 * THREADS defaults to the number of online CPUs. Stops on SIGTERM/SIGINT
 * (the default action: nothing to clean up).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BATCH = 32, BUFSZ = 4096 };

static struct sockaddr_in bind_addr;

static int open_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int one = 1;

	if (fd < 0) {
		perror("reflector: socket");
		return -1;
	}
	/* Every thread binds the same address; the kernel spreads flows. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)&bind_addr, sizeof(bind_addr)) != 0) {
		perror("reflector: bind");
		close(fd);
		return -1;
	}
	return fd;
}

static void *worker(void *arg)
{
	int fd = (int)(long)arg;
	/* Thread-local rather than on the stack: 32 × 4 KiB. */
	static __thread unsigned char bufs[BATCH][BUFSZ];
	struct mmsghdr msgs[BATCH];
	struct iovec iovs[BATCH];
	struct sockaddr_in peers[BATCH];

	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iovs[i].iov_base = bufs[i];
			iovs[i].iov_len = BUFSZ;
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iovs[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &peers[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
		}
		/* Block for the first datagram, then take what is queued. */
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("reflector: recvmmsg");
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			if (msgs[i].msg_len >= 3)
				bufs[i][2] |= 0x80; /* QR: this is a response */
			iovs[i].iov_len = msgs[i].msg_len;
		}
		int sent = 0;
		while (sent < n) {
			int k = sendmmsg(fd, msgs + sent, (unsigned)(n - sent), 0);
			if (k < 0) {
				if (errno == EINTR)
					continue;
				break; /* dropped, like any overloaded server would */
			}
			sent += k;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: reflector ADDR PORT [THREADS]\n");
		return 2;
	}
	long nthreads = argc == 4 ? strtol(argv[3], NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	if (nthreads < 1 || nthreads > 256) {
		fprintf(stderr, "reflector: bad thread count\n");
		return 2;
	}
	bind_addr.sin_family = AF_INET;
	bind_addr.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &bind_addr.sin_addr) != 1) {
		fprintf(stderr, "reflector: bad IPv4 address %s\n", argv[1]);
		return 2;
	}
	/* Open every socket before serving, so a bind error is reported at once. */
	int fds[256];
	for (long i = 0; i < nthreads; i++) {
		fds[i] = open_socket();
		if (fds[i] < 0)
			return 3;
	}
	pthread_t tids[256];
	for (long i = 1; i < nthreads; i++)
		pthread_create(&tids[i], NULL, worker, (void *)(long)fds[i]);
	fprintf(stderr, "reflector: ready on %s:%s, %ld threads\n", argv[1], argv[2], nthreads);
	worker((void *)(long)fds[0]);
	return 1;
}
