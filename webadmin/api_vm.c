/*
 * api_vm.c: voicemail in the JSON API: mailboxes with their counts and
 * settings, the messages of one mailbox, and a message's recording served
 * from the spool folder with HTTP Range so that a browser's player can seek.
 *
 * Where a file is concerned, its name always comes from the message's row
 * (and is checked again with db_vm_file_valid), never from the request: a
 * request names a mailbox (digits) and a message id (digits), nothing else.
 * A recording is sent from its open file descriptor by libmicrohttpd, never
 * read whole into memory. Deleting removes the row first, then the file (a
 * file without a row is only garbage; see db_vm_msg_del).
 */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "vm_file.h"

#define VM_ID_DIGITS 18 /* a message id: 1..10^18-1, fits an int64_t */

static const char *const vm_on_names[] = { "noanswer", "busy", "unavailable", "dnd" };

/* Message waiting: tell the core at once (see live_ops.vm_changed). */
static void vm_changed(struct api_req *r, const char *mailbox)
{
	const struct live_ops *live = r->srv->live;
	if (live && live->vm_changed)
		live->vm_changed(live->ctx, mailbox);
}

/* ---- path parameters -------------------------------------------------------------- */

/* {mailbox}: an extension number, else 404 naming the field. */
static bool param_mailbox(struct api_req *r, const char **out)
{
	const char *m = r->params[0];
	if (!db_number_valid(m)) {
		api_error(r, 404, "mailbox", "no mailbox %.*s", DB_NUMBER_MAX + 1, m);
		return false;
	}
	*out = m;
	return true;
}

/* {id}: digits only (no sign, no spaces, nothing a path could hide in),
 * else 404. */
static bool param_id(struct api_req *r, int64_t *out)
{
	const char *s = r->params[1];
	size_t n = strnlen(s, VM_ID_DIGITS + 1);
	if (n == 0 || n > VM_ID_DIGITS || strspn(s, "0123456789") != n) {
		api_error(r, 404, "id", "no message %.*s", VM_ID_DIGITS + 1, s);
		return false;
	}
	int64_t v = 0;
	for (size_t k = 0; k < n; k++)
		v = v * 10 + (s[k] - '0');
	if (v == 0) {
		api_error(r, 404, "id", "no message 0");
		return false;
	}
	*out = v;
	return true;
}

/* ---- JSON -------------------------------------------------------------------------- */

static json_t *vm_on_json(unsigned bits)
{
	json_t *a = json_array();
	for (size_t k = 0; a && k < sizeof vm_on_names / sizeof vm_on_names[0]; k++)
		if (bits & (1u << k))
			json_array_append_new(a, json_string(vm_on_names[k]));
	return a;
}

static json_t *mailbox_json(const struct db_mailbox *m, unsigned n_new, unsigned n_old)
{
	return json_pack("{s:s, s:b, s:o, s:b, s:I, s:I, s:o, s:b, s:I, s:I}", "mailbox", m->number, "pin_set",
			 m->pin[0] != '\0', "email", api_jstr(m->email), "email_attach", m->email_attach,
			 "max_msg_seconds", (json_int_t)m->max_msg_seconds, "max_messages",
			 (json_int_t)m->max_messages, "vm_on", vm_on_json(m->vm_on), "unsolicited_mwi",
			 m->unsolicited_mwi, "new", (json_int_t)n_new, "old", (json_int_t)n_old);
}

static json_t *msg_json(const struct db_vm_msg *m)
{
	/* caller, caller_name and email_status came from the network or an
	 * SMTP server: api_jstr keeps the answer valid UTF-8. */
	return json_pack("{s:I, s:s, s:s, s:o, s:o, s:I, s:I, s:b, s:o}", "id", (json_int_t)m->id, "mailbox",
			 m->mailbox, "folder", m->folder == DB_VM_OLD ? "old" : "new", "caller", api_jstr(m->caller),
			 "caller_name", api_jstr(m->caller_name), "received_at", (json_int_t)m->received_at,
			 "duration_ms", (json_int_t)m->duration_ms, "heard", m->heard, "email_status",
			 api_jstr(m->email_status));
}

/* ---- GET /api/v1/voicemail ----------------------------------------------------------- */

static int list_mailbox_cb(void *ctx, const struct db_mailbox *m)
{
	json_t *by = ctx; /* mailbox number -> its JSON, filled with counts after */
	json_t *j = mailbox_json(m, 0, 0);
	if (!j || json_object_set_new(by, m->number, j) != 0)
		return ENOMEM;
	return 0;
}

static int list_counts_cb(void *ctx, const char *mailbox, unsigned n_new, unsigned n_old)
{
	json_t *j = json_object_get(ctx, mailbox);
	if (j) {
		json_object_set_new(j, "new", json_integer(n_new));
		json_object_set_new(j, "old", json_integer(n_old));
	}
	return 0;
}

int api_vm_list(struct api_req *r)
{
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	json_t *by = json_object();
	if (!by)
		return ENOMEM;
	int rc = db_vm_mailbox_list(db, list_mailbox_cb, by);
	if (rc == 0)
		rc = db_vm_counts_all(db, list_counts_cb, by);
	if (rc != 0) {
		json_decref(by);
		return api_error_db(r, rc, NULL);
	}
	/* In number order, as db_vm_mailbox_list walked them. */
	json_t *items = json_array();
	const char *key;
	json_t *val;
	json_object_foreach(by, key, val) json_array_append(items, val);
	json_decref(by);
	if (!items)
		return ENOMEM;
	size_t n = json_array_size(items);
	return api_reply_json(r, 200, json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)n));
}

/* ---- GET and PATCH /api/v1/voicemail/{mailbox} ------------------------------------------ */

/* The mailbox, or the error answered (false). */
static bool mailbox_fetch(struct api_req *r, sqlite3 *db, const char *number, struct db_mailbox *m)
{
	int rc = db_vm_mailbox_get(db, number, m);
	if (rc == ENOENT)
		api_error(r, 404, "mailbox", "no mailbox %s", number);
	else if (rc != 0)
		api_error_db(r, rc, NULL);
	return rc == 0;
}

static int mailbox_reply(struct api_req *r, sqlite3 *db, const char *number, unsigned status)
{
	struct db_mailbox m;
	if (!mailbox_fetch(r, db, number, &m))
		return 0;
	unsigned n_new = 0, n_old = 0;
	int rc = db_vm_counts(db, number, &n_new, &n_old);
	if (rc != 0)
		return api_error_db(r, rc, NULL);
	return api_reply_json(r, status, mailbox_json(&m, n_new, n_old));
}

int api_vm_mailbox_get(struct api_req *r)
{
	const char *number;
	if (!param_mailbox(r, &number))
		return 0;
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	return mailbox_reply(r, db, number, 200);
}

/* vm_on: an array of the names, each at most once. */
static bool vm_on_parse_json(struct api_req *r, json_t *v, unsigned *bits)
{
	if (!json_is_array(v))
		return api_error(r, 400, "vm_on", "vm_on: must be an array of \"noanswer\", \"busy\", "
				 "\"unavailable\", \"dnd\""), false;
	unsigned b = 0;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		size_t k = 0, nn = sizeof vm_on_names / sizeof vm_on_names[0];
		const char *s = json_string_value(e);
		while (s && k < nn && strcmp(s, vm_on_names[k]) != 0)
			k++;
		if (!s || k == nn)
			return api_error(r, 400, "vm_on", "vm_on: item %zu: one of \"noanswer\", \"busy\", "
					 "\"unavailable\", \"dnd\"", i), false;
		if (b & (1u << k))
			return api_error(r, 400, "vm_on", "vm_on: \"%s\" twice", s), false;
		b |= 1u << k;
	}
	*bits = b;
	return true;
}

/* An integer field within lo..hi. */
static bool uint_field(struct api_req *r, json_t *v, const char *name, json_int_t lo, json_int_t hi, unsigned *out)
{
	if (!json_is_integer(v))
		return api_error(r, 400, name, "%s: must be an integer", name), false;
	json_int_t x = json_integer_value(v);
	if (x < lo || x > hi)
		return api_error(r, 400, name, "%s: %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT, name, lo, hi),
		       false;
	*out = (unsigned)x;
	return true;
}

static bool bool_field(struct api_req *r, json_t *v, const char *name, bool *out)
{
	if (!json_is_boolean(v))
		return api_error(r, 400, name, "%s: must be true or false", name), false;
	*out = json_is_true(v);
	return true;
}

int api_vm_mailbox_patch(struct api_req *r)
{
	static const char *const known[] = { "pin", "email", "email_attach", "max_msg_seconds", "max_messages",
					     "vm_on", "unsolicited_mwi" };
	const char *key;
	json_t *val;
	json_object_foreach(r->json, key, val) {
		size_t k = 0;
		while (k < sizeof known / sizeof known[0] && strcmp(key, known[k]) != 0)
			k++;
		if (k == sizeof known / sizeof known[0]) {
			char kk[65];
			snprintf(kk, sizeof kk, "%s", key);
			return api_error(r, 400, kk, "%s: unknown field", kk);
		}
	}
	const char *number;
	if (!param_mailbox(r, &number))
		return 0;
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	struct db_mailbox m;
	if (!mailbox_fetch(r, db, number, &m))
		return 0;

	/* Every field checked before anything is written. */
	const char *pin = NULL;
	json_t *v;
	if ((v = json_object_get(r->json, "pin"))) {
		pin = json_string_value(v);
		if (!pin || strlen(pin) > DB_PIN_MAX || !db_pin_valid(pin))
			return api_error(r, 400, "pin", "pin: %d to %d digits, or \"\" for none", DB_PIN_MIN, DB_PIN_MAX);
	}
	if ((v = json_object_get(r->json, "email"))) {
		const char *e = json_string_value(v);
		if (!e || strlen(e) > DB_VM_EMAIL_MAX || !db_vm_email_valid(e))
			return api_error(r, 400, "email", "email: empty or one address such as name@example.com");
		snprintf(m.email, sizeof m.email, "%s", e);
	}
	if ((v = json_object_get(r->json, "email_attach")) && !bool_field(r, v, "email_attach", &m.email_attach))
		return 0;
	if ((v = json_object_get(r->json, "unsolicited_mwi")) &&
	    !bool_field(r, v, "unsolicited_mwi", &m.unsolicited_mwi))
		return 0;
	if ((v = json_object_get(r->json, "max_msg_seconds")) &&
	    !uint_field(r, v, "max_msg_seconds", DB_VM_MSG_SECONDS_MIN, DB_VM_MSG_SECONDS_MAX, &m.max_msg_seconds))
		return 0;
	if ((v = json_object_get(r->json, "max_messages")) &&
	    !uint_field(r, v, "max_messages", 1, DB_VM_MESSAGES_MAX, &m.max_messages))
		return 0;
	if ((v = json_object_get(r->json, "vm_on")) && !vm_on_parse_json(r, v, &m.vm_on))
		return 0;

	char err[256] = "";
	int rc = db_begin(db);
	if (rc == 0)
		rc = db_vm_mailbox_set(db, &m, err, sizeof err);
	if (rc == 0 && pin && (rc = db_vm_set_pin(db, number, pin)) != 0)
		snprintf(err, sizeof err, "pin: cannot be set");
	if (rc == 0)
		rc = db_commit(db);
	else
		db_rollback(db);
	if (rc == ENOENT)
		return api_error(r, 404, "mailbox", "no mailbox %s", number);
	if (rc != 0) {
		/* db.h's messages start with the field's name, the same as ours. */
		const char *colon = strchr(err, ':');
		char field[32] = "";
		if (colon && (size_t)(colon - err) < sizeof field)
			snprintf(field, sizeof field, "%.*s", (int)(colon - err), err);
		if (rc == EINVAL)
			return api_error(r, 400, field[0] ? field : NULL, "%s", err);
		return api_error_db(r, rc, NULL);
	}
	api_changed(r);
	vm_changed(r, number);
	return mailbox_reply(r, db, number, 200);
}

/* ---- messages ---------------------------------------------------------------------------- */

static int msg_list_cb(void *ctx, const struct db_vm_msg *m)
{
	json_t *j = msg_json(m);
	return j && json_array_append_new(ctx, j) == 0 ? 0 : ENOMEM;
}

int api_vm_msg_list(struct api_req *r)
{
	const char *number;
	if (!param_mailbox(r, &number))
		return 0;
	char folder[8];
	bool has_folder;
	if (api_query(r, "folder", folder, sizeof folder, &has_folder) != 0 ||
	    (has_folder && strcmp(folder, "new") != 0 && strcmp(folder, "old") != 0))
		return api_error(r, 400, "folder", "folder: \"new\" or \"old\" (or none for both)");
	enum db_vm_folder f = !has_folder ? DB_VM_ANY : folder[0] == 'n' ? DB_VM_NEW : DB_VM_OLD;
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	struct db_mailbox m;
	if (!mailbox_fetch(r, db, number, &m))
		return 0;
	json_t *items = json_array();
	if (!items)
		return ENOMEM;
	/* At most max_messages (<= DB_VM_MESSAGES_MAX) rows: no paging needed. */
	int rc = db_vm_msg_list(db, number, f, msg_list_cb, items);
	if (rc != 0) {
		json_decref(items);
		return api_error_db(r, rc, NULL);
	}
	size_t n = json_array_size(items);
	return api_reply_json(r, 200, json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)n));
}

/* The message named by the path, or the error answered (false). */
static bool msg_fetch(struct api_req *r, sqlite3 **db, struct db_vm_msg *m)
{
	const char *number;
	int64_t id;
	if (!param_mailbox(r, &number) || !param_id(r, &id))
		return false;
	if (api_db(r, db) != 0)
		return false;
	int rc = db_vm_msg_get(*db, number, id, m);
	if (rc == ENOENT)
		api_error(r, 404, "id", "no message %" PRId64 " in mailbox %s", id, number);
	else if (rc != 0)
		api_error_db(r, rc, NULL);
	return rc == 0;
}

int api_vm_msg_patch(struct api_req *r)
{
	const char *folder = NULL;
	bool has_folder = false;
	json_t *heard_v = NULL;
	const char *key;
	json_t *val;
	json_object_foreach(r->json, key, val) {
		if (strcmp(key, "heard") == 0) {
			heard_v = val;
		} else if (strcmp(key, "folder") == 0) {
			has_folder = true;
			folder = json_string_value(val);
		} else {
			char kk[65];
			snprintf(kk, sizeof kk, "%s", key);
			return api_error(r, 400, kk, "%s: unknown field", kk);
		}
	}
	bool heard = false;
	if (heard_v && !bool_field(r, heard_v, "heard", &heard))
		return 0;
	/* Only saving is offered (as '9' on the phone); a saved message does
	 * not go back to new. */
	if (has_folder && (!folder || strcmp(folder, "old") != 0))
		return api_error(r, 400, "folder", "folder: only \"old\" (save the message)");
	if (!heard_v && !has_folder)
		return api_error(r, 400, NULL, "nothing to change: give heard or folder");
	sqlite3 *db;
	struct db_vm_msg m;
	if (!msg_fetch(r, &db, &m))
		return 0;
	int rc = db_begin(db);
	if (rc == 0 && has_folder)
		rc = db_vm_msg_move_old(db, m.mailbox, m.id);
	if (rc == 0 && heard_v)
		rc = db_vm_msg_set_heard(db, m.mailbox, m.id, heard);
	if (rc == 0)
		rc = db_commit(db);
	else
		db_rollback(db);
	if (rc == ENOENT)
		return api_error(r, 404, "id", "no message %" PRId64 " in mailbox %s", m.id, m.mailbox);
	if (rc != 0)
		return api_error_db(r, rc, NULL);
	api_changed(r);
	vm_changed(r, m.mailbox);
	if ((rc = db_vm_msg_get(db, m.mailbox, m.id, &m)) != 0)
		return api_error_db(r, rc, NULL);
	return api_reply_json(r, 200, msg_json(&m));
}

int api_vm_msg_delete(struct api_req *r)
{
	sqlite3 *db;
	struct db_vm_msg m;
	if (!msg_fetch(r, &db, &m))
		return 0;
	char file[DB_VM_FILE_MAX + 1];
	int rc = db_vm_msg_del(db, m.mailbox, m.id, file);
	if (rc == ENOENT)
		return api_error(r, 404, "id", "no message %" PRId64 " in mailbox %s", m.id, m.mailbox);
	if (rc != 0)
		return api_error_db(r, rc, NULL);
	api_changed(r);
	vm_changed(r, m.mailbox);
	/* The message is gone with its row; a file that cannot go is only
	 * garbage, logged (and a missing one is no error at all). */
	const char *spool = r->srv->spool;
	if (spool && db_vm_file_valid(file) && (rc = vm_file_unlink(spool, file)) != 0 && rc != ENOENT)
		log_warn("http: voicemail %s/%s: cannot remove the file: %s", spool, file, strerror(rc));
	return api_reply_empty(r, 204);
}

/* ---- GET .../messages/{id}/audio ------------------------------------------------------------ */

enum range_kind { RANGE_NONE, RANGE_ONE, RANGE_UNSAT };

/*
 * One "bytes=first-last", "bytes=first-" or "bytes=-suffix" against a file
 * of size bytes (RFC 9110 14.1.2). Anything else (several ranges, another
 * unit, bad syntax) is RANGE_NONE: the whole file, as the RFC allows a
 * server to ignore Range.
 */
static enum range_kind range_parse(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	if (!h || strncmp(h, "bytes=", 6) != 0)
		return RANGE_NONE;
	const char *p = h + 6;
	while (*p == ' ')
		p++;
	uint64_t a = 0, b = 0;
	bool has_a = false, has_b = false;
	/* At most 19 digits a number: no overflow of uint64_t. */
	for (int k = 0; *p >= '0' && *p <= '9'; p++, k++) {
		if (k >= 19)
			return RANGE_NONE;
		a = a * 10 + (uint64_t)(*p - '0');
		has_a = true;
	}
	if (*p++ != '-')
		return RANGE_NONE;
	for (int k = 0; *p >= '0' && *p <= '9'; p++, k++) {
		if (k >= 19)
			return RANGE_NONE;
		b = b * 10 + (uint64_t)(*p - '0');
		has_b = true;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0' || (!has_a && !has_b) || (has_a && has_b && b < a))
		return RANGE_NONE;
	if (!has_a) { /* the last b bytes */
		if (b == 0 || size == 0)
			return RANGE_UNSAT;
		*len = b < size ? b : size;
		*off = size - *len;
		return RANGE_ONE;
	}
	if (a >= size)
		return RANGE_UNSAT;
	uint64_t last = has_b && b < size - 1 ? b : size - 1;
	*off = a;
	*len = last - a + 1;
	return RANGE_ONE;
}

/* Does an If-None-Match or If-Range header name this ETag? */
static bool etag_listed(const char *h, const char *etag)
{
	if (!h)
		return false;
	if (strcmp(h, "*") == 0)
		return true;
	size_t n = strlen(etag);
	for (const char *p = strstr(h, etag); p; p = strstr(p + 1, etag)) {
		char after = p[n];
		if (after == '\0' || after == ',' || after == ' ')
			return true;
	}
	return false;
}

int api_vm_audio(struct api_req *r)
{
	sqlite3 *db;
	struct db_vm_msg m;
	if (!msg_fetch(r, &db, &m))
		return 0;
	const char *spool = r->srv->spool;
	if (!spool)
		return api_error(r, 503, NULL, "no voicemail spool folder configured");
	char path[PATH_MAX];
	if (!db_vm_file_valid(m.file) || vm_file_path(path, sizeof path, spool, m.file) != 0) {
		log_warn("http: voicemail %s message %" PRId64 ": bad file name in the row", m.mailbox, m.id);
		return api_error(r, 500, NULL, "the message's file name is not valid");
	}
	/* O_NOFOLLOW: the spool holds our own files only, never a link out. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return api_error(r, 404, "id", "the recording of message %" PRId64 " is missing", m.id);
		log_warn("http: voicemail %s: %s", path, strerror(errno));
		return api_error(r, 500, NULL, "cannot open the recording");
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return api_error(r, 500, NULL, "the recording is not a regular file");
	}
	uint64_t size = (uint64_t)st.st_size;
	/* Files are never rewritten in place (a new message gets a new name),
	 * so id, size and time name one content. */
	char etag[96];
	snprintf(etag, sizeof etag, "\"vm%" PRId64 "-%" PRIx64 "-%" PRIx64 ".%lx\"", m.id, size,
		 (uint64_t)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);

	char dl[8];
	bool has_dl = false;
	if (api_query(r, "download", dl, sizeof dl, &has_dl) != 0 || (has_dl && strcmp(dl, "1") != 0 && strcmp(dl, "0") != 0)) {
		close(fd);
		return api_error(r, 400, "download", "download: 1 or 0");
	}
	if (has_dl && dl[0] == '1')
		snprintf(r->disposition, sizeof r->disposition, "attachment; filename=\"voicemail-%s-%" PRId64 ".ogg\"",
			 m.mailbox, m.id);

	const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	const char *rh = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
	const char *ifr = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
	uint64_t off = 0, len = size;
	enum range_kind rk = RANGE_NONE;
	unsigned status = 200;
	if (etag_listed(inm, etag)) {
		status = 304;
	} else if (rh && (!ifr || strcmp(ifr, etag) == 0)) {
		/* If-Range with another validator: the file changed, send it whole. */
		rk = range_parse(rh, size, &off, &len);
		if (rk == RANGE_UNSAT) {
			close(fd);
			api_error(r, 416, NULL, "the range is not within the %" PRIu64 " bytes of the recording", size);
			struct MHD_Response *er = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
			if (!er)
				return ENOMEM;
			r->resp = NULL;
			r->resp_len = 0;
			char cr[64];
			snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
			MHD_add_response_header(er, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
			r->own_resp = er;
			return 0;
		}
		if (rk == RANGE_ONE)
			status = 206;
	}

	struct MHD_Response *resp;
	if (status == 304 || len == 0) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		/* libmicrohttpd reads the file as the client takes it (sendfile
		 * where it can) and closes fd with the response. */
		resp = MHD_create_response_from_fd_at_offset64(len, fd, off);
		if (!resp)
			close(fd);
	}
	if (!resp)
		return ENOMEM;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (status == 206) {
		char cr[96];
		snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off, off + len - 1, size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	free(r->resp);
	r->resp = NULL;
	r->resp_len = 0;
	r->resp_type = status == 304 ? NULL : "audio/ogg";
	r->status = status;
	r->own_resp = resp;
	return 0;
}
