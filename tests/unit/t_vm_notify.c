/*
 * t_vm_notify.c: the voicemail email thread end to end, with a real SQLite
 * file and a real recording (2 s of tone through vm_rec_*) in a temporary
 * folder, and an SMTP sink written here that listens on loopback in a
 * thread of its own: a message posted is mailed to its mailbox's address
 * with the recording attached (base64 decoding to the file's bytes) and
 * "sent: ..." lands on its row; a 550 is recorded as a failure without a
 * second try; a 451 is tried again and then succeeds, or fails after the
 * configured tries; a mailbox without an address sends nothing and leaves
 * the status empty; no relay configured says so on the row; a full queue
 * marks the dropped rows; stopping while the relay holds a session open
 * returns within the bound. Also the checks of the smtp_* settings.
 *
 * The tests that start the thread run without the per-test heap check:
 * GnuTLS (smtp_send takes random bytes for the Message-ID) keeps state per
 * thread until the process ends, which that check would count as a leak.
 * LeakSanitizer still checks them in the ASan build.
 */
#include "unit.h"

#include "db.h"
#include "log.h"
#include "vm_file.h"
#include "vm_notify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

static char tmpdir[64];
static char spool[128];
static char rec_rel[VM_FILE_REL_MAX + 1]; /* the recording every message row points at */
static uint8_t *rec_bytes;                /* its content */
static size_t rec_len;
static unsigned db_seq;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* ---- the SMTP sink --------------------------------------------------------------------------- */

enum sink_mode {
	SINK_OK,          /* takes every message */
	SINK_451_ONCE,    /* 451 to RCPT on the first connection, then takes them */
	SINK_451_ALWAYS,  /* 451 to every RCPT */
	SINK_550,         /* 550 to every RCPT */
	SINK_SILENT,      /* accepts the connection and says nothing */
};

struct sink {
	enum sink_mode mode;
	int lfd;
	uint16_t port;
	pthread_t thread;
	atomic_bool stop;

	pthread_mutex_t mu; /* what it saw, read by the test */
	unsigned conns;     /* connections accepted */
	unsigned mails;     /* messages taken (250 after the final dot) */
	unsigned closed;    /* connections the client closed */
	char rcpt[300];     /* RCPT TO argument of the last message taken */
	char *data;         /* the last message taken, dot-stuffing undone */
	size_t data_len;

	/* The connection being served (sink thread only). */
	int fd;
	char in[4096];
	size_t in_len;
};

static void sink_send(struct sink *k, const char *s)
{
	(void)!send(k->fd, s, strlen(s), MSG_NOSIGNAL);
}

/* One line without its CRLF; false when the client closed (counted), after
 * 10 s, or when the sink is stopped. */
static bool sink_line(struct sink *k, char *line, size_t cap)
{
	uint64_t end = now_ms() + 10000;
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
		if (k->in_len == sizeof k->in || atomic_load(&k->stop) || now_ms() >= end)
			return false;
		struct pollfd p = { .fd = k->fd, .events = POLLIN };
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t r = recv(k->fd, k->in + k->in_len, sizeof k->in - k->in_len, 0);
		if (r <= 0) {
			pthread_mutex_lock(&k->mu);
			k->closed++;
			pthread_mutex_unlock(&k->mu);
			return false;
		}
		k->in_len += (size_t)r;
	}
}

static void sink_data(struct sink *k, const char *rcpt)
{
	sink_send(k, "354 go ahead\r\n");
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	char line[1100];
	while (buf && sink_line(k, line, sizeof line)) {
		if (strcmp(line, ".") == 0) {
			sink_send(k, "250 2.0.0 Ok: queued as SINK1\r\n");
			pthread_mutex_lock(&k->mu);
			k->mails++;
			snprintf(k->rcpt, sizeof k->rcpt, "%s", rcpt);
			free(k->data);
			k->data = buf;
			k->data_len = len;
			pthread_mutex_unlock(&k->mu);
			return;
		}
		const char *l = line[0] == '.' ? line + 1 : line;
		size_t n = strlen(l);
		if (len + n + 2 < cap) {
			memcpy(buf + len, l, n);
			memcpy(buf + len + n, "\r\n", 2);
			len += n + 2;
		}
	}
	free(buf);
}

static void sink_serve(struct sink *k, unsigned conn)
{
	char line[1100], rcpt[300] = "";
	if (k->mode == SINK_SILENT) {
		while (sink_line(k, line, sizeof line))
			;
		return;
	}
	sink_send(k, "220 sink ESMTP\r\n");
	while (sink_line(k, line, sizeof line)) {
		if (strncasecmp(line, "EHLO ", 5) == 0) {
			sink_send(k, "250-sink greets you\r\n250 SIZE 10240000\r\n");
		} else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
			sink_send(k, "250 2.1.0 ok\r\n");
		} else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
			snprintf(rcpt, sizeof rcpt, "%.299s", line + 8);
			if (k->mode == SINK_550)
				sink_send(k, "550 5.1.1 no such user here\r\n");
			else if (k->mode == SINK_451_ALWAYS || (k->mode == SINK_451_ONCE && conn == 1))
				sink_send(k, "451 4.3.0 try again later\r\n");
			else
				sink_send(k, "250 2.1.5 ok\r\n");
		} else if (strcasecmp(line, "DATA") == 0) {
			sink_data(k, rcpt);
		} else if (strcasecmp(line, "QUIT") == 0) {
			sink_send(k, "221 2.0.0 bye\r\n");
			return;
		} else {
			sink_send(k, "500 5.5.1 what\r\n");
		}
	}
}

static void *sink_main(void *arg)
{
	struct sink *k = arg;
	while (!atomic_load(&k->stop)) {
		struct pollfd p = { .fd = k->lfd, .events = POLLIN };
		if (poll(&p, 1, 50) != 1)
			continue;
		k->fd = accept4(k->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (k->fd < 0)
			continue;
		pthread_mutex_lock(&k->mu);
		unsigned conn = ++k->conns;
		pthread_mutex_unlock(&k->mu);
		k->in_len = 0;
		sink_serve(k, conn);
		close(k->fd);
		k->fd = -1;
	}
	return NULL;
}

static void sink_start(struct sink *k, enum sink_mode mode)
{
	memset(k, 0, sizeof *k);
	k->mode = mode;
	k->fd = -1;
	pthread_mutex_init(&k->mu, NULL);
	k->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(k->lfd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(k->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(k->lfd, 8), 0);
	socklen_t len = sizeof a;
	assert_int_equal(getsockname(k->lfd, (struct sockaddr *)&a, &len), 0);
	k->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&k->thread, NULL, sink_main, k), 0);
}

/* Bounded: every wait in the sink checks stop within 50 ms. */
static void sink_stop(struct sink *k)
{
	atomic_store(&k->stop, true);
	pthread_join(k->thread, NULL);
	close(k->lfd);
	free(k->data);
	k->data = NULL;
	pthread_mutex_destroy(&k->mu);
}

static unsigned sink_count(struct sink *k, const unsigned *field)
{
	pthread_mutex_lock(&k->mu);
	unsigned v = *field;
	pthread_mutex_unlock(&k->mu);
	return v;
}

/* Wait (at most ms) for a counter of the sink to reach want. */
static bool sink_wait(struct sink *k, const unsigned *field, unsigned want, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	while (sink_count(k, field) < want) {
		if (now_ms() >= end)
			return false;
		nap_ms(10);
	}
	return true;
}

/* ---- the database ---------------------------------------------------------------------------- */

static sqlite3 *fresh_db(char *path, size_t cap)
{
	snprintf(path, cap, "%s/n%u.db", tmpdir, ++db_seq);
	sqlite3 *db = NULL;
	char err[256];
	int rc = db_open(path, &db, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "db_open: %s\n", err);
	assert_int_equal(rc, 0);
	return db;
}

static void set(sqlite3 *db, const char *key, const char *value)
{
	char err[256];
	int rc = db_setting_set(db, key, value, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "db_setting_set: %s\n", err);
	assert_int_equal(rc, 0);
}

/* Extension number with a mailbox sending to email ("" = none). */
static void add_box(sqlite3 *db, const char *number, const char *email, bool attach)
{
	char err[256];
	assert_int_equal(db_ext_add(db, number, "", "secret1", "1234", err, sizeof err), 0);
	struct db_mailbox m;
	assert_int_equal(db_vm_mailbox_get(db, number, &m), 0);
	snprintf(m.email, sizeof m.email, "%s", email);
	m.email_attach = attach;
	int rc = db_vm_mailbox_set(db, &m, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "db_vm_mailbox_set: %s\n", err);
	assert_int_equal(rc, 0);
}

static void relay_settings(sqlite3 *db, uint16_t port)
{
	char p[16];
	snprintf(p, sizeof p, "%u", port);
	set(db, "smtp_host", "127.0.0.1");
	set(db, "smtp_port", p);
	set(db, "smtp_tls", "none");
	set(db, "smtp_from", "pbx@example.com");
}

/* A message row in mailbox from caller, pointing at the recording. */
static int64_t add_msg(sqlite3 *db, const char *mailbox, const char *caller, const char *caller_name)
{
	struct db_vm_msg m = { .folder = DB_VM_NEW, .received_at = 1795000000000, .duration_ms = 2000 };
	snprintf(m.mailbox, sizeof m.mailbox, "%s", mailbox);
	snprintf(m.caller, sizeof m.caller, "%s", caller);
	snprintf(m.caller_name, sizeof m.caller_name, "%s", caller_name);
	snprintf(m.file, sizeof m.file, "%s", rec_rel);
	int64_t id = 0;
	assert_int_equal(db_vm_msg_add(db, &m, &id), 0);
	return id;
}

static void status_of(sqlite3 *db, const char *mailbox, int64_t id, char *out, size_t cap)
{
	struct db_vm_msg m;
	assert_int_equal(db_vm_msg_get(db, mailbox, id, &m), 0);
	snprintf(out, cap, "%s", m.email_status);
}

/* Wait (at most ms) for the row's email_status to start with prefix; out
 * gets the last status seen. */
static bool wait_status(sqlite3 *db, const char *mailbox, int64_t id, const char *prefix, char *out,
			size_t cap, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	for (;;) {
		status_of(db, mailbox, id, out, cap);
		if (strncmp(out, prefix, strlen(prefix)) == 0)
			return true;
		if (now_ms() >= end) {
			fprintf(stderr, "# status of %lld: \"%s\", wanted \"%s...\"\n", (long long)id, out, prefix);
			return false;
		}
		nap_ms(10);
	}
}

static struct vm_notify *start(const char *db_path, unsigned retry_ms, unsigned tries)
{
	struct vm_notify_cfg cfg = { .db_path = db_path, .spool = spool, .retry_ms = retry_ms, .tries = tries,
				     .smtp_timeout_ms = 5000, .smtp_total_ms = 10000 };
	struct vm_notify *n = NULL;
	assert_int_equal(vm_notify_start_cfg(&n, &cfg), 0);
	assert_non_null(n);
	return n;
}

/* ---- the message as received ----------------------------------------------------------------- */

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

/* Decode, skipping line breaks, up to the end or '='; -1 on a bad byte. */
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

/* The first line of the header block that starts with name (e.g.
 * "Subject: "), without its CRLF. */
static bool header_line(const char *msg, size_t len, const char *name, char *out, size_t cap)
{
	const char *end = memmem(msg, len, "\r\n\r\n", 4);
	if (!end)
		return false;
	const char *p = msg;
	size_t nl = strlen(name);
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		if (!eol)
			break;
		if ((size_t)(eol - p) >= nl && strncasecmp(p, name, nl) == 0) {
			snprintf(out, cap, "%.*s", (int)(eol - p - (long)nl), p + nl);
			return true;
		}
		p = eol + 2;
	}
	return false;
}

/* The attachment of the message: the part whose Content-Type is audio/ogg,
 * base64-decoded into out. Returns its length or -1. */
static long attachment(const char *msg, size_t len, uint8_t *out, size_t cap)
{
	const char *ct = memmem(msg, len, "Content-Type: audio/ogg", 23);
	if (!ct)
		return -1;
	size_t left = len - (size_t)(ct - msg);
	const char *body = memmem(ct, left, "\r\n\r\n", 4);
	if (!body)
		return -1;
	body += 4;
	const char *stop = memmem(body, len - (size_t)(body - msg), "\r\n--", 4);
	if (!stop)
		return -1;
	return b64dec(body, (size_t)(stop - body), out, cap);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_sent_with_attachment(void **state)
{
	(void)state;
	struct sink k;
	sink_start(&k, SINK_OK);
	char path[128], st[DB_VM_STATUS_MAX + 1];
	sqlite3 *db = fresh_db(path, sizeof path);
	add_box(db, "1001", "alice@example.com", true);
	relay_settings(db, k.port);
	int64_t id = add_msg(db, "1001", "1002", "");
	struct vm_notify *n = start(path, 0, 0);
	vm_notify_post(n, id);
	assert_true(wait_status(db, "1001", id, "sent: ", st, sizeof st, 10000));
	assert_string_equal(st, "sent: 250 2.0.0 Ok: queued as SINK1");
	vm_notify_stop(n);

	assert_int_equal(sink_count(&k, &k.mails), 1);
	assert_int_equal(sink_count(&k, &k.conns), 1);
	assert_string_equal(k.rcpt, "<alice@example.com>");
	char h[400];
	assert_true(header_line(k.data, k.data_len, "To: ", h, sizeof h));
	assert_non_null(strstr(h, "alice@example.com"));
	assert_true(header_line(k.data, k.data_len, "Subject: ", h, sizeof h));
	assert_string_equal(h, "New voicemail from 1002 (0:02)");
	assert_true(header_line(k.data, k.data_len, "From: ", h, sizeof h));
	assert_non_null(strstr(h, "pbx@example.com"));
	/* The text says who, when and how long. */
	assert_non_null(memmem(k.data, k.data_len, "From:     1002", 14));
	assert_non_null(memmem(k.data, k.data_len, "Length:   0:02", 14));
	assert_non_null(memmem(k.data, k.data_len, "Received: ", 10));
	assert_non_null(memmem(k.data, k.data_len, "voicemail-1001-", 15));

	uint8_t *got = malloc(rec_len + 64);
	assert_non_null(got);
	long glen = attachment(k.data, k.data_len, got, rec_len + 64);
	assert_int_equal(glen, (long)rec_len);
	assert_memory_equal(got, rec_bytes, rec_len);
	free(got);

	db_close(db);
	sink_stop(&k);
}

static void test_display_name_and_no_attachment(void **state)
{
	(void)state;
	struct sink k;
	sink_start(&k, SINK_OK);
	char path[128], st[DB_VM_STATUS_MAX + 1];
	sqlite3 *db = fresh_db(path, sizeof path);
	add_box(db, "1001", "alice@example.com", false);
	relay_settings(db, k.port);
	int64_t id = add_msg(db, "1001", "1002", "Bob");
	struct vm_notify *n = start(path, 0, 0);
	vm_notify_post(n, id);
	assert_true(wait_status(db, "1001", id, "sent: ", st, sizeof st, 10000));
	vm_notify_stop(n);
	char h[400];
	assert_true(header_line(k.data, k.data_len, "Subject: ", h, sizeof h));
	assert_string_equal(h, "New voicemail from Bob <1002> (0:02)");
	assert_null(memmem(k.data, k.data_len, "audio/ogg", 9));
	db_close(db);
	sink_stop(&k);
}

static void test_refused_recorded(void **state)
{
	(void)state;
	struct sink k;
	sink_start(&k, SINK_550);
	char path[128], st[DB_VM_STATUS_MAX + 1];
	sqlite3 *db = fresh_db(path, sizeof path);
	add_box(db, "1001", "alice@example.com", true);
	relay_settings(db, k.port);
	int64_t id = add_msg(db, "1001", "1002", "");
	struct vm_notify *n = start(path, 20, 3);
	vm_notify_post(n, id);
	assert_true(wait_status(db, "1001", id, "failed: ", st, sizeof st, 10000));
	assert_string_equal(st, "failed: RCPT: 550 5.1.1 no such user here");
	/* A refusal is not tried again: a while later still one connection. */
	nap_ms(200);
	vm_notify_stop(n);
	assert_int_equal(sink_count(&k, &k.conns), 1);
	assert_int_equal(sink_count(&k, &k.mails), 0);
	db_close(db);
	sink_stop(&k);
}

static void test_temporary_then_sent(void **state)
{
	(void)state;
	struct sink k;
	sink_start(&k, SINK_451_ONCE);
	char path[128], st[DB_VM_STATUS_MAX + 1];
	sqlite3 *db = fresh_db(path, sizeof path);
	add_box(db, "1001", "alice@example.com", true);
	relay_settings(db, k.port);
	int64_t id = add_msg(db, "1001", "1002", "");
	struct vm_notify *n = start(path, 300, 3);
	vm_notify_post(n, id);
	/* Between the tries the row says why it waits. */
	assert_true(wait_status(db, "1001", id, "retrying: RCPT: 451", st, sizeof st, 10000));
	assert_true(wait_status(db, "1001", id, "sent: ", st, sizeof st, 10000));
	vm_notify_stop(n);
	assert_int_equal(sink_count(&k, &k.conns), 2);
	assert_int_equal(sink_count(&k, &k.mails), 1);
	assert_string_equal(k.rcpt, "<alice@example.com>");
	db_close(db);
	sink_stop(&k);
}

static void test_temporary_gives_up(void **state)
{
	(void)state;
	struct sink k;
	sink_start(&k, SINK_451_ALWAYS);
	char path[128], st[DB_VM_STATUS_MAX + 1];
	sqlite3 *db = fresh_db(path, sizeof path);
	add_box(db, "1001", "alice@example.com", true);
	relay_settings(db, k.port);
	int64_t id = add_msg(db, "1001", "1002", "");
	struct vm_notify *n = start(path, 20, 3);
	uint64_t t0 = now_ms();
	vm_notify_post(n, id);
	assert_true(wait_status(db, "1001", id, "failed: ", st, sizeof st, 10000));
	/* Waits of 20 then 80 ms between the three tries. */
	assert_true(now_ms() - t0 >= 100);
	assert_string_equal(st, "failed: RCPT: 451 4.3.0 try again later");
	nap_ms(200);
	vm_notify_stop(n);
	assert_int_equal(sink_count(&k, &k.conns), 3);
	assert_int_equal(sink_count(&k, &k.mails), 0);
	db_close(db);
	sink_stop(&k);
}

static void test_nobody_listening_retried(void **state)
{
	(void)state;
	/* A port nobody listens on: take one and close it. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof a;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	char path[128], st[DB_VM_STATUS_MAX + 1];
	sqlite3 *db = fresh_db(path, sizeof path);
	add_box(db, "1001", "alice@example.com", true);
	relay_settings(db, ntohs(a.sin_port));
	int64_t id = add_msg(db, "1001", "1002", "");
	struct vm_notify *n = start(path, 300, 2);
	vm_notify_post(n, id);
	assert_true(wait_status(db, "1001", id, "retrying: connect: ", st, sizeof st, 10000));
	assert_true(wait_status(db, "1001", id, "failed: connect: ", st, sizeof st, 10000));
	vm_notify_stop(n);
	db_close(db);
}

static void test_no_email_sends_nothing(void **state)
{
	(void)state;
	struct sink k;
	sink_start(&k, SINK_OK);
	char path[128], st[DB_VM_STATUS_MAX + 1];
	sqlite3 *db = fresh_db(path, sizeof path);
	add_box(db, "1001", "alice@example.com", true);
	add_box(db, "1003", "", true);
	relay_settings(db, k.port);
	int64_t quiet = add_msg(db, "1003", "1002", "");
	int64_t loud = add_msg(db, "1001", "1002", "");
	struct vm_notify *n = start(path, 0, 0);
	/* One at a time, in order: once the second is sent the first is done. */
	vm_notify_post(n, quiet);
	vm_notify_post(n, loud);
	assert_true(wait_status(db, "1001", loud, "sent: ", st, sizeof st, 10000));
	vm_notify_stop(n);
	status_of(db, "1003", quiet, st, sizeof st);
	assert_string_equal(st, "");
	assert_int_equal(sink_count(&k, &k.mails), 1);
	assert_string_equal(k.rcpt, "<alice@example.com>");
	db_close(db);
	sink_stop(&k);
}

static void test_no_relay_configured(void **state)
{
	(void)state;
	char path[128], st[DB_VM_STATUS_MAX + 1];
	sqlite3 *db = fresh_db(path, sizeof path);
	add_box(db, "1001", "alice@example.com", true);
	int64_t id = add_msg(db, "1001", "1002", "");
	struct vm_notify *n = start(path, 0, 0);
	vm_notify_post(n, id);
	assert_true(wait_status(db, "1001", id, "not sent: ", st, sizeof st, 10000));
	assert_string_equal(st, "not sent: no relay (setting smtp_host)");
	vm_notify_stop(n);
	db_close(db);
}

/* While the thread is held in a session by a silent relay, posts beyond
 * the queue are dropped and their rows marked; stop returns within its
 * bound and the thread, left alone, ends the session and marks what it did
 * not send. */
static void test_silent_relay_queue_full_and_stop(void **state)
{
	(void)state;
	struct sink k;
	sink_start(&k, SINK_SILENT);
	char path[128], st[DB_VM_STATUS_MAX + 1];
	sqlite3 *db = fresh_db(path, sizeof path);
	add_box(db, "1001", "alice@example.com", true);
	relay_settings(db, k.port);
	int64_t held = add_msg(db, "1001", "1002", "");
	int64_t queued = add_msg(db, "1001", "1002", "");
	int64_t dropped = add_msg(db, "1001", "1002", "");
	struct vm_notify_cfg cfg = { .db_path = path, .spool = spool, .stop_ms = 300,
				     .smtp_timeout_ms = 2000, .smtp_total_ms = 4000 };
	struct vm_notify *n = NULL;
	assert_int_equal(vm_notify_start_cfg(&n, &cfg), 0);
	vm_notify_post(n, held);
	assert_true(sink_wait(&k, &k.conns, 1, 5000));
	vm_notify_post(n, queued);
	for (unsigned i = 1; i < VM_NOTIFY_QUEUE_MAX; i++)
		vm_notify_post(n, 1000000 + i); /* no such rows */
	assert_int_equal(vm_notify_dropped(n), 0);
	vm_notify_post(n, dropped);
	assert_int_equal(vm_notify_dropped(n), 1);

	uint64_t t0 = now_ms();
	vm_notify_stop(n);
	uint64_t took = now_ms() - t0;
	fprintf(stderr, "# vm_notify_stop took %llu ms\n", (unsigned long long)took);
	assert_true(took >= 250 && took < 1500);

	/* The session times out (2 s), then everything left is marked. */
	assert_true(sink_wait(&k, &k.closed, 1, 10000));
	assert_true(wait_status(db, "1001", held, "not sent: stopped before sending", st, sizeof st, 10000));
	assert_true(wait_status(db, "1001", queued, "not sent: stopped before sending", st, sizeof st, 10000));
	assert_true(wait_status(db, "1001", dropped, "not sent: queue full", st, sizeof st, 10000));
	assert_int_equal(sink_count(&k, &k.mails), 0);
	db_close(db);
	sink_stop(&k);
}

static void test_stop_idle_and_null(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = fresh_db(path, sizeof path);
	struct vm_notify *n = start(path, 0, 0);
	uint64_t t0 = now_ms();
	vm_notify_stop(n);
	assert_true(now_ms() - t0 < 1000);
	vm_notify_post(NULL, 1);
	vm_notify_stop(NULL);
	assert_int_equal(vm_notify_dropped(NULL), 0);
	struct vm_notify_cfg bad = { .db_path = NULL, .spool = spool };
	assert_int_equal(vm_notify_start_cfg(&n, &bad), EINVAL);
	assert_null(n);
	db_close(db);
}

static void test_settings_checked(void **state)
{
	(void)state;
	char err[256];
	static const char *const good[][2] = {
		{ "smtp_host", "smtp.example.com" }, { "smtp_host", "192.0.2.1" }, { "smtp_host", "2001:db8::1" },
		{ "smtp_host", "" },		       { "smtp_port", "1" },	    { "smtp_port", "65535" },
		{ "smtp_tls", "opportunistic" },      { "smtp_tls", "required" },  { "smtp_tls", "implicit" },
		{ "smtp_tls", "none" },	       { "smtp_user", "user@example.com" },
		{ "smtp_password", "p a$$ word" },    { "smtp_from", "pbx@example.com" }, { "smtp_from", "" },
		{ "smtp_ca_file", "/etc/ssl/certs/ca.pem" }, { "smtp_ca_file", "" },
	};
	static const char *const bad[][2] = {
		{ "smtp_host", "smtp example.com" }, { "smtp_host", "-x" },   { "smtp_host", "a/b" },
		{ "smtp_port", "0" },		      { "smtp_port", "65536" }, { "smtp_port", "25x" },
		{ "smtp_port", "" },		      { "smtp_tls", "yes" },    { "smtp_tls", "" },
		{ "smtp_from", "pbx" },	      { "smtp_from", "a@b,c@d" }, { "smtp_from", "<a@b>" },
		{ "smtp_ca_file", "ca.pem" },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int rc = db_setting_validate(good[i][0], good[i][1], err, sizeof err);
		if (rc != 0)
			fprintf(stderr, "# %s=%s: %s\n", good[i][0], good[i][1], err);
		assert_int_equal(rc, 0);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_int_equal(db_setting_validate(bad[i][0], bad[i][1], err, sizeof err), EINVAL);
		assert_non_null(strstr(err, bad[i][0])); /* the message names the key */
	}
	char long_user[300];
	memset(long_user, 'u', 256);
	long_user[256] = '\0';
	assert_int_equal(db_setting_validate("smtp_user", long_user, err, sizeof err), EINVAL);
	long_user[255] = '\0';
	assert_int_equal(db_setting_validate("smtp_user", long_user, err, sizeof err), 0);
}

/* ---- setup ----------------------------------------------------------------------------------- */

static int group_setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERR);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_vm_notify.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(spool, sizeof spool, "%s/spool", tmpdir);
	if (mkdir(spool, 0700) != 0)
		return -1;
	/* 2 s of a 440 Hz tone, as a deposit records it. */
	struct vm_rec *r = NULL;
	if (vm_rec_open(&r, spool, "1001", 10000) != 0)
		return -1;
	int16_t chunk[160];
	size_t at = 0;
	for (unsigned t = 0; t < 2000; t += 20) {
		for (size_t i = 0; i < 160; i++, at++)
			chunk[i] = (int16_t)lrint(8000 * sin(2.0 * M_PI * 440.0 * (double)at / VM_FILE_RATE));
		if (vm_rec_write(r, chunk, 160) != 0) {
			vm_rec_abort(r);
			return -1;
		}
	}
	uint32_t dur = 0;
	if (vm_rec_commit(r, NULL, rec_rel, sizeof rec_rel, &dur) != 0 || dur != 2000)
		return -1;
	char path[PATH_MAX];
	if (vm_file_path(path, sizeof path, spool, rec_rel) != 0)
		return -1;
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	rec_bytes = malloc(1 << 20);
	rec_len = rec_bytes ? fread(rec_bytes, 1, 1 << 20, f) : 0;
	fclose(f);
	return rec_len > 100 && rec_len < (1 << 20) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	free(rec_bytes);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_settings_checked),
		cmocka_unit_test(test_sent_with_attachment),
		cmocka_unit_test(test_display_name_and_no_attachment),
		cmocka_unit_test(test_refused_recorded),
		cmocka_unit_test(test_temporary_then_sent),
		cmocka_unit_test(test_temporary_gives_up),
		cmocka_unit_test(test_nobody_listening_retried),
		cmocka_unit_test(test_no_email_sends_nothing),
		cmocka_unit_test(test_no_relay_configured),
		cmocka_unit_test(test_stop_idle_and_null),
		cmocka_unit_test(test_silent_relay_queue_full_and_stop),
	};
	return cmocka_run_group_tests_name("vm_notify", tests, group_setup, group_teardown);
}
