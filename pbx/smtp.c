/*
 * smtp.c: one SMTP session that hands a message to a relay (see smtp.h).
 *
 * The session is a straight sequence (greeting, EHLO, STARTTLS and EHLO
 * again, AUTH, MAIL, RCPT, DATA, QUIT); each step sends one command and
 * reads one reply. The socket is non-blocking and every wait is a poll()
 * bounded by the operation's timeout and the session's deadline, whether
 * the bytes go through GnuTLS or not. Replies are read line by line from a
 * bounded buffer: a line longer than SMTP_LINE_MAX or a reply of more than
 * SMTP_REPLY_LINES_MAX lines ends the session (EBADMSG).
 *
 * Security: with SMTP_TLS_OPPORTUNISTIC a relay that does not offer
 * STARTTLS gets the message in clear, but never a password unless
 * auth_without_tls says so. The certificate is checked against the system
 * store (or ca_file) and the host name given. Bytes the relay sends after
 * its answer to STARTTLS and before the handshake are refused (plaintext
 * injection).
 */
#include "smtp.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#define CMD_MAX 1000    /* bytes of one command we send, CRLF included */
#define OUT_BUF 8192
#define QUIT_MS 2000    /* how long QUIT's answer is waited for */

struct sess {
	const struct smtp_cfg *cfg;
	int fd;
	gnutls_session_t tls;           /* set once the handshake started */
	gnutls_certificate_credentials_t cred;
	bool tls_on;                    /* the handshake finished */
	bool broken;                    /* the stream failed: no QUIT on it */
	uint64_t end_ms;                /* the session's deadline (monotonic) */
	unsigned op_ms;
	char in[2 * SMTP_LINE_MAX];     /* received, not yet read as lines */
	size_t in_len;
	char out[OUT_BUF];              /* to send */
	size_t out_len;
	bool line_start;                /* dot-stuffing: the next byte starts a line */
	int code;                       /* the last reply's code */
	char text[SMTP_STATUS_MAX];     /* its first line, printable */
	bool ext_starttls, ext_8bit, ext_plain, ext_login; /* what EHLO offered */
	char *status;
	size_t cap;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void say(struct sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The status line for the record: the first thing said wins (it is the
 * cause; what follows is consequence). */
static void say(struct sess *s, const char *fmt, ...)
{
	if (!s->status || !s->cap || s->status[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->status, s->cap, fmt, ap);
	va_end(ap);
	for (char *p = s->status; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

/* Wait for the socket within this operation's time and the session's. */
static int wait_fd(struct sess *s, short events, uint64_t until)
{
	for (;;) {
		uint64_t now = now_ms();
		uint64_t end = until < s->end_ms ? until : s->end_ms;
		if (now >= end)
			return ETIMEDOUT;
		struct pollfd p = { .fd = s->fd, .events = events };
		int r = poll(&p, 1, (int)(end - now));
		if (r > 0)
			return 0;
		if (r == 0)
			return ETIMEDOUT;
		if (errno != EINTR)
			return errno;
	}
}

static short tls_events(struct sess *s)
{
	return gnutls_record_get_direction(s->tls) ? POLLOUT : POLLIN;
}

static int raw_read(struct sess *s, char *buf, size_t cap, size_t *got, uint64_t until)
{
	for (;;) {
		ssize_t r;
		if (s->tls_on) {
			r = gnutls_record_recv(s->tls, buf, cap);
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
				int w = wait_fd(s, tls_events(s), until);
				if (w)
					return w;
				continue;
			}
			if (r < 0) {
				say(s, "TLS: %s", gnutls_strerror((int)r));
				return EIO;
			}
		} else {
			r = recv(s->fd, buf, cap, 0);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				int w = wait_fd(s, POLLIN, until);
				if (w)
					return w;
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return errno;
		}
		if (r == 0)
			return ECONNRESET;
		*got = (size_t)r;
		return 0;
	}
}

static int io_read(struct sess *s, char *buf, size_t cap, size_t *got, uint64_t until)
{
	int rc = raw_read(s, buf, cap, got, until);
	if (rc)
		s->broken = true;
	return rc;
}

static int raw_write(struct sess *s, const char *p, size_t n)
{
	uint64_t until = now_ms() + s->op_ms;
	while (n > 0) {
		ssize_t r;
		if (s->tls_on) {
			r = gnutls_record_send(s->tls, p, n);
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
				int w = wait_fd(s, tls_events(s), until);
				if (w)
					return w;
				continue; /* GnuTLS wants the same arguments again */
			}
			if (r < 0) {
				say(s, "TLS: %s", gnutls_strerror((int)r));
				return EIO;
			}
		} else {
			r = send(s->fd, p, n, MSG_NOSIGNAL);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				int w = wait_fd(s, POLLOUT, until);
				if (w)
					return w;
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int io_write(struct sess *s, const char *p, size_t n)
{
	int rc = raw_write(s, p, n);
	if (rc)
		s->broken = true;
	return rc;
}

static int flush(struct sess *s)
{
	int rc = io_write(s, s->out, s->out_len);
	s->out_len = 0;
	return rc;
}

static int out_put(struct sess *s, const char *p, size_t n)
{
	while (n > 0) {
		if (s->out_len == sizeof s->out) {
			int rc = flush(s);
			if (rc)
				return rc;
		}
		size_t k = sizeof s->out - s->out_len;
		if (k > n)
			k = n;
		memcpy(s->out + s->out_len, p, k);
		s->out_len += k;
		p += k;
		n -= k;
	}
	return 0;
}

/* One line without its CRLF into line (cap > SMTP_LINE_MAX). */
static int read_line(struct sess *s, char *line, size_t cap, uint64_t until)
{
	for (;;) {
		char *nl = memchr(s->in, '\n', s->in_len);
		if (nl) {
			size_t n = (size_t)(nl - s->in) + 1;
			size_t body = n - 1;
			if (body && s->in[body - 1] == '\r')
				body--;
			if (n > SMTP_LINE_MAX || body >= cap) {
				s->broken = true;
				return EBADMSG;
			}
			memcpy(line, s->in, body);
			line[body] = '\0';
			memmove(s->in, s->in + n, s->in_len - n);
			s->in_len -= n;
			return 0;
		}
		if (s->in_len >= SMTP_LINE_MAX) {
			s->broken = true;
			return EBADMSG;
		}
		size_t got = 0;
		int rc = io_read(s, s->in + s->in_len, sizeof s->in - s->in_len, &got, until);
		if (rc)
			return rc;
		s->in_len += got;
	}
}

static bool word_is(const char *p, size_t n, const char *w)
{
	return strlen(w) == n && strncasecmp(p, w, n) == 0;
}

/* An EHLO keyword line: STARTTLS, 8BITMIME, AUTH with its mechanisms. */
static void ehlo_line(struct sess *s, const char *l)
{
	size_t n = strcspn(l, " =");
	if (word_is(l, n, "STARTTLS")) {
		s->ext_starttls = true;
	} else if (word_is(l, n, "8BITMIME")) {
		s->ext_8bit = true;
	} else if (word_is(l, n, "AUTH")) {
		/* "AUTH PLAIN LOGIN" (and the old "AUTH=LOGIN"). */
		const char *p = l + n;
		while (*p) {
			p += strspn(p, " =");
			size_t k = strcspn(p, " ");
			if (word_is(p, k, "PLAIN"))
				s->ext_plain = true;
			else if (word_is(p, k, "LOGIN"))
				s->ext_login = true;
			p += k;
		}
	}
}

/* A whole reply: s->code and s->text. Lines must share the code; the
 * continuation marker is '-' after the code. */
static int read_reply(struct sess *s, bool ehlo, unsigned ms)
{
	uint64_t until = now_ms() + ms;
	char line[SMTP_LINE_MAX + 1];
	for (unsigned i = 0; i < SMTP_REPLY_LINES_MAX; i++) {
		int rc = read_line(s, line, sizeof line, until);
		if (rc == EBADMSG)
			say(s, "reply line longer than %d bytes", SMTP_LINE_MAX);
		if (rc)
			return rc;
		if (strlen(line) < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9' || (line[3] && line[3] != ' ' && line[3] != '-')) {
			say(s, "not an SMTP reply: %.60s", line);
			return EPROTO;
		}
		int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		if (i == 0) {
			s->code = code;
			size_t k = strnlen(line, sizeof s->text - 1);
			memcpy(s->text, line, k); /* cut: it is for the record only */
			s->text[k] = '\0';
			for (char *p = s->text; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
					*p = '?';
		} else if (code != s->code) {
			say(s, "reply codes differ within one reply");
			return EPROTO;
		} else if (ehlo) {
			ehlo_line(s, line + 4);
		}
		if (line[3] != '-')
			return 0;
	}
	say(s, "reply longer than %d lines", SMTP_REPLY_LINES_MAX);
	return EBADMSG;
}

static int send_line(struct sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int send_line(struct sess *s, const char *fmt, ...)
{
	char cmd[CMD_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof cmd - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof cmd - 2)
		return EINVAL;
	memcpy(cmd + n, "\r\n", 2);
	int rc = out_put(s, cmd, (size_t)n + 2);
	return rc ? rc : flush(s);
}

/* The reply must be of class want (2, 3): otherwise say why, by stage. */
static int expect(struct sess *s, const char *stage, int want)
{
	if (s->code / 100 == want)
		return 0;
	say(s, "%s: %s", stage, s->text);
	if (s->code / 100 == 4)
		return EAGAIN;
	if (s->code / 100 == 5)
		return ECONNREFUSED;
	return EPROTO;
}

/* Send a command, read its reply, expect a class. */
static int step(struct sess *s, const char *stage, int want, const char *cmd)
{
	int rc = send_line(s, "%s", cmd);
	if (!rc)
		rc = read_reply(s, false, s->op_ms);
	if (rc) {
		say(s, "%s: %s", stage, strerror(rc));
		return rc;
	}
	return expect(s, stage, want);
}

/* ---- connect and TLS ------------------------------------------------------------------- */

static int tcp_connect(struct sess *s)
{
	char port[8];
	snprintf(port, sizeof port, "%u", s->cfg->port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(s->cfg->host, port, &hints, &res);
	if (g != 0) {
		say(s, "connect: %s: %s", s->cfg->host, gai_strerror(g));
		return g == EAI_SYSTEM ? errno : EHOSTUNREACH;
	}
	int last = EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		s->fd = fd;
		int rc = 0;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			rc = errno;
			if (rc == EINPROGRESS) {
				rc = wait_fd(s, POLLOUT, now_ms() + s->op_ms);
				socklen_t len = sizeof rc;
				if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &len) != 0)
					rc = errno;
			}
		}
		if (rc == 0) {
			freeaddrinfo(res);
			return 0;
		}
		last = rc;
		close(fd);
		s->fd = -1;
		if (rc == ETIMEDOUT && now_ms() >= s->end_ms)
			break;
	}
	freeaddrinfo(res);
	say(s, "connect: %s", strerror(last));
	return last;
}

static bool is_ip_literal(const char *h)
{
	return strspn(h, "0123456789.") == strlen(h) || strchr(h, ':');
}

static int tls_start(struct sess *s)
{
	int r = gnutls_certificate_allocate_credentials(&s->cred);
	if (r < 0) {
		s->cred = NULL;
		return ENOMEM;
	}
	if (s->cfg->ca_file && *s->cfg->ca_file)
		r = gnutls_certificate_set_x509_trust_file(s->cred, s->cfg->ca_file, GNUTLS_X509_FMT_PEM);
	else
		r = gnutls_certificate_set_x509_system_trust(s->cred);
	if (r <= 0) {
		say(s, "TLS: no trusted certificates%s%s", s->cfg->ca_file ? " in " : "",
		    s->cfg->ca_file ? s->cfg->ca_file : "");
		return EIO;
	}
	if (gnutls_init(&s->tls, GNUTLS_CLIENT) < 0) {
		s->tls = NULL;
		return ENOMEM;
	}
	const char *host = s->cfg->host;
	if (gnutls_set_default_priority(s->tls) < 0 ||
	    gnutls_credentials_set(s->tls, GNUTLS_CRD_CERTIFICATE, s->cred) < 0 ||
	    (!is_ip_literal(host) && gnutls_server_name_set(s->tls, GNUTLS_NAME_DNS, host, strlen(host)) < 0)) {
		say(s, "TLS: cannot set up the session");
		return EIO;
	}
	/* The certificate must be trusted and name the host we asked for. */
	gnutls_session_set_verify_cert(s->tls, host, 0);
	gnutls_transport_set_int(s->tls, s->fd);
	uint64_t until = now_ms() + s->op_ms;
	for (;;) {
		r = gnutls_handshake(s->tls);
		if (r == 0)
			break;
		if (gnutls_error_is_fatal(r)) {
			if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
				gnutls_datum_t why = { NULL, 0 };
				unsigned st = gnutls_session_get_verify_cert_status(s->tls);
				if (gnutls_certificate_verification_status_print(st, GNUTLS_CRT_X509, &why, 0) == 0) {
					say(s, "TLS: %s", (const char *)why.data);
					gnutls_free(why.data);
				}
			}
			say(s, "TLS: %s", gnutls_strerror(r));
			return EIO;
		}
		int w = wait_fd(s, tls_events(s), until);
		if (w) {
			say(s, "TLS: handshake: %s", strerror(w));
			return w;
		}
	}
	s->tls_on = true;
	return 0;
}

/* ---- the session ---------------------------------------------------------------------------- */

static int ehlo(struct sess *s)
{
	s->ext_starttls = s->ext_8bit = s->ext_plain = s->ext_login = false;
	const char *helo = s->cfg->helo && *s->cfg->helo ? s->cfg->helo : "localhost";
	int rc = send_line(s, "EHLO %s", helo);
	if (!rc)
		rc = read_reply(s, true, s->op_ms);
	if (rc) {
		say(s, "EHLO: %s", strerror(rc));
		return rc;
	}
	return expect(s, "EHLO", 2);
}

static int starttls(struct sess *s)
{
	int rc = step(s, "STARTTLS", 2, "STARTTLS");
	if (rc)
		return rc;
	if (s->in_len) {
		say(s, "STARTTLS: the relay sent data before the handshake");
		return EPROTO;
	}
	rc = tls_start(s);
	if (rc)
		return rc;
	return ehlo(s); /* what was offered in clear no longer counts */
}

static int auth(struct sess *s)
{
	const struct smtp_cfg *c = s->cfg;
	size_t ul = strlen(c->user), pl = c->password ? strlen(c->password) : 0;
	if (ul > SMTP_CRED_MAX || pl > SMTP_CRED_MAX)
		return EINVAL;
	if (!s->tls_on && !c->auth_without_tls) {
		say(s, "AUTH: refused to send a password without TLS");
		return EPERM;
	}
	char b64[4 * ((2 * SMTP_CRED_MAX + 2 + 2) / 3) + 1];
	int rc;
	if (s->ext_plain) {
		uint8_t raw[2 * SMTP_CRED_MAX + 2];
		raw[0] = '\0';
		memcpy(raw + 1, c->user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, c->password ? c->password : "", pl);
		smtp_base64(raw, ul + pl + 2, b64);
		memset(raw, 0, sizeof raw);
		rc = send_line(s, "AUTH PLAIN %s", b64);
		memset(b64, 0, sizeof b64);
		if (!rc)
			rc = read_reply(s, false, s->op_ms);
	} else if (s->ext_login) {
		rc = step(s, "AUTH", 3, "AUTH LOGIN");
		if (rc)
			return rc == ECONNREFUSED ? EACCES : rc;
		smtp_base64((const uint8_t *)c->user, ul, b64);
		rc = send_line(s, "%s", b64);
		if (!rc)
			rc = read_reply(s, false, s->op_ms);
		if (!rc && s->code / 100 != 3) {
			memset(b64, 0, sizeof b64);
			goto verdict;
		}
		if (!rc) {
			smtp_base64((const uint8_t *)(c->password ? c->password : ""), pl, b64);
			rc = send_line(s, "%s", b64);
			if (!rc)
				rc = read_reply(s, false, s->op_ms);
		}
		memset(b64, 0, sizeof b64);
	} else {
		say(s, "AUTH: the relay offers neither PLAIN nor LOGIN");
		return ENOTSUP;
	}
	if (rc) {
		say(s, "AUTH: %s", strerror(rc));
		return rc;
	}
verdict:
	if (s->code == 235)
		return 0;
	say(s, "AUTH: %s", s->text);
	return s->code / 100 == 4 ? EAGAIN : EACCES;
}

/* smtp_mime_write's output, dot-stuffed into the send buffer. */
static int data_out(void *ctx, const char *p, size_t n)
{
	struct sess *s = ctx;
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		if (s->line_start && p[i] == '.') {
			int rc = out_put(s, p + from, i - from);
			if (!rc)
				rc = out_put(s, ".", 1); /* the extra dot; p[i] follows */
			if (rc)
				return rc;
			from = i;
		}
		s->line_start = p[i] == '\n';
	}
	return out_put(s, p + from, n - from);
}

static void date_now(char *out, size_t cap)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
		 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void hex(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int transaction(struct sess *s, const struct smtp_mail *m)
{
	int rc;
	char cmd[CMD_MAX];
	snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>%s", m->from, s->ext_8bit ? " BODY=8BITMIME" : "");
	if ((rc = step(s, "MAIL", 2, cmd)))
		return rc;
	snprintf(cmd, sizeof cmd, "RCPT TO:<%s>", m->to);
	if ((rc = step(s, "RCPT", 2, cmd)))
		return rc;
	if ((rc = step(s, "DATA", 3, "DATA")))
		return rc;

	uint8_t rnd[16];
	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd) != 0)
		return EIO;
	char r1[33], boundary[48], msgid[128], date[64];
	hex(rnd, sizeof rnd, r1);
	snprintf(boundary, sizeof boundary, "=_pbx_%s", r1);
	const char *domain = strchr(m->from, '@') + 1; /* checked by smtp_mail_check */
	snprintf(msgid, sizeof msgid, "<%s@%.80s>", r1, domain);
	date_now(date, sizeof date);
	s->line_start = true;
	rc = smtp_mime_write(m, s->ext_8bit, date, msgid, boundary, data_out, s);
	if (rc) {
		/* The relay waits for the end of DATA; there is none to give. */
		say(s, "message: %s", strerror(rc));
		return rc;
	}
	rc = out_put(s, ".\r\n", 3);
	if (!rc)
		rc = flush(s);
	if (!rc)
		rc = read_reply(s, false, s->op_ms);
	if (rc) {
		say(s, "DATA: %s", strerror(rc));
		return rc;
	}
	rc = expect(s, "DATA", 2);
	if (!rc)
		say(s, "sent: %s", s->text);
	return rc;
}

/* Say goodbye on a stream that still works; a relay that did not answer
 * in time before gets no more of our time. */
static void quit(struct sess *s)
{
	if (s->broken)
		return;
	if (send_line(s, "QUIT") == 0)
		read_reply(s, false, QUIT_MS < s->op_ms ? QUIT_MS : s->op_ms);
	if (s->tls_on)
		gnutls_bye(s->tls, GNUTLS_SHUT_WR); /* best effort: non-blocking */
}

static int cfg_ok(const struct smtp_cfg *c)
{
	if (!c || !c->host || !*c->host || strlen(c->host) > 253 || c->port == 0 ||
	    (unsigned)c->tls > SMTP_TLS_NONE)
		return EINVAL;
	if (c->helo && *c->helo &&
	    (strlen(c->helo) > 253 ||
	     strspn(c->helo, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-[]:") != strlen(c->helo)))
		return EINVAL;
	if (c->user && *c->user && (strlen(c->user) > SMTP_CRED_MAX ||
				    (c->password && strlen(c->password) > SMTP_CRED_MAX)))
		return EINVAL;
	return 0;
}

/* The attachment must be there and small enough before we connect: a
 * failure mid-DATA leaves the relay hanging. */
static int attachment_ok(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EINVAL;
	return st.st_size > (off_t)SMTP_ATTACH_MAX ? EFBIG : 0;
}

int smtp_send(const struct smtp_cfg *cfg, const struct smtp_mail *mail, char *status, size_t cap)
{
	if (status && cap)
		status[0] = '\0';
	struct sess *s = calloc(1, sizeof *s);
	if (!s)
		return ENOMEM;
	s->cfg = cfg;
	s->fd = -1;
	s->status = status;
	s->cap = cap;
	int rc = cfg_ok(cfg);
	if (rc) {
		say(s, "bad relay settings");
		goto out;
	}
	if ((rc = smtp_mail_check(mail)) != 0) {
		say(s, "bad message: an address, the subject or the text");
		goto out;
	}
	if (mail->attach_path && (rc = attachment_ok(mail->attach_path)) != 0) {
		say(s, "attachment: %s", strerror(rc));
		goto out;
	}
	s->op_ms = cfg->timeout_ms ? cfg->timeout_ms : SMTP_TIMEOUT_MS;
	s->end_ms = now_ms() + (cfg->total_ms ? cfg->total_ms : SMTP_TOTAL_MS);

	if ((rc = tcp_connect(s)))
		goto out;
	if (cfg->tls == SMTP_TLS_IMPLICIT && (rc = tls_start(s)))
		goto out;
	rc = read_reply(s, false, s->op_ms);
	if (rc) {
		say(s, "greeting: %s", strerror(rc));
		goto out;
	}
	if ((rc = expect(s, "greeting", 2)))
		goto out;
	if ((rc = ehlo(s)))
		goto bye;
	if (!s->tls_on && cfg->tls != SMTP_TLS_NONE) {
		if (s->ext_starttls) {
			if ((rc = starttls(s)))
				goto out; /* the stream is in an unknown state: no QUIT */
		} else if (cfg->tls == SMTP_TLS_REQUIRED) {
			say(s, "STARTTLS: not offered by the relay");
			rc = ENOTSUP;
			goto bye;
		}
	}
	if (cfg->user && *cfg->user && (rc = auth(s)))
		goto bye;
	rc = transaction(s, mail);
	if (rc && s->code == 354)
		goto out; /* stopped inside DATA: drop the connection, the relay discards it */
bye:
	quit(s);
out:
	if (rc && s->status && s->cap && !s->status[0])
		say(s, "%s", strerror(rc));
	if (rc)
		log_notice("smtp: %s:%u: %s", cfg && cfg->host ? cfg->host : "?", cfg ? cfg->port : 0,
			   status && cap ? status : strerror(rc));
	if (s->tls)
		gnutls_deinit(s->tls);
	if (s->cred)
		gnutls_certificate_free_credentials(s->cred);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return rc;
}
