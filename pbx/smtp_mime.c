/*
 * smtp_mime.c: the notification message as it goes after DATA (see
 * smtp_mime_write in smtp.h): RFC 5322 headers with RFC 2047 encoded words
 * for UTF-8, and a MIME multipart body with the text and a base64
 * attachment streamed from its file.
 *
 * Everything a caller gives is checked before the first byte goes out, so a
 * bad argument never leaves half a message: addresses as strict as the
 * mailbox settings, no line breaks in header values, lengths bounded.
 */
#include "smtp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADDR_MAX 254
#define NAME_MAX_BYTES 256        /* display name */
#define ATTACH_NAME_MAX 100
#define LINE_OCTETS_MAX 998       /* RFC 5322 */
#define B64_LINE_BYTES 57         /* 76 characters of base64 */
#define WORD_BYTES 45             /* input bytes per encoded word: 60 characters, under 75 */

size_t smtp_base64(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* ---- checks ------------------------------------------------------------------------------- */

static bool addr_ok(const char *s)
{
	size_t n = s ? strnlen(s, ADDR_MAX + 1) : 0;
	if (n == 0 || n > ADDR_MAX)
		return false;
	const char *at = NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("\"<>,;()[]\\:", c))
			return false;
		if (c == '@') {
			if (at)
				return false;
			at = s + i;
		}
	}
	return at && at != s && at[1] != '\0' && at[1] != '.' && s[n - 1] != '.' && !strstr(at, "..");
}

/* Well-formed UTF-8 of at most max bytes, without C0 controls other than
 * tab (and CR, LF when allow_breaks) or DEL. *ascii says whether every
 * byte is below 0x80. */
static bool utf8_ok(const char *s, size_t max, bool allow_breaks, bool *ascii)
{
	size_t n = strnlen(s, max + 1);
	if (n > max)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	*ascii = true;
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && !(allow_breaks && (c == '\r' || c == '\n'))) || c == 0x7f)
				return false;
			i++;
			continue;
		}
		*ascii = false;
		size_t len;
		unsigned cp;
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			return false;
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static bool attach_name_ok(const char *s)
{
	size_t n = s ? strnlen(s, ATTACH_NAME_MAX + 1) : 0;
	if (n == 0 || n > ATTACH_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '/')
			return false;
	}
	return true;
}

/* type/subtype of RFC 2045 token characters. */
static bool mime_type_ok(const char *s)
{
	size_t n = s ? strnlen(s, 128) : 0;
	if (n == 0 || n >= 128)
		return false;
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || slash[1] == '\0' || strchr(slash + 1, '/'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || (c != '/' && strchr("()<>@,;:\\\"[]?=", c)))
			return false;
	}
	return true;
}

static bool boundary_ok(const char *s)
{
	size_t n = s ? strnlen(s, 61) : 0;
	return n >= 1 && n <= 60 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'()+_,./:=?-") == n;
}

static bool header_value_ok(const char *s, size_t max)
{
	bool ascii;
	return s && utf8_ok(s, max, false, &ascii) && ascii;
}

/* ---- output ------------------------------------------------------------------------------- */

struct w {
	smtp_out_h out;
	void *ctx;
	int err;
};

static void put(struct w *w, const char *p, size_t n)
{
	if (!w->err && n)
		w->err = w->out(w->ctx, p, n);
}

static void puts_(struct w *w, const char *s)
{
	put(w, s, strlen(s));
}

/* UTF-8 text as RFC 2047 encoded words, each holding whole characters,
 * separated by folding whitespace. */
static void encoded_words(struct w *w, const char *s)
{
	size_t n = strlen(s), i = 0;
	bool first = true;
	while (i < n) {
		size_t take = n - i < WORD_BYTES ? n - i : WORD_BYTES;
		/* Back off to the start of a character. */
		while (take < n - i && take > 0 && ((unsigned char)s[i + take] & 0xc0) == 0x80)
			take--;
		char b64[4 * ((WORD_BYTES + 2) / 3) + 1];
		smtp_base64((const uint8_t *)s + i, take, b64);
		if (!first)
			puts_(w, "\r\n ");
		puts_(w, "=?UTF-8?B?");
		puts_(w, b64);
		puts_(w, "?=");
		first = false;
		i += take;
	}
}

static void header_from(struct w *w, const struct smtp_mail *m)
{
	puts_(w, "From: ");
	if (m->from_name && *m->from_name) {
		bool ascii = false;
		utf8_ok(m->from_name, NAME_MAX_BYTES, false, &ascii);
		if (ascii) {
			puts_(w, "\"");
			for (const char *p = m->from_name; *p; p++) {
				if (*p == '"' || *p == '\\')
					puts_(w, "\\");
				put(w, p, 1);
			}
			puts_(w, "\"");
		} else {
			encoded_words(w, m->from_name);
		}
		puts_(w, " ");
	}
	puts_(w, "<");
	puts_(w, m->from);
	puts_(w, ">\r\n");
}

/* The text with CRLF line ends: is it 7bit-safe, 8bit-safe, or must it be
 * base64 (a line too long)? */
enum cte { CTE_7BIT, CTE_8BIT, CTE_BASE64 };

static enum cte text_encoding(const char *t, bool ascii, bool eightbit)
{
	size_t line = 0;
	for (const char *p = t; *p; p++) {
		if (*p == '\n') {
			line = 0;
		} else if (*p == '\r' && p[1] == '\n') {
			continue;
		} else if (*p == '\r') {
			return CTE_BASE64; /* a bare CR: no line form keeps it */
		} else if (++line > LINE_OCTETS_MAX) {
			return CTE_BASE64;
		}
	}
	return ascii ? CTE_7BIT : eightbit ? CTE_8BIT : CTE_BASE64;
}

static void text_lines(struct w *w, const char *t)
{
	while (*t) {
		size_t n = strcspn(t, "\n");
		size_t body = n && t[n - 1] == '\r' ? n - 1 : n;
		put(w, t, body);
		puts_(w, "\r\n");
		t += n;
		if (*t == '\n')
			t++;
	}
}

/* base64 of the text with its line ends made CRLF. */
static void text_base64(struct w *w, const char *t)
{
	uint8_t in[B64_LINE_BYTES];
	size_t have = 0;
	char b64[4 * ((B64_LINE_BYTES + 2) / 3) + 1];
	for (const char *p = t;; p++) {
		bool end = *p == '\0';
		if (!end) {
			if (*p == '\n' && (p == t || p[-1] != '\r')) {
				in[have++] = '\r';
				if (have == B64_LINE_BYTES) {
					smtp_base64(in, have, b64);
					puts_(w, b64);
					puts_(w, "\r\n");
					have = 0;
				}
			}
			in[have++] = (uint8_t)*p;
		}
		if (have == B64_LINE_BYTES || (end && have)) {
			smtp_base64(in, have, b64);
			puts_(w, b64);
			puts_(w, "\r\n");
			have = 0;
		}
		if (end)
			break;
	}
}

static int attachment(struct w *w, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	struct stat st;
	int ret = 0;
	if (fstat(fd, &st) != 0)
		ret = errno;
	else if (!S_ISREG(st.st_mode))
		ret = EINVAL;
	else if (st.st_size > (off_t)SMTP_ATTACH_MAX)
		ret = EFBIG;
	/* Whole base64 lines per read, so only the last one is short. */
	enum { CHUNK = B64_LINE_BYTES * 64 };
	_Static_assert(CHUNK % B64_LINE_BYTES == 0, "whole lines per chunk");
	uint8_t *buf = ret ? NULL : malloc(CHUNK);
	if (!ret && !buf)
		ret = ENOMEM;
	size_t total = 0;
	while (!ret && !w->err) {
		size_t got = 0;
		while (got < CHUNK) {
			ssize_t r = read(fd, buf + got, CHUNK - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				ret = errno;
				break;
			}
			if (r == 0)
				break;
			got += (size_t)r;
		}
		if (ret || got == 0)
			break;
		total += got;
		if (total > SMTP_ATTACH_MAX) {
			ret = EFBIG; /* grew while we read it */
			break;
		}
		for (size_t o = 0; o < got && !w->err; o += B64_LINE_BYTES) {
			char b64[4 * ((B64_LINE_BYTES + 2) / 3) + 1];
			size_t k = got - o < B64_LINE_BYTES ? got - o : B64_LINE_BYTES;
			smtp_base64(buf + o, k, b64);
			puts_(w, b64);
			puts_(w, "\r\n");
		}
		if (got < CHUNK)
			break;
	}
	free(buf);
	close(fd);
	return ret;
}

int smtp_mail_check(const struct smtp_mail *m)
{
	bool ascii;
	if (!m || !addr_ok(m->from) || !addr_ok(m->to) || !m->subject ||
	    !utf8_ok(m->subject, SMTP_SUBJECT_MAX, false, &ascii) || !m->text ||
	    !utf8_ok(m->text, SMTP_TEXT_MAX, true, &ascii))
		return EINVAL;
	if (m->from_name && !utf8_ok(m->from_name, NAME_MAX_BYTES, false, &ascii))
		return EINVAL;
	if (m->attach_path && (!*m->attach_path || !attach_name_ok(m->attach_name) || !mime_type_ok(m->attach_type)))
		return EINVAL;
	return 0;
}

int smtp_mime_write(const struct smtp_mail *m, bool eightbit, const char *date, const char *msgid,
		    const char *boundary, smtp_out_h out, void *ctx)
{
	bool subj_ascii, text_ascii;
	if (!out || smtp_mail_check(m) != 0 || !header_value_ok(date, 64) || !header_value_ok(msgid, 255) ||
	    !boundary_ok(boundary))
		return EINVAL;
	utf8_ok(m->subject, SMTP_SUBJECT_MAX, false, &subj_ascii);
	utf8_ok(m->text, SMTP_TEXT_MAX, true, &text_ascii);

	struct w w = { out, ctx, 0 };
	header_from(&w, m);
	puts_(&w, "To: <");
	puts_(&w, m->to);
	puts_(&w, ">\r\nSubject: ");
	if (subj_ascii)
		puts_(&w, m->subject);
	else
		encoded_words(&w, m->subject);
	puts_(&w, "\r\nDate: ");
	puts_(&w, date);
	puts_(&w, "\r\nMessage-ID: ");
	puts_(&w, msgid);
	puts_(&w, "\r\nMIME-Version: 1.0\r\n");

	enum cte cte = text_encoding(m->text, text_ascii, eightbit);
	static const char *const cte_name[] = { "7bit", "8bit", "base64" };
	if (m->attach_path) {
		puts_(&w, "Content-Type: multipart/mixed; boundary=\"");
		puts_(&w, boundary);
		puts_(&w, "\"\r\n\r\nThis is a MIME message.\r\n--");
		puts_(&w, boundary);
		puts_(&w, "\r\n");
	}
	puts_(&w, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: ");
	puts_(&w, cte_name[cte]);
	puts_(&w, "\r\n\r\n");
	if (cte == CTE_BASE64)
		text_base64(&w, m->text);
	else
		text_lines(&w, m->text);
	if (!m->attach_path)
		return w.err;

	puts_(&w, "--");
	puts_(&w, boundary);
	puts_(&w, "\r\nContent-Type: ");
	puts_(&w, m->attach_type);
	puts_(&w, "; name=\"");
	puts_(&w, m->attach_name);
	puts_(&w, "\"\r\nContent-Disposition: attachment; filename=\"");
	puts_(&w, m->attach_name);
	puts_(&w, "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	if (w.err)
		return w.err;
	int ret = attachment(&w, m->attach_path);
	if (ret)
		return ret;
	puts_(&w, "--");
	puts_(&w, boundary);
	puts_(&w, "--\r\n");
	return w.err;
}
