/*
 * mwi.c: message-summary bodies (RFC 3842, see mwi.h). Lines end in CRLF
 * as the RFC's grammar asks; "Messages-Waiting: yes" means new messages
 * wait, whatever the old ones. Then the checks of a SUBSCRIBE's headers and
 * the counts table (a fixed array of hash chains, one malloc per mailbox).
 */
#include "mwi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip_msg.h"

/* An absolute URI as far as this body cares: "scheme:rest", printable
 * ASCII, no spaces, no line breaks. */
static int account_ok(const char *s)
{
	size_t n = strnlen(s, MWI_ACCOUNT_MAX + 1);
	if (n == 0 || n > MWI_ACCOUNT_MAX)
		return 0;
	const char *colon = memchr(s, ':', n);
	if (!colon || colon == s || colon == s + n - 1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			return 0;
	}
	for (const char *p = s; p < colon; p++) {
		unsigned char c = (unsigned char)*p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (p > s && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))))
			return 0;
	}
	return 1;
}

int mwi_body(char *out, size_t cap, const char *account, unsigned n_new, unsigned n_old, size_t *len)
{
	if (!out || !len)
		return EINVAL;
	int has_account = account && *account;
	if (has_account && !account_ok(account))
		return EINVAL;
	int n = snprintf(out, cap, "Messages-Waiting: %s\r\n%s%s%sVoice-Message: %u/%u (0/0)\r\n",
			 n_new ? "yes" : "no", has_account ? "Message-Account: " : "",
			 has_account ? account : "", has_account ? "\r\n" : "", n_new, n_old);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			out[0] = '\0';
		return ENOSPC;
	}
	*len = (size_t)n;
	return 0;
}

/* ---- SUBSCRIBE checks ------------------------------------------------------ */

int mwi_expires(long asked, long *granted)
{
	if (asked < 0) {
		*granted = MWI_EXPIRES_DEFAULT;
		return 0;
	}
	if (asked > 0 && asked < MWI_EXPIRES_MIN)
		return ERANGE;
	*granted = asked > MWI_EXPIRES_MAX ? MWI_EXPIRES_MAX : asked;
	return 0;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static struct slice trim(struct slice s)
{
	while (s.len && is_ws(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len && is_ws(s.p[s.len - 1]))
		s.len--;
	return s;
}

/* RFC 3261 token characters. */
static bool token_ok(struct slice s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-.!%*_+`'~", c)))
			return false;
	}
	return true;
}

bool mwi_event_ok(struct slice value, struct slice *id)
{
	if (id)
		*id = SLICE_NULL;
	if (!value.p)
		return false;
	struct slice v = trim(value);
	const char *semi = v.len ? memchr(v.p, ';', v.len) : NULL;
	struct slice type = trim(slice_make(v.p, semi ? (size_t)(semi - v.p) : v.len));
	if (!slice_ieq_cstr(type, MWI_EVENT))
		return false;
	if (!semi || !id)
		return true;
	struct slice params = slice_make(semi + 1, v.len - (size_t)(semi + 1 - v.p)), val;
	if (sip_param_get(params, "id", &val)) {
		val = trim(val);
		if (!token_ok(val) || val.len > MWI_EVENT_ID_MAX)
			return false; /* an id we could not echo faithfully */
		*id = val;
	}
	return true;
}

/* q=0 (0, 0.0, 0.00, 0.000) says "not acceptable" (RFC 3261 20.1). */
static bool q_zero(struct slice params)
{
	struct slice q;
	if (!sip_param_get(params, "q", &q))
		return false;
	q = trim(q);
	if (q.len == 0 || q.p[0] != '0')
		return false;
	for (size_t i = 1; i < q.len; i++)
		if (q.p[i] != '0' && !(i == 1 && q.p[i] == '.'))
			return false;
	return true;
}

bool mwi_accept_ok(struct slice value)
{
	const char *p = value.p, *end = value.p ? value.p + value.len : NULL;
	/* Bounded by the value's length: each pass consumes one item. */
	while (p && p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		struct slice item = trim(slice_make(p, (size_t)(e - p)));
		p = comma ? comma + 1 : end;
		const char *semi = item.len ? memchr(item.p, ';', item.len) : NULL;
		struct slice range = trim(slice_make(item.p, semi ? (size_t)(semi - item.p) : item.len));
		struct slice params = semi ? slice_make(semi + 1, item.len - (size_t)(semi + 1 - item.p)) : SLICE_NULL;
		if (!slice_ieq_cstr(range, MWI_CONTENT_TYPE) && !slice_ieq_cstr(range, "application/*") &&
		    !slice_ieq_cstr(range, "*/*"))
			continue;
		if (params.p && q_zero(params))
			continue;
		return true;
	}
	return false;
}

/* ---- counts per mailbox ---------------------------------------------------- */

#define TABLE_BUCKETS 1024

struct mwi_entry {
	struct mwi_entry *next;
	struct mwi_count c;
};

struct mwi_table {
	struct mwi_entry *b[TABLE_BUCKETS];
	size_t n;
	size_t cursor; /* where mwi_table_take looks first */
};

static unsigned bucket_of(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % TABLE_BUCKETS;
}

int mwi_table_new(struct mwi_table **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : ENOMEM;
}

void mwi_table_free(struct mwi_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < TABLE_BUCKETS; i++)
		while (t->b[i]) {
			struct mwi_entry *e = t->b[i];
			t->b[i] = e->next;
			free(e);
		}
	free(t);
}

static struct mwi_entry *find(const struct mwi_table *t, const char *mailbox, unsigned *bucket)
{
	unsigned h = bucket_of(mailbox);
	if (bucket)
		*bucket = h;
	for (struct mwi_entry *e = t->b[h]; e; e = e->next)
		if (strcmp(e->c.mailbox, mailbox) == 0)
			return e;
	return NULL;
}

int mwi_table_set(struct mwi_table *t, const char *mailbox, unsigned n_new, unsigned n_old, bool *changed)
{
	size_t len = mailbox ? strnlen(mailbox, MWI_MAILBOX_MAX + 1) : 0;
	if (len == 0 || len > MWI_MAILBOX_MAX)
		return EINVAL;
	unsigned h;
	struct mwi_entry *e = find(t, mailbox, &h);
	if (e) {
		if (changed)
			*changed = e->c.n_new != n_new || e->c.n_old != n_old;
		e->c.n_new = n_new;
		e->c.n_old = n_old;
		return 0;
	}
	if (t->n >= MWI_TABLE_MAX)
		return ENOSPC;
	e = malloc(sizeof *e);
	if (!e)
		return ENOMEM;
	memcpy(e->c.mailbox, mailbox, len);
	e->c.mailbox[len] = '\0';
	e->c.n_new = n_new;
	e->c.n_old = n_old;
	e->next = t->b[h];
	t->b[h] = e;
	t->n++;
	if (changed)
		*changed = n_new != 0 || n_old != 0;
	return 0;
}

void mwi_table_get(const struct mwi_table *t, const char *mailbox, unsigned *n_new, unsigned *n_old)
{
	const struct mwi_entry *e = mailbox ? find(t, mailbox, NULL) : NULL;
	*n_new = e ? e->c.n_new : 0;
	*n_old = e ? e->c.n_old : 0;
}

size_t mwi_table_take(struct mwi_table *t, struct mwi_count *out, size_t max)
{
	size_t k = 0;
	for (size_t scanned = 0; scanned < TABLE_BUCKETS && k < max && t->n; scanned++) {
		size_t i = t->cursor;
		while (t->b[i] && k < max) {
			struct mwi_entry *e = t->b[i];
			t->b[i] = e->next;
			out[k++] = e->c;
			free(e);
			t->n--;
		}
		if (!t->b[i])
			t->cursor = (i + 1) % TABLE_BUCKETS;
	}
	return k;
}

size_t mwi_table_count(const struct mwi_table *t) { return t->n; }
