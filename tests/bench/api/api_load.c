/*
 * api_load.c: closed-loop HTTP/1.1 load on one URL, for tests/bench/api.
 *
 *   api_load HOST PORT PATH COOKIE CONNS SECONDS [WARMUP_S [EXPECT]]
 *
 * CONNS threads, each with one keep-alive connection, send GET PATH (with
 * "Cookie: COOKIE") one request at a time for WARMUP_S + SECONDS seconds and
 * time every request from the first byte written to the last byte of the
 * response read. Requests that start in the warm-up are not recorded. An
 * error is a status other than 200, a body without EXPECT (when given), a
 * malformed or oversized response, a timeout (5 s) or a connection that
 * fails; the connection is then made again. One line on stdout:
 *
 *   requests=N errors=N reconnects=N seconds=S rps=R p50_us=.. p90_us=..
 *   p99_us=.. p999_us=.. max_us=.. mean_us=.. resp_bytes=N all_requests=N
 *   client_cpu_s=S
 *
 * all_requests includes the warm-up; resp_bytes is the size of the last
 * good response (headers and body). The exit status is 0 when the load ran
 * (errors or not), 1 on bad arguments or when nothing could be measured.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX 32                 /* pbxd allows 32 connections per address */
#define SECONDS_MAX 600
#define RESP_MAX (4u << 20)          /* a response larger than this is an error */
#define HDR_MAX 16384                /* bytes of response headers we accept */
#define SAMPLES_MAX (8u << 20)       /* latencies kept per thread */
#define IO_TIMEOUT_S 5

struct worker {
	pthread_t th;
	uint32_t *lat;                   /* microseconds, one per recorded request */
	size_t n, cap;
	uint64_t errors, reconnects, all;
	size_t last_bytes;
	char *buf;
};

static struct sockaddr_storage g_addr;
static socklen_t g_addrlen;
static char *g_req;
static size_t g_reqlen;
static const char *g_expect;
static int64_t g_t_rec, g_t_end;    /* monotonic ns: recording starts, load ends */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int conn_open(void)
{
	int fd = socket(g_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&g_addr, g_addrlen) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			return false;
		}
		p += k;
		n -= (size_t)k;
	}
	return true;
}

/* Where a chunked body starting at b (n bytes so far) ends: its length
 * including the last chunk and trailer, 0 when more is needed, -1 when it
 * is malformed. */
static long chunked_end(const char *b, size_t n)
{
	size_t i = 0;
	for (unsigned chunks = 0; chunks < 1000000; chunks++) {
		size_t sz = 0, digits = 0;
		while (i < n && digits < 9) {
			char c = b[i];
			int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
				: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
			if (v < 0)
				break;
			sz = sz * 16 + (size_t)v;
			digits++;
			i++;
		}
		if (i >= n)
			return 0;
		if (digits == 0 || digits >= 9)
			return -1;
		const char *eol = memmem(b + i, n - i, "\r\n", 2);   /* skips chunk extensions */
		if (!eol)
			return n - i > 256 ? -1 : 0;
		i = (size_t)(eol - b) + 2;
		if (sz == 0) {
			/* trailer lines up to an empty one */
			for (unsigned t = 0; t < 64; t++) {
				const char *e = memmem(b + i, n - i, "\r\n", 2);
				if (!e)
					return 0;
				size_t len = (size_t)(e - (b + i));
				i += len + 2;
				if (len == 0)
					return (long)i;
			}
			return -1;
		}
		if (n - i < sz + 2)
			return 0;
		if (b[i + sz] != '\r' || b[i + sz + 1] != '\n')
			return -1;
		i += sz + 2;
	}
	return -1;
}

/* The value of header name (case-insensitive) in hdr[0..n), or NULL. */
static const char *header(const char *hdr, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = memmem(hdr, n, "\r\n", 2), *end = hdr + n;
	while (p && p + 2 < end) {
		p += 2;
		const char *e = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!e || e == p)
			break;
		if ((size_t)(e - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(e - v);
			return v;
		}
		p = e;
	}
	return NULL;
}

/* One request on fd, its response read whole. 0: a good response; 1: a
 * complete response that is an error (status, EXPECT); -1: the connection
 * is unusable. *close_after: the server said it closes. */
static int one_request(struct worker *w, int fd, bool *close_after, size_t *bytes)
{
	*close_after = false;
	if (!write_all(fd, g_req, g_reqlen))
		return -1;
	size_t n = 0, hlen = 0;
	long need = -1;          /* total length once known (Content-Length) */
	bool chunked = false;
	for (;;) {
		if (n == RESP_MAX)
			return -1;
		ssize_t k = recv(fd, w->buf + n, RESP_MAX - n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		n += (size_t)k;
		if (!hlen) {
			const char *e = memmem(w->buf, n < HDR_MAX ? n : HDR_MAX, "\r\n\r\n", 4);
			if (!e) {
				if (n >= HDR_MAX)
					return -1;
				continue;
			}
			hlen = (size_t)(e - w->buf) + 4;
			if (hlen < 12 || memcmp(w->buf, "HTTP/1.1 ", 9) != 0)
				return -1;
			size_t vl;
			const char *v = header(w->buf, hlen, "Connection", &vl);
			if (v && vl == 5 && strncasecmp(v, "close", 5) == 0)
				*close_after = true;
			if ((v = header(w->buf, hlen, "Transfer-Encoding", &vl)) && vl >= 7 &&
			    strncasecmp(v + vl - 7, "chunked", 7) == 0)
				chunked = true;
			else if ((v = header(w->buf, hlen, "Content-Length", &vl))) {
				char tmp[24];
				if (vl == 0 || vl >= sizeof tmp)
					return -1;
				memcpy(tmp, v, vl);
				tmp[vl] = '\0';
				char *endp;
				errno = 0;
				unsigned long long cl = strtoull(tmp, &endp, 10);
				if (errno || *endp || cl > RESP_MAX - hlen)
					return -1;
				need = (long)(hlen + cl);
			} else
				return -1; /* a body up to the close: not keep-alive */
		}
		if (chunked) {
			long e = chunked_end(w->buf + hlen, n - hlen);
			if (e < 0)
				return -1;
			if (e > 0)
				need = (long)hlen + e;
		}
		if (need >= 0 && n >= (size_t)need)
			break;
	}
	if (n != (size_t)need)
		return -1; /* bytes after the response: we did not pipeline */
	*bytes = n;
	if (memcmp(w->buf + 9, "200", 3) != 0)
		return 1;
	if (g_expect && !memmem(w->buf + hlen, n - hlen, g_expect, strlen(g_expect)))
		return 1;
	return 0;
}

static void record(struct worker *w, int64_t ns)
{
	if (w->n == w->cap) {
		if (w->cap >= SAMPLES_MAX)
			return;
		size_t cap = w->cap ? 2 * w->cap : 65536;
		uint32_t *v = realloc(w->lat, cap * sizeof *v);
		if (!v)
			return;
		w->lat = v;
		w->cap = cap;
	}
	int64_t us = ns / 1000;
	w->lat[w->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	int fd = -1;
	/* bounded by the clock; a failing connect is retried at most every 10 ms */
	for (int64_t t0; (t0 = now_ns()) < g_t_end;) {
		if (fd < 0) {
			if ((fd = conn_open()) < 0) {
				w->errors++;
				nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
				continue;
			}
			w->reconnects++;
			t0 = now_ns();
		}
		bool close_after;
		size_t bytes = 0;
		int rc = one_request(w, fd, &close_after, &bytes);
		int64_t t1 = now_ns();
		w->all++;
		if (t0 >= g_t_rec) {
			if (rc != 0)
				w->errors++;
			else
				record(w, t1 - t0);
		}
		if (rc == 0)
			w->last_bytes = bytes;
		if (rc < 0 || close_after) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *e;
	errno = 0;
	long v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	if (argc < 7 || argc > 9) {
		fprintf(stderr, "usage: api_load HOST PORT PATH COOKIE CONNS SECONDS [WARMUP_S [EXPECT]]\n");
		return 1;
	}
	long conns, secs, warm = 1;
	if (!parse_long(argv[5], 1, CONNS_MAX, &conns) || !parse_long(argv[6], 1, SECONDS_MAX, &secs) ||
	    (argc > 7 && !parse_long(argv[7], 0, 60, &warm))) {
		fprintf(stderr, "api_load: CONNS 1..%d, SECONDS 1..%d, WARMUP_S 0..60\n", CONNS_MAX, SECONDS_MAX);
		return 1;
	}
	if (argc > 8 && argv[8][0])
		g_expect = argv[8];
	if (argv[3][0] != '/' || strpbrk(argv[3], " \r\n") || strpbrk(argv[4], "\r\n") ||
	    strlen(argv[3]) > 2048 || strlen(argv[4]) > 2048) {
		fprintf(stderr, "api_load: PATH must start with / and hold no spaces or line breaks\n");
		return 1;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int gai = getaddrinfo(argv[1], argv[2], &hints, &ai);
	if (gai != 0) {
		fprintf(stderr, "api_load: %s:%s: %s\n", argv[1], argv[2], gai_strerror(gai));
		return 1;
	}
	memcpy(&g_addr, ai->ai_addr, ai->ai_addrlen);
	g_addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	int len = asprintf(&g_req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nCookie: %s\r\nAccept: application/json\r\n\r\n",
			   argv[3], argv[1], argv[2], argv[4]);
	if (len < 0)
		return 1;
	g_reqlen = (size_t)len;

	struct worker *ws = calloc((size_t)conns, sizeof *ws);
	if (!ws)
		return 1;
	int64_t start = now_ns();
	g_t_rec = start + warm * 1000000000LL;
	g_t_end = g_t_rec + secs * 1000000000LL;
	long started = 0;
	for (; started < conns; started++) {
		if (!(ws[started].buf = malloc(RESP_MAX)) || pthread_create(&ws[started].th, NULL, run, &ws[started]) != 0) {
			fprintf(stderr, "api_load: cannot start thread %ld\n", started);
			break;
		}
	}
	for (long i = 0; i < started; i++)
		pthread_join(ws[i].th, NULL);
	int64_t end = now_ns();
	if (started < conns)
		g_t_end = end; /* report what ran, but say it failed */

	size_t total = 0;
	uint64_t errors = 0, reconnects = 0, all = 0;
	size_t bytes = 0;
	for (long i = 0; i < started; i++) {
		total += ws[i].n;
		errors += ws[i].errors;
		reconnects += ws[i].reconnects;
		all += ws[i].all;
		if (ws[i].last_bytes)
			bytes = ws[i].last_bytes;
	}
	uint32_t *lat = total ? malloc(total * sizeof *lat) : NULL;
	size_t k = 0;
	double sum = 0;
	for (long i = 0; i < started && lat; i++) {
		memcpy(lat + k, ws[i].lat, ws[i].n * sizeof *lat);
		k += ws[i].n;
	}
	if (lat) {
		qsort(lat, total, sizeof *lat, cmp_u32);
		for (size_t i = 0; i < total; i++)
			sum += lat[i];
	}
	/* the window: from the end of the warm-up to when the last request ended */
	double window = (double)(end - g_t_rec) / 1e9;
#define PCT(p) (lat ? lat[(size_t)((double)(total - 1) * (p))] : 0)
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		     ru.ru_stime.tv_usec / 1e6;
	printf("requests=%zu errors=%" PRIu64 " reconnects=%" PRIu64 " seconds=%.2f rps=%.0f p50_us=%u p90_us=%u "
	       "p99_us=%u p999_us=%u max_us=%u mean_us=%.0f resp_bytes=%zu all_requests=%" PRIu64
	       " client_cpu_s=%.2f\n",
	       total, errors, reconnects, window, window > 0 ? (double)total / window : 0.0, PCT(0.50), PCT(0.90),
	       PCT(0.99), PCT(0.999), lat ? lat[total - 1] : 0, total ? sum / (double)total : 0.0, bytes, all, cpu);
	for (long i = 0; i < conns; i++) {
		free(ws[i].lat);
		free(ws[i].buf);
	}
	free(ws);
	free(lat);
	free(g_req);
	return started == conns && total ? 0 : 1;
}
