/*
 * udpfwd.c: the baseline of tests/bench/relay: the least a relay can do.
 *
 *   udpfwd CALLS BASE_PORT
 *
 * For each call it binds two UDP sockets on 127.0.0.1 (ports BASE + 4i and
 * BASE + 4i + 2, as a media relay's even RTP ports would be), latches each
 * socket to the source of its first packet, and forwards every datagram
 * that arrives on one socket out of the other, to that one's latched
 * address: one epoll loop, recvmmsg and sendmmsg, no parsing, no rewriting.
 * It prints "A B" port pairs, one line per call, then "ready", and runs
 * until SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define PKT 2048
#define MAX_CALLS 20000

struct side {
	int fd;
	struct side *peer;
	bool latched;
	struct sockaddr_in to; /* where what arrives on peer goes */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int bind_port(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		fprintf(stderr, "udpfwd: port %u: %s\n", port, strerror(errno));
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: udpfwd CALLS BASE_PORT\n");
		return 2;
	}
	long calls = strtol(argv[1], NULL, 10), base = strtol(argv[2], NULL, 10);
	if (calls < 1 || calls > MAX_CALLS || base < 1024 || base + 4 * calls > 65535) {
		fprintf(stderr, "udpfwd: bad CALLS or BASE_PORT\n");
		return 2;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct side *s = calloc((size_t)calls * 2, sizeof *s);
	if (ep < 0 || !s)
		return 1;
	for (long i = 0; i < calls; i++) {
		struct side *a = &s[2 * i], *b = &s[2 * i + 1];
		a->fd = bind_port((uint16_t)(base + 4 * i));
		b->fd = bind_port((uint16_t)(base + 4 * i + 2));
		a->peer = b;
		b->peer = a;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = a };
		epoll_ctl(ep, EPOLL_CTL_ADD, a->fd, &ev);
		ev.data.ptr = b;
		epoll_ctl(ep, EPOLL_CTL_ADD, b->fd, &ev);
		printf("%ld %ld\n", base + 4 * i, base + 4 * i + 2);
	}
	printf("ready\n");
	fflush(stdout);

	static uint8_t buf[BATCH][PKT];
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec iov[BATCH], oiov[BATCH];
	struct sockaddr_in src[BATCH];
	struct epoll_event evs[256];
	while (!stop) {
		int n = epoll_wait(ep, evs, 256, 500);
		for (int e = 0; e < n; e++) {
			struct side *x = evs[e].data.ptr;
			for (int i = 0; i < BATCH; i++) {
				iov[i] = (struct iovec){ buf[i], PKT };
				in[i].msg_hdr = (struct msghdr){ .msg_name = &src[i],
								 .msg_namelen = sizeof src[i],
								 .msg_iov = &iov[i], .msg_iovlen = 1 };
			}
			int got = recvmmsg(x->fd, in, BATCH, MSG_DONTWAIT, NULL);
			if (got <= 0)
				continue;
			if (!x->latched) {
				x->latched = true;
				x->to = src[0];
			}
			struct side *y = x->peer;
			if (!y->latched)
				continue;
			for (int i = 0; i < got; i++) {
				oiov[i] = (struct iovec){ buf[i], in[i].msg_len };
				out[i].msg_hdr = (struct msghdr){ .msg_name = &y->to,
								  .msg_namelen = sizeof y->to,
								  .msg_iov = &oiov[i], .msg_iovlen = 1 };
			}
			for (int off = 0, tries = 0; off < got && tries < BATCH; tries++) {
				int sent = sendmmsg(y->fd, out + off, (unsigned)(got - off), MSG_DONTWAIT);
				off += sent > 0 ? sent : 1;
			}
		}
	}
	for (long i = 0; i < 2 * calls; i++)
		close(s[i].fd);
	free(s);
	close(ep);
	return 0;
}
