/*
 * relay_load.c: the load of tests/bench/relay: G.711 calls both ways
 * through a relay, counted at the far end, with the relay's CPU time.
 *
 *   relay_load PORTS_FILE PID SECONDS [WARMUP_SECONDS [PTIME_MS [PAYLOAD_BYTES [SLOTS]]]]
 *
 * PORTS_FILE holds "A B" port pairs on 127.0.0.1, one line per call (what
 * udpfwd and relay_host print; a "ready" line ends it). For every call,
 * phone A sends a G.711 packet (12 + PAYLOAD_BYTES, default 160: 20 ms) to
 * port A every PTIME_MS (default 20) and phone B one to port B; what the
 * relay forwards arrives at the other phone. The packet time is cut into
 * SLOTS (default 10) and the calls spread over them, the B phones half a
 * packet time after the A phones: with 10 slots the relay gets bursts it
 * can take in one wake-up; with as many slots as calls, each phone sends
 * on its own as real phones do, and the relay wakes for nearly every
 * packet. All A phones share one socket and all
 * B phones another, so the generator stays cheap (sendmmsg/recvmmsg with an
 * address per packet); the payload names the call and the side, and a
 * packet must arrive from the port of its call's other leg.
 *
 * After the warm-up (latching) it measures for SECONDS: packets forwarded
 * and the relay's CPU time (the sum over its threads of
 * /proc/PID/task/TID/schedstat), then stops sending and waits 500 ms for
 * what is still in flight. One line of key=value on stdout:
 *   calls sent received loss_pct misrouted cpu_s fwd_pps pkts_per_cpu_s
 *   cpu_pct lat_p50_us lat_p99_us gen_cpu_s
 * sent and received cover the whole run; loss and the one-way delay
 * percentiles cover the packets sent in the measured window (the first
 * packet of each direction, before the far leg latched, is not lost there);
 * fwd_pps and pkts_per_cpu_s count what arrived in the window.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CALLS 20000
#define SLOTS_MAX 2000
#define BATCH 64
#define PKT_MAX (12 + 1200)
#define LAT_BUCKETS 10000 /* 10 us each: up to 100 ms */
#define BUF_BYTES (16 << 20)

struct call {
	uint16_t port[2];     /* A, B */
	uint16_t seq[2];
	uint32_t ts[2];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of every thread of pid, ns. */
static uint64_t cpu_ns(long pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	uint64_t sum = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[128];
		snprintf(p, sizeof p, "/proc/%ld/task/%.20s/schedstat", pid, e->d_name);
		FILE *f = fopen(p, "r");
		unsigned long long v;
		if (f && fscanf(f, "%llu", &v) == 1)
			sum += v;
		if (f)
			fclose(f);
	}
	closedir(d);
	return sum;
}

static int sock(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int sz = BUF_BYTES;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("relay_load: socket");
		exit(1);
	}
	/* root in the benchmark's namespace: past net.core.rmem_max */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	return fd;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct state {
	unsigned slots;       /* of the packet time */
	size_t pkt_len;       /* RTP header and payload */
	uint32_t ts_step;     /* timestamp units per packet (8 kHz) */
	struct call *calls;
	long ncalls;
	int fd[2];            /* the A phones' socket, the B phones' */
	uint64_t sent, received, misrouted;
	bool measuring;
	uint64_t win_sent;     /* sent during the measured window */
	uint64_t win_received; /* received during it (for the rate) */
	uint64_t win_arrived;  /* of those sent during it, arrived (for loss) */
	uint64_t lat[LAT_BUCKETS + 1];
};

/* Send side `side` of the calls in sub-slot k. */
static void send_slot(struct state *s, int side, unsigned k)
{
	static uint8_t pkt[BATCH][PKT_MAX];
	static struct sockaddr_in to[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	unsigned n = 0;
	for (long i = k; i < s->ncalls; i += s->slots) {
		struct call *c = &s->calls[i];
		uint8_t *p = pkt[n];
		memset(p, 0, s->pkt_len);
		p[0] = 0x80;
		p[1] = 0;
		p[2] = (uint8_t)(c->seq[side] >> 8);
		p[3] = (uint8_t)c->seq[side];
		put32(p + 4, c->ts[side]);
		put32(p + 8, (uint32_t)(2 * i + side + 1));
		put32(p + 12, (uint32_t)i);
		p[16] = (uint8_t)side;
		p[17] = s->measuring; /* counted for loss and delay */
		uint64_t t = now_ns();
		put32(p + 20, (uint32_t)(t >> 32));
		put32(p + 24, (uint32_t)t);
		c->seq[side]++;
		c->ts[side] += s->ts_step;
		to[n] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(c->port[side]),
					      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		iov[n] = (struct iovec){ p, s->pkt_len };
		m[n].msg_hdr = (struct msghdr){ .msg_name = &to[n], .msg_namelen = sizeof to[n],
						.msg_iov = &iov[n], .msg_iovlen = 1 };
		if (++n == BATCH || i + s->slots >= s->ncalls) {
			for (unsigned off = 0, tries = 0; off < n && tries < BATCH; tries++) {
				int r = sendmmsg(s->fd[side], m + off, n - off, 0);
				off += r > 0 ? (unsigned)r : 1;
				if (r > 0) {
					s->sent += (unsigned)r;
					if (s->measuring)
						s->win_sent += (unsigned)r;
				}
			}
			n = 0;
		}
	}
}

/* Read what arrived for phones of `side` (sent by the other side). */
static void recv_side(struct state *s, int side)
{
	static uint8_t buf[BATCH][2048];
	static struct sockaddr_in from[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	for (int round = 0; round < 64; round++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ buf[i], sizeof buf[i] };
			m[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof from[i],
							.msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(s->fd[side], m, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		uint64_t t = now_ns();
		for (int i = 0; i < n; i++) {
			const uint8_t *p = buf[i];
			if (m[i].msg_len != s->pkt_len || (p[1] & 0x7f) >= 72) {
				continue; /* RTCP from the relay */
			}
			uint32_t call = get32(p + 12);
			if (call >= (uint32_t)s->ncalls || p[16] != 1 - side ||
			    ntohs(from[i].sin_port) != s->calls[call].port[side]) {
				s->misrouted++;
				continue;
			}
			s->received++;
			if (s->measuring)
				s->win_received++;
			if (p[17]) {
				s->win_arrived++;
				uint64_t sent = (uint64_t)get32(p + 20) << 32 | get32(p + 24);
				uint64_t b = t > sent ? (t - sent) / 10000 : 0;
				s->lat[b > LAT_BUCKETS ? LAT_BUCKETS : b]++;
			}
		}
	}
}

static double lat_pct(const struct state *s, double q)
{
	uint64_t total = 0, acc = 0;
	for (int i = 0; i <= LAT_BUCKETS; i++)
		total += s->lat[i];
	if (!total)
		return 0;
	for (int i = 0; i <= LAT_BUCKETS; i++) {
		acc += s->lat[i];
		if ((double)acc >= q * (double)total)
			return i * 10.0 + 5;
	}
	return LAT_BUCKETS * 10.0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: relay_load PORTS_FILE PID SECONDS [WARMUP_SECONDS "
				"[PTIME_MS [PAYLOAD_BYTES [SLOTS]]]]\n");
		return 2;
	}
	long pid = strtol(argv[2], NULL, 10);
	double secs = strtod(argv[3], NULL), warm = argc > 4 ? strtod(argv[4], NULL) : 2;
	long ptime = argc > 5 ? strtol(argv[5], NULL, 10) : 20;
	long payload = argc > 6 ? strtol(argv[6], NULL, 10) : 160;
	long slots = argc > 7 ? strtol(argv[7], NULL, 10) : 10;
	if (pid <= 0 || secs <= 0 || secs > 600 || warm < 0 || warm > 60 || ptime < 10 ||
	    ptime > 100 || payload < 16 || payload > PKT_MAX - 12 || slots < 1 || slots > SLOTS_MAX)
		return 2;
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		perror("relay_load: ports file");
		return 1;
	}
	static struct state s;
	s.slots = (unsigned)slots;
	s.pkt_len = 12 + (size_t)payload;
	s.ts_step = (uint32_t)ptime * 8;
	s.calls = calloc(MAX_CALLS, sizeof *s.calls);
	if (!s.calls)
		return 1;
	unsigned a, b;
	while (s.ncalls < MAX_CALLS && fscanf(f, "%u %u", &a, &b) == 2) {
		s.calls[s.ncalls].port[0] = (uint16_t)a;
		s.calls[s.ncalls].port[1] = (uint16_t)b;
		s.calls[s.ncalls].seq[0] = (uint16_t)(s.ncalls * 7);
		s.calls[s.ncalls].seq[1] = (uint16_t)(s.ncalls * 11);
		s.ncalls++;
	}
	fclose(f);
	if (!s.ncalls) {
		fprintf(stderr, "relay_load: no calls in %s\n", argv[1]);
		return 1;
	}
	s.fd[0] = sock();
	s.fd[1] = sock();

	const uint64_t slot_ns = (uint64_t)ptime * 1000000u / s.slots;
	uint64_t t0 = now_ns();
	uint64_t win_start = t0 + (uint64_t)(warm * 1e9), win_end = win_start + (uint64_t)(secs * 1e9);
	uint64_t cpu0 = 0, cpu1 = 0;
	struct rusage ru0, ru1;
	for (uint64_t k = 0;; k++) {
		uint64_t due = t0 + k * slot_ns;
		if (due >= win_end)
			break;
		if (!s.measuring && due >= win_start) {
			s.measuring = true;
			cpu0 = cpu_ns(pid);
			getrusage(RUSAGE_SELF, &ru0);
		}
		send_slot(&s, 0, (unsigned)(k % s.slots));
		send_slot(&s, 1, (unsigned)((k + s.slots / 2) % s.slots));
		/* receive until the next slot is due */
		for (;;) {
			uint64_t t = now_ns(), next = due + slot_ns;
			if (t >= next)
				break;
			struct pollfd pfd[2] = { { .fd = s.fd[0], .events = POLLIN },
						 { .fd = s.fd[1], .events = POLLIN } };
			/* to the microsecond: with many slots, one is well under 1 ms */
			struct timespec wait = { (time_t)((next - t) / 1000000000u),
						 (long)((next - t) % 1000000000u) };
			if (ppoll(pfd, 2, &wait, NULL) <= 0)
				continue;
			recv_side(&s, 0);
			recv_side(&s, 1);
		}
	}
	cpu1 = cpu_ns(pid);
	getrusage(RUSAGE_SELF, &ru1);
	s.measuring = false;
	/* what is still in flight */
	uint64_t end = now_ns() + 500000000u;
	for (uint64_t t; (t = now_ns()) < end;) {
		struct pollfd pfd[2] = { { .fd = s.fd[0], .events = POLLIN },
					 { .fd = s.fd[1], .events = POLLIN } };
		if (poll(pfd, 2, (int)((end - t) / 1000000) + 1) > 0) {
			recv_side(&s, 0);
			recv_side(&s, 1);
		}
	}
	double cpu_s = (double)(cpu1 - cpu0) / 1e9;
	double gen_s = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
				ru0.ru_stime.tv_sec) +
		       (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
				ru0.ru_stime.tv_usec) / 1e6;
	uint64_t arrived = s.win_arrived < s.win_sent ? s.win_arrived : s.win_sent;
	double loss = s.win_sent ? 100.0 * (double)(s.win_sent - arrived) / (double)s.win_sent : 0;
	printf("calls=%ld sent=%llu received=%llu loss_pct=%.3f misrouted=%llu cpu_s=%.3f "
	       "fwd_pps=%.0f pkts_per_cpu_s=%.0f cpu_pct=%.1f lat_p50_us=%.0f lat_p99_us=%.0f "
	       "gen_cpu_s=%.3f\n",
	       s.ncalls, (unsigned long long)s.sent, (unsigned long long)s.received, loss,
	       (unsigned long long)s.misrouted, cpu_s, (double)s.win_received / secs,
	       cpu_s > 0 ? (double)s.win_received / cpu_s : 0, 100.0 * cpu_s / secs,
	       lat_pct(&s, 0.5), lat_pct(&s, 0.99), gen_s);
	free(s.calls);
	close(s.fd[0]);
	close(s.fd[1]);
	return 0;
}
