/*
 * db_vm.c: voicemail boxes (one per extension, created by a trigger with
 * it) and the rows of their messages.
 *
 * The recordings are files in the spool folder, written and renamed into
 * place by media/vm_file.c before a row is added here; the rows only name
 * them (relative paths). Deleting a row hands its file name back so the
 * caller removes the file after the row, never before.
 *
 * Every per-message call takes the mailbox with the id: the id alone would
 * let one mailbox's owner reach another's messages through the web API.
 */
#include "db.h"
#include "log.h"

#include <errno.h>
#include <string.h>

/* ---- validation ---------------------------------------------------------------- */

static const char *const vm_on_names[] = { "noanswer", "busy", "unavailable", "dnd" };
#define VM_ON_NAMES (sizeof vm_on_names / sizeof vm_on_names[0])
_Static_assert((1u << VM_ON_NAMES) - 1 == DB_VM_ON_ALL, "one name per vm_on bit");

/* Longest accepted vm_on text: every name once, with spaces to spare. */
#define VM_ON_TEXT_MAX 128

int db_vm_on_parse(const char *s, unsigned *bits)
{
	if (!s)
		return EINVAL;
	size_t len = strnlen(s, VM_ON_TEXT_MAX + 1);
	if (len > VM_ON_TEXT_MAX)
		return EINVAL;
	unsigned out = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && s[i] == ' ')
			i++;
		size_t start = i;
		while (i < len && s[i] != ',' && s[i] != ' ')
			i++;
		size_t n = i - start;
		while (i < len && s[i] == ' ')
			i++;
		if (i < len && s[i] != ',')
			return EINVAL; /* two words without a comma */
		if (n == 0) {
			/* "" and "  " are the empty set; an empty item between commas is not. */
			if (i < len || out != 0 || start != len)
				return EINVAL;
			break;
		}
		size_t k;
		for (k = 0; k < VM_ON_NAMES; k++)
			if (strlen(vm_on_names[k]) == n && memcmp(vm_on_names[k], s + start, n) == 0)
				break;
		if (k == VM_ON_NAMES)
			return EINVAL;
		out |= 1u << k;
		if (i < len) {
			i++; /* the comma */
			if (i == len)
				return EINVAL; /* trailing comma */
		}
	}
	*bits = out;
	return 0;
}

int db_vm_on_format(unsigned bits, char *out, size_t cap)
{
	if (!out || cap == 0 || (bits & ~DB_VM_ON_ALL))
		return EINVAL;
	size_t used = 0;
	out[0] = '\0';
	for (size_t k = 0; k < VM_ON_NAMES; k++) {
		if (!(bits & (1u << k)))
			continue;
		int n = snprintf(out + used, cap - used, "%s%s", used ? "," : "", vm_on_names[k]);
		if (n < 0 || (size_t)n >= cap - used) {
			out[0] = '\0';
			return ENOSPC;
		}
		used += (size_t)n;
	}
	return 0;
}

bool db_vm_email_valid(const char *s)
{
	if (!s)
		return false;
	size_t n = strnlen(s, DB_VM_EMAIL_MAX + 1);
	if (n == 0)
		return true;
	if (n > DB_VM_EMAIL_MAX)
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
	/* Something on both sides, and the domain has no empty label. */
	if (!at || at == s || at[1] == '\0' || at[1] == '.' || s[n - 1] == '.' || strstr(at, ".."))
		return false;
	return true;
}

bool db_vm_file_valid(const char *s)
{
	if (!s)
		return false;
	size_t n = strnlen(s, DB_VM_FILE_MAX + 1);
	if (n > DB_VM_FILE_MAX)
		return false;
	size_t i = 0;
	while (i < n) {
		size_t start = i;
		while (i < n && s[i] != '/') {
			unsigned char c = (unsigned char)s[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			      c == '.' || c == '_' || c == '-'))
				return false;
			i++;
		}
		size_t len = i - start;
		if (len == 0)
			return false; /* leading, trailing or double slash */
		if ((len == 1 && s[start] == '.') || (len == 2 && s[start] == '.' && s[start + 1] == '.'))
			return false;
		if (i < n) {
			i++;
			if (i == n)
				return false;
		}
	}
	return true;
}

static bool text_fits(const char *s, size_t max)
{
	return s && strnlen(s, max + 1) <= max;
}

int db_vm_mailbox_validate(const struct db_mailbox *m, char *err, size_t errcap)
{
	if (!text_fits(m->email, DB_VM_EMAIL_MAX) || !db_vm_email_valid(m->email)) {
		snprintf(err, errcap, "email: empty or one address such as name@example.com");
		return EINVAL;
	}
	if (m->max_msg_seconds < DB_VM_MSG_SECONDS_MIN || m->max_msg_seconds > DB_VM_MSG_SECONDS_MAX) {
		snprintf(err, errcap, "max_msg_seconds: %d to %d", DB_VM_MSG_SECONDS_MIN, DB_VM_MSG_SECONDS_MAX);
		return EINVAL;
	}
	if (m->max_messages < 1 || m->max_messages > DB_VM_MESSAGES_MAX) {
		snprintf(err, errcap, "max_messages: 1 to %d", DB_VM_MESSAGES_MAX);
		return EINVAL;
	}
	if (m->vm_on & ~DB_VM_ON_ALL) {
		snprintf(err, errcap, "vm_on: unknown bits 0x%x", m->vm_on & ~DB_VM_ON_ALL);
		return EINVAL;
	}
	static const char *const gname[DB_VM_GREETING_COUNT] = { "greeting_unavail", "greeting_busy",
								 "greeting_name" };
	for (int k = 0; k < DB_VM_GREETING_COUNT; k++) {
		if (!text_fits(m->greeting[k], DB_VM_FILE_MAX) || !db_vm_file_valid(m->greeting[k])) {
			snprintf(err, errcap, "%s: a file name relative to the spool folder", gname[k]);
			return EINVAL;
		}
	}
	return 0;
}

/* ---- mailboxes -------------------------------------------------------------------- */

#define MAILBOX_COLUMNS                                                                          \
	"SELECT m.number, e.vm_pin, m.email, m.email_attach, m.max_msg_seconds, m.max_messages," \
	" m.unsolicited_mwi, m.vm_on, m.greeting_unavail, m.greeting_busy, m.greeting_name"      \
	" FROM mailboxes m JOIN extensions e ON e.number = m.number"

static void copy_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

/* A row that does not fit the struct (changed behind our back with raw
 * SQL) is reported and skipped, as config_load does for bad rows. */
static int mailbox_from_row(sqlite3_stmt *st, struct db_mailbox *m)
{
	memset(m, 0, sizeof *m);
	const char *number = db_col_text(st, 0), *pin = db_col_text(st, 1), *email = db_col_text(st, 2);
	const char *vm_on = db_col_text(st, 7);
	if (!db_number_valid(number) || !db_pin_valid(pin) || !text_fits(email, DB_VM_EMAIL_MAX) ||
	    db_vm_on_parse(vm_on, &m->vm_on) != 0) {
		log_warn("db: mailboxes: row %s skipped: a field is out of range", number);
		return EBADMSG;
	}
	copy_text(m->number, sizeof m->number, number);
	copy_text(m->pin, sizeof m->pin, pin);
	copy_text(m->email, sizeof m->email, email);
	m->email_attach = sqlite3_column_int(st, 3) != 0;
	m->max_msg_seconds = (unsigned)sqlite3_column_int(st, 4);
	m->max_messages = (unsigned)sqlite3_column_int(st, 5);
	m->unsolicited_mwi = sqlite3_column_int(st, 6) != 0;
	for (int k = 0; k < DB_VM_GREETING_COUNT; k++) {
		const char *g = db_col_text(st, 8 + k);
		if (!db_vm_file_valid(g)) {
			log_warn("db: mailboxes: row %s: greeting %d is not a spool file name, default used",
				 number, k);
			g = "";
		}
		copy_text(m->greeting[k], sizeof m->greeting[k], g);
	}
	return 0;
}

int db_vm_mailbox_get(sqlite3 *db, const char *number, struct db_mailbox *out)
{
	if (!db_number_valid(number))
		return ENOENT;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, MAILBOX_COLUMNS " WHERE m.number = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	int ret;
	if (rc == SQLITE_ROW)
		ret = mailbox_from_row(st, out) == 0 ? 0 : EIO;
	else if (rc == SQLITE_DONE)
		ret = ENOENT;
	else
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}

int db_vm_mailbox_list(sqlite3 *db, int (*cb)(void *ctx, const struct db_mailbox *m), void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, MAILBOX_COLUMNS " ORDER BY m.number", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	int ret = 0;
	struct db_mailbox m;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (mailbox_from_row(st, &m) != 0)
			continue;
		if ((ret = cb(ctx, &m)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}

int db_vm_mailbox_set(sqlite3 *db, const struct db_mailbox *m, char *err, size_t errcap)
{
	if (!text_fits(m->number, DB_NUMBER_MAX) || !db_number_valid(m->number)) {
		snprintf(err, errcap, "mailbox: unknown");
		return ENOENT;
	}
	int ret = db_vm_mailbox_validate(m, err, errcap);
	if (ret != 0)
		return ret;
	char vm_on[VM_ON_TEXT_MAX];
	if ((ret = db_vm_on_format(m->vm_on, vm_on, sizeof vm_on)) != 0)
		return ret;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "UPDATE mailboxes SET email = ?2, email_attach = ?3, max_msg_seconds = ?4,"
				    " max_messages = ?5, unsolicited_mwi = ?6, vm_on = ?7, greeting_unavail = ?8,"
				    " greeting_busy = ?9, greeting_name = ?10 WHERE number = ?1",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, m->number, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, m->email, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, m->email_attach ? 1 : 0);
		sqlite3_bind_int(st, 4, (int)m->max_msg_seconds);
		sqlite3_bind_int(st, 5, (int)m->max_messages);
		sqlite3_bind_int(st, 6, m->unsolicited_mwi ? 1 : 0);
		sqlite3_bind_text(st, 7, vm_on, -1, SQLITE_STATIC);
		for (int k = 0; k < DB_VM_GREETING_COUNT; k++)
			sqlite3_bind_text(st, 8 + k, m->greeting[k], -1, SQLITE_STATIC);
		rc = db_step_write(db, st);
	}
	if (rc != SQLITE_DONE) {
		ret = db_errno(db, rc);
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
	} else if (sqlite3_changes(db) == 0) {
		ret = ENOENT;
		snprintf(err, errcap, "mailbox: %s is not an extension", m->number);
	}
	sqlite3_finalize(st);
	return ret;
}

/* Run a write statement whose parameters are already bound; ENOENT when it
 * changed no row. Finalizes st. */
static int write_one(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = db_step_write(db, st);
	int ret = 0;
	if (rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	else if (sqlite3_changes(db) == 0)
		ret = ENOENT;
	sqlite3_finalize(st);
	return ret;
}

int db_vm_set_greeting(sqlite3 *db, const char *number, enum db_vm_greeting kind, const char *file)
{
	static const char *const sql[DB_VM_GREETING_COUNT] = {
		"UPDATE mailboxes SET greeting_unavail = ?2 WHERE number = ?1",
		"UPDATE mailboxes SET greeting_busy = ?2 WHERE number = ?1",
		"UPDATE mailboxes SET greeting_name = ?2 WHERE number = ?1",
	};
	if ((unsigned)kind >= DB_VM_GREETING_COUNT || !db_vm_file_valid(file))
		return EINVAL;
	if (!db_number_valid(number))
		return ENOENT;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql[kind], -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, file, -1, SQLITE_STATIC);
	return write_one(db, st);
}

int db_vm_set_pin(sqlite3 *db, const char *number, const char *pin)
{
	if (!db_pin_valid(pin))
		return EINVAL;
	if (!db_number_valid(number))
		return ENOENT;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "UPDATE extensions SET vm_pin = ?2, updated_at = CAST(strftime('%s', 'now') AS INTEGER)"
				    " WHERE number = ?1",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pin, -1, SQLITE_STATIC);
	return write_one(db, st);
}

/* ---- messages ------------------------------------------------------------------------ */

static const char *folder_name(enum db_vm_folder f)
{
	return f == DB_VM_NEW ? "new" : f == DB_VM_OLD ? "old" : NULL;
}

/* Printable text: no C0 controls or DEL (UTF-8 above 0x7f passes). */
static bool printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static bool msg_valid(const struct db_vm_msg *m)
{
	return text_fits(m->mailbox, DB_NUMBER_MAX) && db_number_valid(m->mailbox) && folder_name(m->folder) &&
	       text_fits(m->caller, DB_CDR_PARTY_MAX) && m->caller[0] && printable(m->caller, DB_CDR_PARTY_MAX) &&
	       text_fits(m->caller_name, DB_NAME_BYTES) && db_name_valid(m->caller_name) &&
	       m->received_at > 0 && text_fits(m->file, DB_VM_FILE_MAX) && m->file[0] &&
	       db_vm_file_valid(m->file) && text_fits(m->email_status, DB_VM_STATUS_MAX) &&
	       printable(m->email_status, DB_VM_STATUS_MAX);
}

int db_vm_msg_add(sqlite3 *db, const struct db_vm_msg *m, int64_t *id)
{
	if (!msg_valid(m))
		return EINVAL;
	bool owned;
	int ret = db_write_begin(db, &owned);
	if (ret != 0)
		return ret;
	sqlite3_stmt *st = NULL;
	/* The limit is checked in the same transaction as the insert, so two
	 * recordings finishing together cannot both squeeze past it. */
	int rc = sqlite3_prepare_v2(db,
				    "SELECT max_messages, (SELECT count(*) FROM vm_messages WHERE mailbox = ?1)"
				    " FROM mailboxes WHERE number = ?1",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, m->mailbox, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			ret = sqlite3_column_int64(st, 1) >= sqlite3_column_int64(st, 0) ? ENOSPC : 0;
		else if (rc == SQLITE_DONE)
			ret = ENOENT;
		else
			ret = db_errno(db, rc);
	} else {
		ret = db_errno(db, rc);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (ret == 0) {
		rc = sqlite3_prepare_v2(db,
					"INSERT INTO vm_messages(mailbox, folder, caller, caller_name, received_at,"
					" duration_ms, file, email_status, heard) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
					-1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(st, 1, m->mailbox, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, folder_name(m->folder), -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, m->caller, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 4, m->caller_name, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 5, m->received_at);
			sqlite3_bind_int64(st, 6, m->duration_ms);
			sqlite3_bind_text(st, 7, m->file, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 8, m->email_status, -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 9, m->heard ? 1 : 0);
			rc = sqlite3_step(st);
			if (rc == SQLITE_DONE)
				*id = sqlite3_last_insert_rowid(db);
			else
				ret = db_errno(db, rc);
		} else {
			ret = db_errno(db, rc);
		}
		sqlite3_finalize(st);
	}
	return db_write_end(db, owned, ret);
}

#define MSG_COLUMNS                                                                            \
	"SELECT id, mailbox, folder, caller, caller_name, received_at, duration_ms, file,"     \
	" email_status, heard FROM vm_messages"

static int msg_from_row(sqlite3_stmt *st, struct db_vm_msg *m)
{
	memset(m, 0, sizeof *m);
	m->id = sqlite3_column_int64(st, 0);
	const char *mailbox = db_col_text(st, 1), *folder = db_col_text(st, 2), *caller = db_col_text(st, 3);
	const char *name = db_col_text(st, 4), *file = db_col_text(st, 7), *status = db_col_text(st, 8);
	int64_t dur = sqlite3_column_int64(st, 6);
	if (!text_fits(mailbox, DB_NUMBER_MAX) || !text_fits(caller, DB_CDR_PARTY_MAX) ||
	    !text_fits(name, DB_NAME_BYTES) || !text_fits(file, DB_VM_FILE_MAX) || !db_vm_file_valid(file) ||
	    dur < 0 || dur > UINT32_MAX) {
		log_warn("db: vm_messages: row %lld skipped: a field is out of range", (long long)m->id);
		return EBADMSG;
	}
	copy_text(m->mailbox, sizeof m->mailbox, mailbox);
	m->folder = strcmp(folder, "new") == 0 ? DB_VM_NEW : DB_VM_OLD;
	copy_text(m->caller, sizeof m->caller, caller);
	copy_text(m->caller_name, sizeof m->caller_name, name);
	m->received_at = sqlite3_column_int64(st, 5);
	m->duration_ms = (uint32_t)dur;
	copy_text(m->file, sizeof m->file, file);
	/* Cut rather than drop: the status is informative only. */
	copy_text(m->email_status, sizeof m->email_status, status);
	m->heard = sqlite3_column_int(st, 9) != 0;
	return 0;
}

int db_vm_msg_list(sqlite3 *db, const char *mailbox, enum db_vm_folder folder,
		   int (*cb)(void *ctx, const struct db_vm_msg *m), void *ctx)
{
	if (folder != DB_VM_ANY && !folder_name(folder))
		return EINVAL;
	if (!db_number_valid(mailbox))
		return 0;
	sqlite3_stmt *st = NULL;
	/* 'new' sorts before 'old', which is the order a listener wants. */
	int rc = sqlite3_prepare_v2(db,
				    MSG_COLUMNS " WHERE mailbox = ?1 AND (?2 IS NULL OR folder = ?2)"
						" ORDER BY folder, received_at, id",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
	if (folder != DB_VM_ANY)
		sqlite3_bind_text(st, 2, folder_name(folder), -1, SQLITE_STATIC);
	int ret = 0;
	struct db_vm_msg m;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (msg_from_row(st, &m) != 0)
			continue;
		if ((ret = cb(ctx, &m)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}

int db_vm_msg_get(sqlite3 *db, const char *mailbox, int64_t id, struct db_vm_msg *out)
{
	if (!db_number_valid(mailbox))
		return ENOENT;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, MSG_COLUMNS " WHERE id = ?1 AND mailbox = ?2", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, mailbox, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	int ret;
	if (rc == SQLITE_ROW)
		ret = msg_from_row(st, out) == 0 ? 0 : EIO;
	else if (rc == SQLITE_DONE)
		ret = ENOENT;
	else
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}

/* One UPDATE of one message of one mailbox; ?1 id, ?2 mailbox, ?3 value. */
static int msg_update(sqlite3 *db, const char *sql, const char *mailbox, int64_t id, const char *text, int num)
{
	if (!db_number_valid(mailbox))
		return ENOENT;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, mailbox, -1, SQLITE_STATIC);
	if (text)
		sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int(st, 3, num);
	return write_one(db, st);
}

int db_vm_msg_move_old(sqlite3 *db, const char *mailbox, int64_t id)
{
	return msg_update(db, "UPDATE vm_messages SET folder = 'old', heard = ?3 WHERE id = ?1 AND mailbox = ?2",
			  mailbox, id, NULL, 1);
}

int db_vm_msg_set_heard(sqlite3 *db, const char *mailbox, int64_t id, bool heard)
{
	return msg_update(db, "UPDATE vm_messages SET heard = ?3 WHERE id = ?1 AND mailbox = ?2", mailbox, id,
			  NULL, heard ? 1 : 0);
}

int db_vm_msg_del(sqlite3 *db, const char *mailbox, int64_t id, char file[DB_VM_FILE_MAX + 1])
{
	if (!db_number_valid(mailbox))
		return ENOENT;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "DELETE FROM vm_messages WHERE id = ?1 AND mailbox = ?2 RETURNING file", -1,
				    &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, mailbox, -1, SQLITE_STATIC);
	bool owned = sqlite3_get_autocommit(db) != 0;
	int ret = 0;
	if (owned && (ret = db_begin(db)) != 0) {
		sqlite3_finalize(st);
		return ret;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		copy_text(file, DB_VM_FILE_MAX + 1, db_col_text(st, 0));
		rc = sqlite3_step(st);
	} else if (rc == SQLITE_DONE) {
		ret = ENOENT;
	}
	if (rc != SQLITE_DONE && ret == 0)
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return db_write_end(db, owned, ret);
}

int db_vm_msg_set_email_status(sqlite3 *db, int64_t id, const char *status)
{
	if (!status)
		return EINVAL;
	char cut[DB_VM_STATUS_MAX + 1];
	copy_text(cut, sizeof cut, status);
	if (!printable(cut, DB_VM_STATUS_MAX))
		return EINVAL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "UPDATE vm_messages SET email_status = ?2 WHERE id = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, cut, -1, SQLITE_STATIC);
	return write_one(db, st);
}

static unsigned clamp_count(int64_t n)
{
	return n < 0 ? 0 : n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
}

int db_vm_counts(sqlite3 *db, const char *mailbox, unsigned *n_new, unsigned *n_old)
{
	*n_new = *n_old = 0;
	if (!db_number_valid(mailbox))
		return 0;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT count(*) FILTER (WHERE folder = 'new'), count(*) FILTER (WHERE folder = 'old')"
				    " FROM vm_messages WHERE mailbox = ?1",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		*n_new = clamp_count(sqlite3_column_int64(st, 0));
		*n_old = clamp_count(sqlite3_column_int64(st, 1));
	} else {
		ret = db_errno(db, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
	}
	sqlite3_finalize(st);
	return ret;
}

int db_vm_counts_all(sqlite3 *db, int (*cb)(void *ctx, const char *mailbox, unsigned n_new, unsigned n_old),
		     void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT m.number, count(v.id) FILTER (WHERE v.folder = 'new'),"
				    " count(v.id) FILTER (WHERE v.folder = 'old')"
				    " FROM mailboxes m LEFT JOIN vm_messages v ON v.mailbox = m.number"
				    " GROUP BY m.number ORDER BY m.number",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	int ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *number = db_col_text(st, 0);
		if (!db_number_valid(number))
			continue;
		ret = cb(ctx, number, clamp_count(sqlite3_column_int64(st, 1)),
			 clamp_count(sqlite3_column_int64(st, 2)));
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}
