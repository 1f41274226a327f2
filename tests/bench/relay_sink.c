/*
 * relay_sink.c: the listening ear of tests/bench/relay_sip, which makes
 * SIPp's pcap playback cost the relay what real phones would.
 *
 * SIPp never reads the RTP sent back to its media port, so every packet
 * the relay sends there would meet a full socket buffer and be dropped,
 * which costs the sender less than a delivery to a phone that listens. The
 * sink takes a duplicate of SIPp's media sockets (pidfd_getfd: root, or
 * ptrace rights over SIPp) and reads them, so the relay's packets are
 * delivered as to real phones, and counts them.
 *
 * SIPp also plays each pcap through a raw IPPROTO_UDP socket of its own,
 * bound to the media address, and a raw socket gets a copy of every UDP
 * datagram to its address: with one per call and direction, each packet
 * the relay sends to the phones would be copied hundreds of times, at the
 * sender's expense, into queues nobody reads. So the sink also looks at
 * SIPp's sockets every DEAF_MS and connects each new raw one to an address
 * nothing sends from (127.0.0.254): a connected raw socket takes only
 * datagrams from its peer, and SIPp's sendto() names its destination.
 *
 *   relay_sink PID:PORT...
 *
 * For each PID:PORT it finds the UDP socket of process PID bound to PORT.
 * It prints "ready" once it holds them all, then reads until SIGTERM or
 * SIGINT; on SIGUSR1 it prints one line:
 *   t_ns=<monotonic> pkts=<RTP packets so far> bytes=<their bytes> rtcp=<RTCP packets> deafened=<raw sockets>
 * (a datagram whose second byte is 200..204 is RTCP, anything else RTP).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKS 16
#define MAX_FDS 100000 /* fds looked at per process */
#define BATCH 64
#define BUF_BYTES (16 << 20)
#define DEAF_MS 50
#define SEEN_SLOTS 65536 /* socket inodes looked at (power of 2) */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint16_t sock_port(int fd)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof a;
	int type = 0;
	socklen_t tl = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_DGRAM)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return 0;
	if (a.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&a)->sin_port);
	if (a.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
	return 0;
}

/* ------------------------------------------------------------ raw sockets */

/* Socket inodes already looked at: open addressing, emptied when 3/4 full
 * (looking at a socket again only connects a raw one again). */
static uint64_t seen[SEEN_SLOTS];
static unsigned nseen;

static bool seen_add(uint64_t ino)
{
	if (nseen >= SEEN_SLOTS / 4 * 3) {
		memset(seen, 0, sizeof seen);
		nseen = 0;
	}
	for (uint64_t h = ino * 0x9e3779b97f4a7c15u;; h++) {
		uint64_t *slot = &seen[h & (SEEN_SLOTS - 1)];
		if (*slot == ino)
			return false;
		if (*slot == 0) {
			*slot = ino;
			nseen++;
			return true;
		}
	}
}

struct proc {
	long pid;
	int pidfd;
};

/* Connect the raw sockets of p not seen before; returns how many. */
static unsigned deafen(const struct proc *p)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/fd", p->pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	unsigned n = 0, looked = 0;
	struct dirent *e;
	while (looked++ < MAX_FDS && (e = readdir(d))) {
		char *end, link[128], target[64];
		long fdno = strtol(e->d_name, &end, 10);
		if (*end || fdno < 0)
			continue;
		snprintf(link, sizeof link, "/proc/%ld/fd/%ld", p->pid, fdno);
		ssize_t len = readlink(link, target, sizeof target - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		unsigned long long ino;
		if (sscanf(target, "socket:[%llu]", &ino) != 1 || !seen_add(ino))
			continue;
		int fd = (int)syscall(SYS_pidfd_getfd, p->pidfd, (int)fdno, 0);
		if (fd < 0)
			continue;
		int type = 0;
		socklen_t tl = sizeof type;
		struct sockaddr_in none = { .sin_family = AF_INET,
					    .sin_addr.s_addr = htonl(0x7f0000fe) };
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_RAW &&
		    connect(fd, (struct sockaddr *)&none, sizeof none) == 0)
			n++;
		close(fd);
	}
	closedir(d);
	return n;
}

/* ------------------------------------------------------------ media sockets */

/* A duplicate of pid's UDP socket bound to port, or -1. */
static int steal(long pid, uint16_t port)
{
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "relay_sink: pidfd_open %ld: %s\n", pid, strerror(errno));
		return -1;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/fd", pid);
	DIR *d = opendir(path);
	int found = -1;
	struct dirent *e;
	for (unsigned n = 0; d && found < 0 && n < MAX_FDS && (e = readdir(d)); n++) {
		char *end;
		long target = strtol(e->d_name, &end, 10);
		if (*end || target < 0)
			continue;
		struct stat st;
		char link[128];
		snprintf(link, sizeof link, "/proc/%ld/fd/%ld", pid, target);
		if (stat(link, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		int fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)target, 0);
		if (fd < 0)
			continue;
		if (sock_port(fd) == port)
			found = fd;
		else
			close(fd);
	}
	if (d)
		closedir(d);
	close(pidfd);
	if (found < 0)
		fprintf(stderr, "relay_sink: no UDP socket on port %u in process %ld\n", port, pid);
	return found;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc - 1 > MAX_SOCKS) {
		fprintf(stderr, "usage: relay_sink PID:PORT... (at most %d)\n", MAX_SOCKS);
		return 2;
	}
	struct pollfd pfd[MAX_SOCKS + 1];
	struct proc procs[MAX_SOCKS];
	int n = 0, nprocs = 0;
	for (int i = 1; i < argc; i++) {
		char *colon = strchr(argv[i], ':');
		long pid = strtol(argv[i], NULL, 10), port = colon ? strtol(colon + 1, NULL, 10) : 0;
		if (pid <= 0 || port <= 0 || port > 65535) {
			fprintf(stderr, "relay_sink: bad PID:PORT '%s'\n", argv[i]);
			return 2;
		}
		int fd = steal(pid, (uint16_t)port);
		if (fd < 0)
			return 1;
		bool known = false;
		for (int k = 0; k < nprocs; k++)
			known |= procs[k].pid == pid;
		if (!known) {
			procs[nprocs].pid = pid;
			procs[nprocs].pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
			if (procs[nprocs].pidfd < 0) {
				perror("relay_sink: pidfd_open");
				return 1;
			}
			nprocs++;
		}
		int sz = BUF_BYTES;
		/* the socket is shared with SIPp: room for what comes between reads */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
		pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("relay_sink: signalfd");
		return 1;
	}
	pfd[n] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	printf("ready\n");
	fflush(stdout);

	static uint8_t buf[BATCH][2048];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	uint64_t pkts = 0, bytes = 0, rtcp = 0, deafened = 0, deaf_due = 0;
	for (bool stop = false; !stop;) {
		uint64_t t = now_ns();
		if (t >= deaf_due) {
			for (int k = 0; k < nprocs; k++)
				deafened += deafen(&procs[k]);
			deaf_due = t + DEAF_MS * 1000000u;
		}
		if (poll(pfd, (nfds_t)n + 1, DEAF_MS) < 0) {
			if (errno == EINTR)
				continue;
			perror("relay_sink: poll");
			return 1;
		}
		for (int k = 0; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			/* bounded: a few batches per wake-up, then the others' turn */
			for (int round = 0; round < 16; round++) {
				for (int i = 0; i < BATCH; i++) {
					iov[i] = (struct iovec){ buf[i], sizeof buf[i] };
					m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
				}
				int got = recvmmsg(pfd[k].fd, m, BATCH, MSG_DONTWAIT, NULL);
				if (got <= 0)
					break;
				for (int i = 0; i < got; i++) {
					if (m[i].msg_len >= 2 && buf[i][1] >= 200 && buf[i][1] <= 204) {
						rtcp++;
						continue;
					}
					pkts++;
					bytes += m[i].msg_len;
				}
			}
		}
		if (pfd[n].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si)
				continue;
			if (si.ssi_signo == SIGUSR1) {
				printf("t_ns=%llu pkts=%llu bytes=%llu rtcp=%llu deafened=%llu\n",
				       (unsigned long long)now_ns(), (unsigned long long)pkts,
				       (unsigned long long)bytes, (unsigned long long)rtcp,
				       (unsigned long long)deafened);
				fflush(stdout);
			} else {
				stop = true;
			}
		}
	}
	for (int k = 0; k < n; k++)
		close(pfd[k].fd);
	for (int k = 0; k < nprocs; k++)
		close(procs[k].pidfd);
	close(sfd);
	return 0;
}
