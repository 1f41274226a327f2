/*
 * relay_host.c: the media engine under tests/bench/relay, set up the way the
 * core sets up a G.711 call: two legs per call on one thread, both
 * PCMU/8000 with telephone-event, symmetric RTP (no remote known until the
 * phone's first packet), bridged, so every packet takes the fast path
 * (header rewritten, forwarded in the same batch).
 *
 *   relay_host CALLS THREADS PORT_LO PORT_HI
 *
 * It prints "A B" port pairs, one line per call, then "ready"; it takes the
 * engine's events as the core would, and on SIGTERM or SIGINT prints the
 * engine's totals to stderr and stops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "media.h"

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: relay_host CALLS THREADS PORT_LO PORT_HI\n");
		return 2;
	}
	long calls = strtol(argv[1], NULL, 10);
	struct media_engine_cfg cfg = {
		.threads = (unsigned)strtoul(argv[2], NULL, 10),
		.port_lo = (uint16_t)strtoul(argv[3], NULL, 10),
		.port_hi = (uint16_t)strtoul(argv[4], NULL, 10),
	};
	if (calls < 1 || calls > 20000) {
		fprintf(stderr, "relay_host: bad CALLS\n");
		return 2;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* blocked before the media threads start, so they inherit it */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	struct media_engine *me = NULL;
	int rc = media_engine_start(&me, &cfg);
	if (rc || sfd < 0) {
		fprintf(stderr, "relay_host: engine: %s\n", strerror(rc ? rc : errno));
		return 1;
	}
	struct sockaddr_storage local;
	memset(&local, 0, sizeof local);
	struct sockaddr_in *l4 = (struct sockaddr_in *)&local;
	l4->sin_family = AF_INET;
	l4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct media_leg_params p;
	memset(&p, 0, sizeof p);
	p.remote.ss_family = AF_INET; /* port 0: learnt from the first packet */
	p.latch = true;
	p.codec = SDP_CODEC_PCMU;
	p.pt = 0;
	p.clock = 8000;
	p.channels = 1;
	p.dtmf = true;
	p.dtmf_pt = 101;
	p.dtmf_clock = 8000;
	p.ptime = 20;
	p.dir = SDP_DIR_SENDRECV;
	for (long i = 0; i < calls; i++) {
		media_leg_id a, b;
		uint16_t pa, pb;
		if ((rc = media_leg_new(me, &local, 0, (uint64_t)i, &a, &pa)) ||
		    (rc = media_leg_new(me, &local, a, (uint64_t)i, &b, &pb)) ||
		    (rc = media_leg_set(me, a, &p)) || (rc = media_leg_set(me, b, &p)) ||
		    (rc = media_bridge(me, a, b))) {
			fprintf(stderr, "relay_host: call %ld: %s\n", i, strerror(rc));
			return 1;
		}
		printf("%u %u\n", pa, pb);
	}
	printf("ready\n");
	fflush(stdout);
	struct pollfd pfd[2] = { { .fd = media_event_fd(me), .events = POLLIN },
				 { .fd = sfd, .events = POLLIN } };
	unsigned long latched = 0;
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		struct media_event ev[64];
		size_t n = media_events_take(me, ev, 64);
		for (size_t i = 0; i < n; i++)
			latched += ev[i].kind == MEDIA_EV_LATCHED;
	}
	struct media_totals t;
	media_engine_totals(me, &t);
	fprintf(stderr,
		"relay_host: legs=%llu latched=%lu rx_packets=%llu tx_packets=%llu lost=%llu "
		"tick_max_us=%llu\n",
		(unsigned long long)t.legs, latched, (unsigned long long)t.rx_packets,
		(unsigned long long)t.tx_packets, (unsigned long long)t.lost_packets,
		(unsigned long long)t.tick_max_us);
	media_engine_stop(me);
	close(sfd);
	return 0;
}
