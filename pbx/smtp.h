/*
 * smtp.h: a small blocking SMTP client that hands one message to a relay,
 * for voicemail notifications (no local MTA needed).
 *
 * smtp_send runs a whole session: TCP connect with a timeout (every address
 * of the host in turn), EHLO, STARTTLS with GnuTLS when the relay offers it
 * or when it is required (or TLS from the first byte, port 465), AUTH PLAIN
 * or LOGIN, MAIL/RCPT/DATA with the message dot-stuffed, QUIT. Every read is
 * bounded in size (SMTP_LINE_MAX per reply line, SMTP_REPLY_LINES_MAX lines)
 * and in time (timeout_ms per operation, total_ms for the session). It
 * blocks: it belongs on the jobs thread, never on the core or a media
 * thread. Nothing is shared between calls; any thread may call it.
 *
 * smtp_mime_write composes the message itself (RFC 5322 headers, MIME
 * multipart with a text part and a base64 attachment); it is public so the
 * composition can be tested without a session.
 */
#ifndef PBX_SMTP_H
#define PBX_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_LINE_MAX 1000         /* bytes of one reply line, CRLF included (RFC 5321: 512) */
#define SMTP_REPLY_LINES_MAX 64    /* lines of one multi-line reply */
#define SMTP_ATTACH_MAX (16u << 20) /* bytes of an attachment */
#define SMTP_SUBJECT_MAX 255       /* bytes of a subject (UTF-8) */
#define SMTP_TEXT_MAX (64u << 10)  /* bytes of the text part */
#define SMTP_CRED_MAX 255          /* bytes of a user name or password */
#define SMTP_STATUS_MAX 256        /* what smtp_send says about the outcome */
#define SMTP_TIMEOUT_MS 30000      /* defaults of smtp_cfg */
#define SMTP_TOTAL_MS 120000

enum smtp_tls {
	SMTP_TLS_OPPORTUNISTIC, /* STARTTLS when the relay offers it, plain otherwise */
	SMTP_TLS_REQUIRED,      /* STARTTLS or nothing is sent (ENOTSUP) */
	SMTP_TLS_IMPLICIT,      /* TLS from the first byte (submissions port 465) */
	SMTP_TLS_NONE,          /* never (a relay on loopback) */
};

struct smtp_cfg {
	const char *host;       /* relay name or address; also the name its certificate must carry */
	uint16_t port;          /* 25, 587, 465 ... */
	enum smtp_tls tls;
	const char *ca_file;    /* PEM certificates to trust; NULL = the system's store */
	const char *user;       /* NULL or "": no AUTH */
	const char *password;
	bool auth_without_tls;  /* allow AUTH on a plain connection (refused by default: EPERM) */
	const char *helo;       /* our name in EHLO; NULL = "localhost" */
	unsigned timeout_ms;    /* connect, each read and write; 0 = SMTP_TIMEOUT_MS */
	unsigned total_ms;      /* the whole session; 0 = SMTP_TOTAL_MS */
};

struct smtp_mail {
	const char *from;        /* envelope sender and From: address (user@domain) */
	const char *from_name;   /* display name (UTF-8), may be NULL */
	const char *to;          /* the one recipient */
	const char *subject;     /* UTF-8, no line breaks; encoded (RFC 2047) when not ASCII */
	const char *text;        /* UTF-8 body; LF or CRLF line ends */
	const char *attach_path; /* a file to attach, or NULL */
	const char *attach_name; /* its name in the mail: printable ASCII, no quotes or backslashes */
	const char *attach_type; /* its MIME type, e.g. "audio/ogg" */
};

/*
 * Send one message. status (may be NULL) gets one line for the record
 * (vm_messages.email_status): "sent: 250 2.0.0 Ok: queued as X", or where
 * and why it failed ("RCPT: 550 5.1.1 no such user", "connect: Connection
 * refused", "TLS: certificate not trusted"). Returns 0 or an errno:
 * EINVAL (bad argument: an address, a header with a line break, ...),
 * ENOENT/EFBIG/EIO (the attachment), the connect's errno, ETIMEDOUT,
 * ENOTSUP (STARTTLS or an AUTH mechanism we know not offered), EPERM (AUTH
 * without TLS not allowed), EACCES (AUTH refused), ECONNREFUSED (the relay
 * refused the sender, recipient or message: a 5xx reply), EAGAIN (a 4xx
 * reply: try later), EPROTO (a reply that makes no sense here), EBADMSG (a
 * reply line too long or too many lines), ECONNRESET (closed on us), EIO
 * (TLS), ENOMEM.
 */
int smtp_send(const struct smtp_cfg *cfg, const struct smtp_mail *mail, char *status, size_t cap);

/* The checks smtp_send and smtp_mime_write make of a message before
 * anything goes out (addresses, header values without line breaks, UTF-8,
 * lengths, the attachment's name and type; not the file itself): 0 or
 * EINVAL. For a caller that wants to refuse a message before queueing it. */
int smtp_mail_check(const struct smtp_mail *m);

/* Where smtp_mime_write puts the message: 0 to go on, an errno to stop
 * (returned by smtp_mime_write). */
typedef int (*smtp_out_h)(void *ctx, const char *p, size_t n);

/*
 * The message as it goes after DATA, before dot-stuffing: headers (From,
 * To, Subject, Date, Message-ID, MIME-Version), then the text (7bit when
 * ASCII, 8bit when eightbit says the relay takes it, base64 otherwise) and
 * the attachment in base64 lines of 76, as multipart/mixed with boundary;
 * without an attachment a single text/plain part. Every line ends in CRLF.
 * date: RFC 5322 date; msgid: "<...@...>"; boundary: 1..60 of [A-Za-z0-9'()+_,./:=?-].
 * 0, EINVAL (see smtp_send), the attachment's errno, or out's.
 */
int smtp_mime_write(const struct smtp_mail *m, bool eightbit, const char *date, const char *msgid,
		    const char *boundary, smtp_out_h out, void *ctx);

/* base64 (RFC 4648, with padding) of n bytes into out, which holds
 * 4 * ((n + 2) / 3) + 1 bytes; returns the length written. */
size_t smtp_base64(const uint8_t *in, size_t n, char *out);

#endif
