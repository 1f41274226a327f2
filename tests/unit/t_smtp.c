/*
 * t_smtp.c: the SMTP client against a small SMTP sink written here, on
 * loopback, in a thread: plain delivery, STARTTLS (opportunistic and
 * required) and TLS from the first byte with a self-signed certificate made
 * in the test with GnuTLS, AUTH PLAIN and LOGIN; the message as received
 * (headers, dot-stuffed lines restored, the attachment decoding to the
 * file's bytes); and what must fail: TLS required but not offered, a
 * password never sent in clear, a wrong password, a refused recipient, a
 * certificate for another name or not trusted, a relay that stalls, an
 * endless reply line, an endless reply, plaintext injected after STARTTLS,
 * nobody listening, bad arguments. Then the MIME composition alone:
 * encoded words, 7bit/8bit/base64 text, base64 vectors.
 */
#include "unit.h"

#include "log.h"
#include "smtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

static char tmpdir[64];
static char ca_good[128];   /* PEM of the sink's certificate (127.0.0.1, localhost) */
static char ca_other[128];  /* PEM of a certificate for another name */
static gnutls_x509_crt_t crt_good, crt_other;
static gnutls_x509_privkey_t key_good, key_other;

/* ---- base64 for checking --------------------------------------------------------------------- */

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decode, skipping line breaks; returns bytes or -1 on a bad character. */
static long b64dec(const char *in, size_t n, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '\r' || c == '\n')
			continue;
		if (c == '=')
			break;
		int v = b64val(c);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)o;
}

/* ---- the sink ---------------------------------------------------------------------------------- */

struct sink {
	/* how it behaves */
	bool offer_starttls;
	bool implicit_tls;
	bool require_tls;        /* 530 to MAIL before TLS */
	bool auth_in_clear;      /* offer AUTH before TLS too */
	bool eightbit;           /* offer 8BITMIME */
	const char *auth;        /* "PLAIN LOGIN", "LOGIN", NULL */
	const char *user, *pass;
	int rcpt_code;           /* 0: 250 */
	bool stall;              /* greet, then never answer */
	bool long_line;          /* greet with a line that never ends */
	bool many_lines;         /* answer EHLO with an endless reply */
	bool inject;             /* plaintext right after "220 ready" */
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;

	/* what it saw */
	int lfd;
	uint16_t port;
	bool tls_used;
	unsigned ehlos;
	char mech[16];
	char got_user[300], got_pass[300];
	bool auth_ok;
	bool got_auth, got_mail, got_quit;
	char mail_from[300], rcpt_to[300];
	char *data;
	size_t data_len;

	/* its connection */
	int fd;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	char in[4096];
	size_t in_len;
};

static void sink_send(struct sink *k, const char *s)
{
	size_t n = strlen(s);
	if (k->tls) {
		while (n) {
			ssize_t r = gnutls_record_send(k->tls, s, n);
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
				continue;
			if (r <= 0)
				return;
			s += r;
			n -= (size_t)r;
		}
	} else {
		(void)!send(k->fd, s, n, MSG_NOSIGNAL);
	}
}

/* One line, CRLF cut; false at the end of the connection or after 5 s. */
static bool sink_line(struct sink *k, char *line, size_t cap)
{
	for (;;) {
		char *nl = memchr(k->in, '\n', k->in_len);
		if (nl) {
			size_t n = (size_t)(nl - k->in) + 1, body = n - 1;
			if (body && k->in[body - 1] == '\r')
				body--;
			if (body >= cap)
				body = cap - 1;
			memcpy(line, k->in, body);
			line[body] = '\0';
			memmove(k->in, k->in + n, k->in_len - n);
			k->in_len -= n;
			return true;
		}
		if (k->in_len == sizeof k->in)
			return false;
		ssize_t r;
		if (k->tls) {
			r = gnutls_record_recv(k->tls, k->in + k->in_len, sizeof k->in - k->in_len);
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
				continue;
		} else {
			r = recv(k->fd, k->in + k->in_len, sizeof k->in - k->in_len, 0);
		}
		if (r <= 0)
			return false;
		k->in_len += (size_t)r;
	}
}

static bool sink_tls(struct sink *k)
{
	if (gnutls_certificate_allocate_credentials(&k->cred) < 0 ||
	    gnutls_certificate_set_x509_key(k->cred, &k->crt, 1, k->key) < 0 ||
	    gnutls_init(&k->tls, GNUTLS_SERVER) < 0 || gnutls_set_default_priority(k->tls) < 0 ||
	    gnutls_credentials_set(k->tls, GNUTLS_CRD_CERTIFICATE, k->cred) < 0)
		return false;
	gnutls_transport_set_int(k->tls, k->fd);
	int r;
	do
		r = gnutls_handshake(k->tls);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0)
		return false;
	k->tls_used = true;
	return true;
}

static void sink_ehlo(struct sink *k)
{
	k->ehlos++;
	char buf[2048];
	snprintf(buf, sizeof buf, "250-sink greets you\r\n");
	if (k->offer_starttls && !k->tls)
		strcat(buf, "250-STARTTLS\r\n");
	if (k->auth && (k->tls || k->auth_in_clear)) {
		strcat(buf, "250-AUTH ");
		strcat(buf, k->auth);
		strcat(buf, "\r\n");
	}
	if (k->eightbit)
		strcat(buf, "250-8BITMIME\r\n");
	strcat(buf, "250 SIZE 10240000\r\n");
	if (k->many_lines) {
		for (int i = 0; i < 200; i++)
			sink_send(k, "250-PADDING\r\n");
	}
	sink_send(k, buf);
}

static void sink_auth_check(struct sink *k, const char *u, const char *p)
{
	snprintf(k->got_user, sizeof k->got_user, "%s", u);
	snprintf(k->got_pass, sizeof k->got_pass, "%s", p);
	k->auth_ok = strcmp(u, k->user) == 0 && strcmp(p, k->pass) == 0;
	sink_send(k, k->auth_ok ? "235 2.7.0 ok\r\n" : "535 5.7.8 credentials invalid\r\n");
}

static void sink_auth(struct sink *k, const char *arg)
{
	char line[1024];
	uint8_t raw[600];
	k->got_auth = true;
	if (strncasecmp(arg, "PLAIN ", 6) == 0) {
		snprintf(k->mech, sizeof k->mech, "PLAIN");
		long n = b64dec(arg + 6, strlen(arg + 6), raw, sizeof raw - 1);
		if (n < 2) {
			sink_send(k, "501 bad\r\n");
			return;
		}
		raw[n] = '\0';
		/* authzid \0 user \0 password */
		const char *u = (const char *)raw + strlen((const char *)raw) + 1;
		const char *p = u + strlen(u) + 1;
		if ((const uint8_t *)p > raw + n) {
			sink_send(k, "501 bad\r\n");
			return;
		}
		sink_auth_check(k, u, p);
	} else if (strcasecmp(arg, "LOGIN") == 0) {
		snprintf(k->mech, sizeof k->mech, "LOGIN");
		char u[300], p[300];
		sink_send(k, "334 VXNlcm5hbWU6\r\n");
		if (!sink_line(k, line, sizeof line))
			return;
		long n = b64dec(line, strlen(line), (uint8_t *)u, sizeof u - 1);
		u[n < 0 ? 0 : n] = '\0';
		sink_send(k, "334 UGFzc3dvcmQ6\r\n");
		if (!sink_line(k, line, sizeof line))
			return;
		n = b64dec(line, strlen(line), (uint8_t *)p, sizeof p - 1);
		p[n < 0 ? 0 : n] = '\0';
		sink_auth_check(k, u, p);
	} else {
		sink_send(k, "504 unknown mechanism\r\n");
	}
}

static void sink_data(struct sink *k)
{
	sink_send(k, "354 go ahead\r\n");
	char line[1200];
	size_t cap = 1 << 20;
	k->data = malloc(cap);
	k->data_len = 0;
	while (sink_line(k, line, sizeof line)) {
		if (strcmp(line, ".") == 0) {
			sink_send(k, "250 2.0.0 Ok: queued as SINK1\r\n");
			return;
		}
		const char *l = line[0] == '.' ? line + 1 : line; /* dot-stuffing undone */
		size_t n = strlen(l);
		if (k->data_len + n + 2 < cap) {
			memcpy(k->data + k->data_len, l, n);
			memcpy(k->data + k->data_len + n, "\r\n", 2);
			k->data_len += n + 2;
		}
	}
}

static void *sink_main(void *arg)
{
	struct sink *k = arg;
	struct pollfd p = { .fd = k->lfd, .events = POLLIN };
	if (poll(&p, 1, 5000) != 1)
		return NULL;
	k->fd = accept(k->lfd, NULL, NULL);
	if (k->fd < 0)
		return NULL;
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(k->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(k->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	char line[1200];
	if (k->implicit_tls && !sink_tls(k))
		goto out;
	if (k->long_line) {
		for (int i = 0; i < 100; i++)
			sink_send(k, "220 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		while (sink_line(k, line, sizeof line))
			;
		goto out;
	}
	sink_send(k, "220 sink ESMTP\r\n");
	if (k->stall) {
		while (sink_line(k, line, sizeof line))
			;
		goto out;
	}
	while (sink_line(k, line, sizeof line)) {
		if (strncasecmp(line, "EHLO ", 5) == 0) {
			sink_ehlo(k);
		} else if (strcasecmp(line, "STARTTLS") == 0 && k->offer_starttls && !k->tls) {
			sink_send(k, k->inject ? "220 ready\r\n250 injected\r\n" : "220 ready\r\n");
			if (!sink_tls(k))
				goto out;
		} else if (strncasecmp(line, "AUTH ", 5) == 0 && k->auth) {
			sink_auth(k, line + 5);
		} else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
			if (k->require_tls && !k->tls) {
				sink_send(k, "530 5.7.0 must issue STARTTLS first\r\n");
				continue;
			}
			k->got_mail = true;
			snprintf(k->mail_from, sizeof k->mail_from, "%.299s", line + 10);
			sink_send(k, "250 2.1.0 ok\r\n");
		} else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
			snprintf(k->rcpt_to, sizeof k->rcpt_to, "%.299s", line + 8);
			char r[64];
			snprintf(r, sizeof r, "%d %s\r\n", k->rcpt_code ? k->rcpt_code : 250,
				 k->rcpt_code ? "no such user here" : "2.1.5 ok");
			sink_send(k, r);
		} else if (strcasecmp(line, "DATA") == 0) {
			sink_data(k);
		} else if (strcasecmp(line, "QUIT") == 0) {
			k->got_quit = true;
			sink_send(k, "221 2.0.0 bye\r\n");
			break;
		} else {
			sink_send(k, "500 5.5.1 what\r\n");
		}
	}
out:
	if (k->tls) {
		gnutls_deinit(k->tls);
		k->tls = NULL;
	}
	if (k->cred) {
		gnutls_certificate_free_credentials(k->cred);
		k->cred = NULL;
	}
	close(k->fd);
	return NULL;
}

/*
 * One worker thread serves every sink, one after the other, for the whole
 * run: GnuTLS keeps per-thread state until the process ends, so a thread
 * per test would look like a leak to the per-test check.
 */
static pthread_t worker;
static pthread_mutex_t worker_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t worker_cv = PTHREAD_COND_INITIALIZER;
static struct sink *job;      /* the sink to run; NULL when idle */
static bool job_done, worker_quit;

static void *worker_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&worker_mu);
	for (;;) {
		while (!job && !worker_quit)
			pthread_cond_wait(&worker_cv, &worker_mu);
		if (worker_quit)
			break;
		struct sink *k = job;
		pthread_mutex_unlock(&worker_mu);
		sink_main(k);
		pthread_mutex_lock(&worker_mu);
		job = NULL;
		job_done = true;
		pthread_cond_broadcast(&worker_cv);
	}
	pthread_mutex_unlock(&worker_mu);
	return NULL;
}

static void sink_start(struct sink *k)
{
	k->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(k->lfd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(k->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(k->lfd, 4), 0);
	socklen_t len = sizeof a;
	assert_int_equal(getsockname(k->lfd, (struct sockaddr *)&a, &len), 0);
	k->port = ntohs(a.sin_port);
	if (!k->crt) {
		k->crt = crt_good;
		k->key = key_good;
	}
	k->fd = -1;
	pthread_mutex_lock(&worker_mu);
	job = k;
	job_done = false;
	pthread_cond_broadcast(&worker_cv);
	pthread_mutex_unlock(&worker_mu);
}

/* Wait for the sink to finish (it gives up on its own within seconds). */
static void sink_finish(struct sink *k)
{
	pthread_mutex_lock(&worker_mu);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 20;
	int rc = 0;
	while (!job_done && rc == 0)
		rc = pthread_cond_timedwait(&worker_cv, &worker_mu, &until);
	bool done = job_done;
	pthread_mutex_unlock(&worker_mu);
	close(k->lfd);
	assert_true(done);
}

static void sink_stop(struct sink *k)
{
	sink_finish(k);
	free(k->data);
	k->data = NULL;
}

/* ---- the message as received ------------------------------------------------------------------ */

/* A header's value (first occurrence, unfolded) from a header block. */
static bool header(const char *msg, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *end = msg + len;
	const char *hdr_end = memmem(msg, len, "\r\n\r\n", 4);
	if (hdr_end)
		end = hdr_end + 2;
	for (const char *p = msg; p < end;) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			size_t o = 0;
			const char *v = p + nl + 1;
			while (v < end) {
				const char *e = memmem(v, (size_t)(end - v), "\r\n", 2);
				while (v < e && (*v == ' ' || *v == '\t'))
					v++;
				size_t k = (size_t)(e - v);
				if (o + k >= cap)
					return false;
				memcpy(out + o, v, k);
				o += k;
				v = e + 2;
				if (v >= end || (*v != ' ' && *v != '\t'))
					break;
			}
			out[o] = '\0';
			return true;
		}
		p = eol + 2;
	}
	return false;
}

struct part {
	const char *head; /* headers of the part */
	size_t head_len;
	const char *body;
	size_t body_len;
};

/* Split a multipart body at --boundary lines. */
static unsigned parts(const char *msg, size_t len, const char *boundary, struct part *out, unsigned max)
{
	char delim[100];
	snprintf(delim, sizeof delim, "\r\n--%s", boundary);
	size_t dl = strlen(delim);
	unsigned n = 0;
	const char *p = memmem(msg, len, delim, dl);
	while (p && n < max) {
		p += dl;
		if (p + 2 <= msg + len && p[0] == '-' && p[1] == '-')
			break; /* the closing delimiter */
		p += 2;    /* CRLF */
		const char *next = memmem(p, (size_t)(msg + len - p), delim, dl);
		if (!next)
			break;
		const char *sep = memmem(p, (size_t)(next - p), "\r\n\r\n", 4);
		if (!sep)
			break;
		out[n].head = p;
		out[n].head_len = (size_t)(sep - p) + 4;
		out[n].body = sep + 4;
		out[n].body_len = (size_t)(next - sep - 4);
		n++;
		p = next;
	}
	return n;
}

static void make_file(const char *path, uint8_t *bytes, size_t n)
{
	uint32_t seed = 77;
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		bytes[i] = (uint8_t)(seed >> 16);
	}
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(bytes, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static const char text_with_dots[] = "You have a new voicemail from 1002.\n"
				     ".\n"
				     "..two dots\n"
				     ".hidden line\n"
				     "Last line without a newline";

/* The text as it must arrive: CRLF line ends, dots as they were. */
static const char text_received[] = "You have a new voicemail from 1002.\r\n"
				    ".\r\n"
				    "..two dots\r\n"
				    ".hidden line\r\n"
				    "Last line without a newline\r\n";

static uint8_t attach_bytes[10001];
static char attach_path[128];

static struct smtp_mail mail_of(void)
{
	return (struct smtp_mail){
		.from = "pbx@example.com",
		.from_name = "PBX \"voicemail\"",
		.to = "ann@example.org",
		.subject = "New voicemail from 1002",
		.text = text_with_dots,
		.attach_path = attach_path,
		.attach_name = "msg-1002.opus",
		.attach_type = "audio/ogg",
	};
}

static struct smtp_cfg cfg_of(const struct sink *k, enum smtp_tls tls)
{
	return (struct smtp_cfg){
		.host = "127.0.0.1",
		.port = k->port,
		.tls = tls,
		.ca_file = ca_good,
		.helo = "pbx.example.com",
		.timeout_ms = 3000,
		.total_ms = 10000,
	};
}

/* Everything about a delivered message. */
static void check_delivery(const struct sink *k)
{
	assert_non_null(k->data);
	assert_string_equal(k->mail_from, "<pbx@example.com>");
	assert_string_equal(k->rcpt_to, "<ann@example.org>");
	char v[512];
	assert_true(header(k->data, k->data_len, "From", v, sizeof v));
	assert_string_equal(v, "\"PBX \\\"voicemail\\\"\" <pbx@example.com>");
	assert_true(header(k->data, k->data_len, "To", v, sizeof v));
	assert_string_equal(v, "<ann@example.org>");
	assert_true(header(k->data, k->data_len, "Subject", v, sizeof v));
	assert_string_equal(v, "New voicemail from 1002");
	assert_true(header(k->data, k->data_len, "MIME-Version", v, sizeof v));
	assert_string_equal(v, "1.0");
	assert_true(header(k->data, k->data_len, "Date", v, sizeof v));
	assert_true(strlen(v) == 31 && strcmp(v + 25, " +0000") == 0);
	assert_true(header(k->data, k->data_len, "Message-ID", v, sizeof v));
	assert_true(v[0] == '<' && strstr(v, "@example.com>"));
	assert_true(header(k->data, k->data_len, "Content-Type", v, sizeof v));
	const char *b = strstr(v, "boundary=\"");
	assert_non_null(b);
	assert_int_equal(strncmp(v, "multipart/mixed;", 16), 0);
	char boundary[80];
	snprintf(boundary, sizeof boundary, "%s", b + 10);
	*strchr(boundary, '"') = '\0';

	struct part p[4];
	assert_int_equal(parts(k->data, k->data_len, boundary, p, 4), 2);
	/* The text: 7bit, every dot where it was. */
	assert_true(header(p[0].head, p[0].head_len, "Content-Type", v, sizeof v));
	assert_string_equal(v, "text/plain; charset=UTF-8");
	assert_true(header(p[0].head, p[0].head_len, "Content-Transfer-Encoding", v, sizeof v));
	assert_string_equal(v, "7bit");
	assert_int_equal(p[0].body_len + 2, strlen(text_received)); /* the delimiter takes the last CRLF */
	assert_memory_equal(p[0].body, text_received, p[0].body_len);
	/* The attachment: its bytes exactly. */
	assert_true(header(p[1].head, p[1].head_len, "Content-Type", v, sizeof v));
	assert_string_equal(v, "audio/ogg; name=\"msg-1002.opus\"");
	assert_true(header(p[1].head, p[1].head_len, "Content-Disposition", v, sizeof v));
	assert_string_equal(v, "attachment; filename=\"msg-1002.opus\"");
	assert_true(header(p[1].head, p[1].head_len, "Content-Transfer-Encoding", v, sizeof v));
	assert_string_equal(v, "base64");
	static uint8_t got[sizeof attach_bytes + 16];
	long n = b64dec(p[1].body, p[1].body_len, got, sizeof got);
	assert_int_equal(n, sizeof attach_bytes);
	assert_memory_equal(got, attach_bytes, sizeof attach_bytes);
	/* Lines of 76 characters at most. */
	for (const char *q = p[1].body; q < p[1].body + p[1].body_len;) {
		const char *e = memmem(q, (size_t)(p[1].body + p[1].body_len - q), "\r\n", 2);
		size_t l = e ? (size_t)(e - q) : (size_t)(p[1].body + p[1].body_len - q);
		assert_true(l <= 76);
		q += l + 2;
	}
}

/* ---- sessions ------------------------------------------------------------------------------------ */

static void test_plain_delivery(void **state)
{
	(void)state;
	struct sink k = { 0 };
	sink_start(&k);
	struct smtp_cfg c = cfg_of(&k, SMTP_TLS_NONE);
	struct smtp_mail m = mail_of();
	char status[SMTP_STATUS_MAX];
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), 0);
	sink_stop(&k);
	assert_string_equal(status, "sent: 250 2.0.0 Ok: queued as SINK1");
	assert_false(k.tls_used);
	assert_false(k.got_auth);
	assert_true(k.got_quit);
	assert_int_equal(k.ehlos, 1);
}

static void test_plain_message_content(void **state)
{
	(void)state;
	struct sink k = { 0 };
	sink_start(&k);
	struct smtp_cfg c = cfg_of(&k, SMTP_TLS_NONE);
	struct smtp_mail m = mail_of();
	assert_int_equal(smtp_send(&c, &m, NULL, 0), 0);
	sink_finish(&k);
	check_delivery(&k);
	free(k.data);
}

static void test_starttls_auth_plain(void **state)
{
	(void)state;
	struct sink k = { .offer_starttls = true, .auth = "PLAIN LOGIN", .user = "vm@example.com",
			  .pass = "s3cret pass" };
	sink_start(&k);
	struct smtp_cfg c = cfg_of(&k, SMTP_TLS_OPPORTUNISTIC);
	c.user = "vm@example.com";
	c.password = "s3cret pass";
	struct smtp_mail m = mail_of();
	char status[SMTP_STATUS_MAX];
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), 0);
	sink_finish(&k);
	assert_true(k.tls_used);
	assert_int_equal(k.ehlos, 2); /* asked again over TLS */
	assert_string_equal(k.mech, "PLAIN");
	assert_string_equal(k.got_user, "vm@example.com");
	assert_string_equal(k.got_pass, "s3cret pass");
	assert_true(k.auth_ok);
	assert_true(k.got_quit);
	check_delivery(&k);
	free(k.data);
}

static void test_starttls_required_auth_login(void **state)
{
	(void)state;
	struct sink k = { .offer_starttls = true, .require_tls = true, .auth = "LOGIN", .user = "u1",
			  .pass = "p\xc3\xa4ss" };
	sink_start(&k);
	struct smtp_cfg c = cfg_of(&k, SMTP_TLS_REQUIRED);
	c.user = "u1";
	c.password = "p\xc3\xa4ss";
	struct smtp_mail m = mail_of();
	assert_int_equal(smtp_send(&c, &m, NULL, 0), 0);
	sink_finish(&k);
	assert_true(k.tls_used);
	assert_string_equal(k.mech, "LOGIN");
	assert_true(k.auth_ok);
	check_delivery(&k);
	free(k.data);
}

static void test_implicit_tls(void **state)
{
	(void)state;
	struct sink k = { .implicit_tls = true, .auth = "PLAIN", .user = "u", .pass = "p" };
	sink_start(&k);
	struct smtp_cfg c = cfg_of(&k, SMTP_TLS_IMPLICIT);
	c.user = "u";
	c.password = "p";
	struct smtp_mail m = mail_of();
	assert_int_equal(smtp_send(&c, &m, NULL, 0), 0);
	sink_finish(&k);
	assert_true(k.tls_used);
	assert_true(k.auth_ok);
	check_delivery(&k);
	free(k.data);
}

static void test_tls_required_not_offered(void **state)
{
	(void)state;
	struct sink k = { .auth = "PLAIN", .auth_in_clear = true, .user = "u", .pass = "p" };
	sink_start(&k);
	struct smtp_cfg c = cfg_of(&k, SMTP_TLS_REQUIRED);
	c.user = "u";
	c.password = "p";
	struct smtp_mail m = mail_of();
	char status[SMTP_STATUS_MAX];
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), ENOTSUP);
	sink_stop(&k);
	assert_non_null(strstr(status, "STARTTLS"));
	assert_false(k.got_auth);
	assert_false(k.got_mail);
	assert_true(k.got_quit);
}

static void test_no_password_in_clear(void **state)
{
	(void)state;
	struct sink k = { .auth = "PLAIN", .auth_in_clear = true, .user = "u", .pass = "p" };
	sink_start(&k);
	struct smtp_cfg c = cfg_of(&k, SMTP_TLS_OPPORTUNISTIC);
	c.user = "u";
	c.password = "p";
	struct smtp_mail m = mail_of();
	char status[SMTP_STATUS_MAX];
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), EPERM);
	sink_stop(&k);
	assert_false(k.got_auth);
	assert_false(k.got_mail);
	assert_non_null(strstr(status, "AUTH"));

	/* Unless allowed. */
	struct sink k2 = { .auth = "PLAIN", .auth_in_clear = true, .user = "u", .pass = "p" };
	sink_start(&k2);
	c = cfg_of(&k2, SMTP_TLS_OPPORTUNISTIC);
	c.user = "u";
	c.password = "p";
	c.auth_without_tls = true;
	assert_int_equal(smtp_send(&c, &m, NULL, 0), 0);
	sink_stop(&k2);
	assert_true(k2.auth_ok);
	assert_false(k2.tls_used);
}

static void test_wrong_password(void **state)
{
	(void)state;
	const char *mechs[] = { "PLAIN", "LOGIN" };
	for (int i = 0; i < 2; i++) {
		struct sink k = { .offer_starttls = true, .auth = mechs[i], .user = "u", .pass = "right" };
		sink_start(&k);
		struct smtp_cfg c = cfg_of(&k, SMTP_TLS_REQUIRED);
		c.user = "u";
		c.password = "wrong";
		struct smtp_mail m = mail_of();
		char status[SMTP_STATUS_MAX];
		assert_int_equal(smtp_send(&c, &m, status, sizeof status), EACCES);
		sink_stop(&k);
		assert_string_equal(status, "AUTH: 535 5.7.8 credentials invalid");
		assert_false(k.got_mail);
	}
	/* No mechanism we know. */
	struct sink k = { .offer_starttls = true, .auth = "CRAM-MD5 XOAUTH2", .user = "u", .pass = "p" };
	sink_start(&k);
	struct smtp_cfg c = cfg_of(&k, SMTP_TLS_REQUIRED);
	c.user = "u";
	c.password = "p";
	struct smtp_mail m = mail_of();
	assert_int_equal(smtp_send(&c, &m, NULL, 0), ENOTSUP);
	sink_stop(&k);
	assert_false(k.got_auth);
}

static void test_recipient_refused(void **state)
{
	(void)state;
	struct sink k = { .rcpt_code = 550 };
	sink_start(&k);
	struct smtp_cfg c = cfg_of(&k, SMTP_TLS_NONE);
	struct smtp_mail m = mail_of();
	char status[SMTP_STATUS_MAX];
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), ECONNREFUSED);
	sink_stop(&k);
	assert_string_equal(status, "RCPT: 550 no such user here");
	assert_true(k.got_quit);

	struct sink k2 = { .rcpt_code = 451 };
	sink_start(&k2);
	c = cfg_of(&k2, SMTP_TLS_NONE);
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), EAGAIN);
	sink_stop(&k2);
	assert_string_equal(status, "RCPT: 451 no such user here");
}

static void test_certificate_refused(void **state)
{
	(void)state;
	/* A certificate for another name, trusted. */
	struct sink k = { .offer_starttls = true, .crt = crt_other, .key = key_other };
	sink_start(&k);
	struct smtp_cfg c = cfg_of(&k, SMTP_TLS_REQUIRED);
	c.ca_file = ca_other;
	struct smtp_mail m = mail_of();
	char status[SMTP_STATUS_MAX];
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), EIO);
	sink_stop(&k);
	assert_int_equal(strncmp(status, "TLS: ", 5), 0);
	assert_false(k.got_mail);

	/* The right name, not trusted. */
	struct sink k2 = { .offer_starttls = true };
	sink_start(&k2);
	c = cfg_of(&k2, SMTP_TLS_OPPORTUNISTIC);
	c.ca_file = ca_other;
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), EIO);
	sink_stop(&k2);
	assert_int_equal(strncmp(status, "TLS: ", 5), 0);
	assert_false(k2.got_mail);

	/* A CA file that is not there. */
	struct sink k3 = { .offer_starttls = true };
	sink_start(&k3);
	c = cfg_of(&k3, SMTP_TLS_OPPORTUNISTIC);
	c.ca_file = "/nonexistent/ca.pem";
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), EIO);
	sink_stop(&k3);
	assert_false(k3.got_mail);
}

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_bounded_reads(void **state)
{
	(void)state;
	struct smtp_mail m = mail_of();
	char status[SMTP_STATUS_MAX];

	/* A relay that greets and then says nothing: the operation timeout. */
	struct sink k = { .stall = true };
	sink_start(&k);
	struct smtp_cfg c = cfg_of(&k, SMTP_TLS_NONE);
	c.timeout_ms = 300;
	uint64_t t0 = ms_now();
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), ETIMEDOUT);
	uint64_t took = ms_now() - t0;
	sink_stop(&k);
	assert_true(took >= 290 && took < 2000);
	assert_non_null(strstr(status, "EHLO"));

	/* The session's deadline cuts a long operation timeout short. */
	struct sink k2 = { .stall = true };
	sink_start(&k2);
	c = cfg_of(&k2, SMTP_TLS_NONE);
	c.timeout_ms = 20000;
	c.total_ms = 300;
	t0 = ms_now();
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), ETIMEDOUT);
	took = ms_now() - t0;
	sink_stop(&k2);
	assert_true(took < 2000);

	/* A greeting line that never ends. */
	struct sink k3 = { .long_line = true };
	sink_start(&k3);
	c = cfg_of(&k3, SMTP_TLS_NONE);
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), EBADMSG);
	sink_stop(&k3);

	/* A reply that never ends. */
	struct sink k4 = { .many_lines = true };
	sink_start(&k4);
	c = cfg_of(&k4, SMTP_TLS_NONE);
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), EBADMSG);
	sink_stop(&k4);
	assert_false(k4.got_mail);

	/* Plaintext slipped in after "220 ready": refused, nothing sent. */
	struct sink k5 = { .offer_starttls = true, .inject = true };
	sink_start(&k5);
	c = cfg_of(&k5, SMTP_TLS_OPPORTUNISTIC);
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), EPROTO);
	sink_stop(&k5);
	assert_false(k5.got_mail);
	assert_non_null(strstr(status, "STARTTLS"));
}

static void test_nobody_and_bad_arguments(void **state)
{
	(void)state;
	/* A port nobody listens on. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof a;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	struct smtp_cfg c = { .host = "127.0.0.1", .port = ntohs(a.sin_port), .tls = SMTP_TLS_NONE,
			      .timeout_ms = 1000 };
	struct smtp_mail m = mail_of();
	char status[SMTP_STATUS_MAX];
	assert_int_equal(smtp_send(&c, &m, status, sizeof status), ECONNREFUSED);
	assert_int_equal(strncmp(status, "connect: ", 9), 0);

	/* Refused before any connection (which would say ECONNREFUSED). */
	struct smtp_mail b = mail_of();
	b.subject = "Hi\r\nBcc: eve@example.net";
	assert_int_equal(smtp_send(&c, &b, status, sizeof status), EINVAL);
	b = mail_of();
	b.to = "ann@example.org>\r\nRCPT TO:<eve@example.net";
	assert_int_equal(smtp_send(&c, &b, status, sizeof status), EINVAL);
	b = mail_of();
	b.from = "not an address";
	assert_int_equal(smtp_send(&c, &b, status, sizeof status), EINVAL);
	b = mail_of();
	b.attach_name = "a\"b.opus";
	assert_int_equal(smtp_send(&c, &b, status, sizeof status), EINVAL);
	b = mail_of();
	b.attach_type = "audio";
	assert_int_equal(smtp_send(&c, &b, status, sizeof status), EINVAL);
	b = mail_of();
	b.text = "bad \x01 control";
	assert_int_equal(smtp_send(&c, &b, status, sizeof status), EINVAL);
	b = mail_of();
	b.from_name = "\xff\xfe";
	assert_int_equal(smtp_send(&c, &b, status, sizeof status), EINVAL);
	b = mail_of();
	char path[160];
	snprintf(path, sizeof path, "%s/missing.opus", tmpdir);
	b.attach_path = path;
	assert_int_equal(smtp_send(&c, &b, status, sizeof status), ENOENT);
	assert_int_equal(strncmp(status, "attachment: ", 12), 0);

	struct smtp_cfg bc = c;
	bc.host = "";
	assert_int_equal(smtp_send(&bc, &m, status, sizeof status), EINVAL);
	bc = c;
	bc.port = 0;
	assert_int_equal(smtp_send(&bc, &m, status, sizeof status), EINVAL);
	bc = c;
	bc.helo = "bad helo\r\n";
	assert_int_equal(smtp_send(&bc, &m, status, sizeof status), EINVAL);
	assert_int_equal(smtp_send(NULL, &m, status, sizeof status), EINVAL);
}

/* ---- composition alone --------------------------------------------------------------------------- */

struct buf {
	char b[1 << 16];
	size_t n;
};

static int to_buf(void *ctx, const char *p, size_t n)
{
	struct buf *b = ctx;
	if (b->n + n >= sizeof b->b)
		return ENOSPC;
	memcpy(b->b + b->n, p, n);
	b->n += n;
	b->b[b->n] = '\0';
	return 0;
}

static void test_mime_encodings(void **state)
{
	(void)state;
	static struct buf b;
	struct smtp_mail m = {
		.from = "pbx@example.com",
		.from_name = "Zo\xc3\xab's PBX",
		.to = "ann@example.org",
		/* Long and non-ASCII: several encoded words, none splitting a character. */
		.subject = "Nouveau message vocal de \xc3\x89lo\xc3\xafse \xe2\x80\x94 extension 1002, "
			   "re\xc3\xa7u \xc3\xa0 10 h 30 \xe2\x80\x94 dur\xc3\xa9\x65 42 secondes",
		.text = "Bonjour,\nun message de \xc3\x89lo\xc3\xafse.\n",
	};
	b.n = 0;
	assert_int_equal(smtp_mime_write(&m, true, "Mon, 01 Jan 2024 00:00:00 +0000", "<x@example.com>", "BOUND",
					 to_buf, &b),
			 0);
	char v[1024];
	assert_true(header(b.b, b.n, "Subject", v, sizeof v));
	/* Decode every word and join them: the subject again. */
	char joined[512] = "";
	size_t jl = 0;
	for (char *w = strstr(v, "=?UTF-8?B?"); w; w = strstr(w, "=?UTF-8?B?")) {
		w += 10;
		char *e = strstr(w, "?=");
		assert_non_null(e);
		assert_true(e - w + 12 <= 75);
		long n = b64dec(w, (size_t)(e - w), (uint8_t *)joined + jl, sizeof joined - jl - 1);
		assert_true(n > 0);
		/* Each word is whole UTF-8 on its own: it does not start inside a character. */
		assert_true(((unsigned char)joined[jl] & 0xc0) != 0x80);
		jl += (size_t)n;
		w = e + 2;
	}
	joined[jl] = '\0';
	assert_string_equal(joined, m.subject);
	assert_true(header(b.b, b.n, "From", v, sizeof v));
	assert_int_equal(strncmp(v, "=?UTF-8?B?", 10), 0);
	assert_non_null(strstr(v, " <pbx@example.com>"));
	/* No attachment: one text part, 8bit since the relay takes it. */
	assert_true(header(b.b, b.n, "Content-Type", v, sizeof v));
	assert_string_equal(v, "text/plain; charset=UTF-8");
	assert_true(header(b.b, b.n, "Content-Transfer-Encoding", v, sizeof v));
	assert_string_equal(v, "8bit");
	assert_non_null(strstr(b.b, "\r\n\r\nBonjour,\r\nun message de \xc3\x89lo\xc3\xafse.\r\n"));

	/* Without 8BITMIME: base64 of the CRLF text. */
	b.n = 0;
	assert_int_equal(smtp_mime_write(&m, false, "d", "<x@y>", "B", to_buf, &b), 0);
	assert_true(header(b.b, b.n, "Content-Transfer-Encoding", v, sizeof v));
	assert_string_equal(v, "base64");
	const char *body = strstr(b.b, "\r\n\r\n") + 4;
	uint8_t dec[256];
	long n = b64dec(body, strlen(body), dec, sizeof dec - 1);
	assert_true(n > 0);
	dec[n] = '\0';
	assert_string_equal((char *)dec, "Bonjour,\r\nun message de \xc3\x89lo\xc3\xafse.\r\n");

	/* A line too long for SMTP: base64 even in ASCII. */
	static char longtext[3000];
	memset(longtext, 'x', sizeof longtext - 1);
	m.text = longtext;
	b.n = 0;
	assert_int_equal(smtp_mime_write(&m, true, "d", "<x@y>", "B", to_buf, &b), 0);
	assert_true(header(b.b, b.n, "Content-Transfer-Encoding", v, sizeof v));
	assert_string_equal(v, "base64");
	for (const char *q = strstr(b.b, "\r\n\r\n") + 4; *q;) {
		size_t l = strcspn(q, "\r");
		assert_true(l <= 76);
		q += l;
		if (*q)
			q += 2;
	}

	/* Arguments the composition refuses. */
	m.text = "ok";
	assert_int_equal(smtp_mime_write(&m, true, "d", "<x@y>", "bad boundary", to_buf, &b), EINVAL);
	assert_int_equal(smtp_mime_write(&m, true, "d\r\nX: y", "<x@y>", "B", to_buf, &b), EINVAL);
	assert_int_equal(smtp_mail_check(&m), 0);
	m.subject = "x\ny";
	assert_int_equal(smtp_mail_check(&m), EINVAL);
	/* An output error stops the writing and comes back. */
	m.subject = "s";
	struct buf *tiny = &b;
	tiny->n = sizeof tiny->b - 10;
	assert_int_equal(smtp_mime_write(&m, true, "d", "<x@y>", "B", to_buf, tiny), ENOSPC);
}

static void test_base64_vectors(void **state)
{
	(void)state;
	/* RFC 4648 section 10. */
	const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	const char *out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	char b[16];
	for (int i = 0; i < 7; i++) {
		assert_int_equal(smtp_base64((const uint8_t *)in[i], strlen(in[i]), b), strlen(out[i]));
		assert_string_equal(b, out[i]);
	}
	const uint8_t bin[3] = { 0xff, 0xfe, 0x00 };
	assert_int_equal(smtp_base64(bin, 3, b), 4);
	assert_string_equal(b, "//4A");
}

/* ---- certificates ------------------------------------------------------------------------------- */

static void make_cert(const char *cn, bool with_ip, gnutls_x509_crt_t *crt, gnutls_x509_privkey_t *key,
		      const char *pem_path)
{
	assert_int_equal(gnutls_x509_privkey_init(key), 0);
	assert_int_equal(gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
						      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
			 0);
	assert_int_equal(gnutls_x509_crt_init(crt), 0);
	gnutls_x509_crt_t c = *crt;
	assert_int_equal(gnutls_x509_crt_set_version(c, 3), 0);
	unsigned char serial[8] = { 1, 2, 3, 4, 5, 6, 7, (unsigned char)cn[0] };
	assert_int_equal(gnutls_x509_crt_set_serial(c, serial, sizeof serial), 0);
	time_t now = time(NULL);
	assert_int_equal(gnutls_x509_crt_set_activation_time(c, now - 3600), 0);
	assert_int_equal(gnutls_x509_crt_set_expiration_time(c, now + 3600), 0);
	assert_int_equal(gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn)), 0);
	assert_int_equal(gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_DNSNAME, cn, (unsigned)strlen(cn),
							      GNUTLS_FSAN_APPEND),
			 0);
	if (with_ip) {
		unsigned char ip[4] = { 127, 0, 0, 1 };
		assert_int_equal(gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_IPADDRESS, ip, 4, GNUTLS_FSAN_APPEND),
				 0);
	}
	assert_int_equal(gnutls_x509_crt_set_basic_constraints(c, 1, -1), 0);
	assert_int_equal(gnutls_x509_crt_set_key_usage(c, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN), 0);
	assert_int_equal(gnutls_x509_crt_set_key(c, *key), 0);
	assert_int_equal(gnutls_x509_crt_sign2(c, c, *key, GNUTLS_DIG_SHA256, 0), 0);
	gnutls_datum_t pem = { NULL, 0 };
	assert_int_equal(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &pem), 0);
	FILE *f = fopen(pem_path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(pem.data, 1, pem.size, f), pem.size);
	assert_int_equal(fclose(f), 0);
	gnutls_free(pem.data);
}

static int group_setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERR);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_smtp.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(ca_good, sizeof ca_good, "%s/good.pem", tmpdir);
	snprintf(ca_other, sizeof ca_other, "%s/other.pem", tmpdir);
	make_cert("localhost", true, &crt_good, &key_good, ca_good);
	make_cert("other.example", false, &crt_other, &key_other, ca_other);
	snprintf(attach_path, sizeof attach_path, "%s/msg.opus", tmpdir);
	make_file(attach_path, attach_bytes, sizeof attach_bytes);

	if (pthread_create(&worker, NULL, worker_main, NULL) != 0)
		return -1;
	/* GnuTLS keeps process-wide and per-thread state made on first use:
	 * make it here, outside the per-test leak check. */
	struct sink k = { .offer_starttls = true };
	sink_start(&k);
	struct smtp_cfg c = cfg_of(&k, SMTP_TLS_REQUIRED);
	struct smtp_mail m = mail_of();
	int rc = smtp_send(&c, &m, NULL, 0);
	sink_stop(&k);
	return rc == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	pthread_mutex_lock(&worker_mu);
	worker_quit = true;
	pthread_cond_broadcast(&worker_cv);
	pthread_mutex_unlock(&worker_mu);
	pthread_join(worker, NULL);
	gnutls_x509_crt_deinit(crt_good);
	gnutls_x509_crt_deinit(crt_other);
	gnutls_x509_privkey_deinit(key_good);
	gnutls_x509_privkey_deinit(key_other);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_plain_delivery),
		UNIT_TEST(test_plain_message_content),
		UNIT_TEST(test_starttls_auth_plain),
		UNIT_TEST(test_starttls_required_auth_login),
		UNIT_TEST(test_implicit_tls),
		UNIT_TEST(test_tls_required_not_offered),
		UNIT_TEST(test_no_password_in_clear),
		UNIT_TEST(test_wrong_password),
		UNIT_TEST(test_recipient_refused),
		UNIT_TEST(test_certificate_refused),
		UNIT_TEST(test_bounded_reads),
		UNIT_TEST(test_nobody_and_bad_arguments),
		UNIT_TEST(test_mime_encodings),
		UNIT_TEST(test_base64_vectors),
	};
	return cmocka_run_group_tests_name("smtp", tests, group_setup, group_teardown);
}
