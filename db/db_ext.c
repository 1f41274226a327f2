/*
 * db_ext.c: extensions: validation, add, change, delete, list, and their
 * forwarding rules and do-not-disturb state.
 *
 * Passwords are never stored: only the two digest HA1 values (MD5 and
 * SHA-256, RFC 8760) for the realm in settings. Changing sip_realm therefore
 * invalidates every stored HA1; each password must be set again.
 */
#include "db.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <nettle/md5.h>
#include <nettle/sha2.h>

bool db_number_valid(const char *s)
{
	if (!s)
		return false;
	size_t n = strnlen(s, DB_NUMBER_MAX + 1);
	return n >= DB_NUMBER_MIN && n <= DB_NUMBER_MAX && strspn(s, "0123456789") == n;
}

bool db_pin_valid(const char *s)
{
	if (!s)
		return false;
	size_t n = strnlen(s, DB_PIN_MAX + 1);
	if (n == 0)
		return true;
	return n >= DB_PIN_MIN && n <= DB_PIN_MAX && strspn(s, "0123456789") == n;
}

/* Well-formed UTF-8 (no overlongs, no surrogates), no C0/C1 controls or
 * DEL, at most DB_NAME_MAX characters in at most DB_NAME_BYTES bytes. */
bool db_name_valid(const char *s)
{
	if (!s)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0, bytes = strnlen(s, DB_NAME_BYTES + 1);
	if (bytes > DB_NAME_BYTES)
		return false;
	for (size_t i = 0; i < bytes; chars++) {
		unsigned c = p[i];
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		size_t n;
		unsigned cp;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n > bytes)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
			return false;
		i += n;
	}
	return chars <= DB_NAME_MAX;
}

int db_ext_validate(const char *number, const char *name, const char *password, const char *vm_pin,
		    char *err, size_t errcap)
{
	if (number && !db_number_valid(number)) {
		snprintf(err, errcap, "extension: %d to %d digits", DB_NUMBER_MIN, DB_NUMBER_MAX);
		return EINVAL;
	}
	if (name && !db_name_valid(name)) {
		snprintf(err, errcap, "name: at most %d characters of UTF-8, no control characters",
			 DB_NAME_MAX);
		return EINVAL;
	}
	if (password) {
		size_t n = strnlen(password, DB_PASSWORD_MAX + 1);
		if (n < DB_PASSWORD_MIN || n > DB_PASSWORD_MAX) {
			snprintf(err, errcap, "password: %d to %d characters", DB_PASSWORD_MIN,
				 DB_PASSWORD_MAX);
			return EINVAL;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)password[i];
			if (c < 0x21 || c > 0x7e) {
				snprintf(err, errcap, "password: printable ASCII characters only, no spaces");
				return EINVAL;
			}
		}
	}
	if (vm_pin && !db_pin_valid(vm_pin)) {
		snprintf(err, errcap, "vm_pin: empty or %d to %d digits", DB_PIN_MIN, DB_PIN_MAX);
		return EINVAL;
	}
	return 0;
}

static void hex_lower(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void db_ha1(const char *user, const char *realm, const char *password, char md5_out[33],
	    char sha256_out[65])
{
	struct md5_ctx m;
	struct sha256_ctx s;
	uint8_t d[SHA256_DIGEST_SIZE];
	const char *parts[5] = { user, ":", realm, ":", password };

	md5_init(&m);
	sha256_init(&s);
	for (size_t i = 0; i < 5; i++) {
		size_t n = strlen(parts[i]);
		md5_update(&m, n, (const uint8_t *)parts[i]);
		sha256_update(&s, n, (const uint8_t *)parts[i]);
	}
	md5_digest(&m, MD5_DIGEST_SIZE, d);
	hex_lower(d, MD5_DIGEST_SIZE, md5_out);
	sha256_digest(&s, SHA256_DIGEST_SIZE, d);
	hex_lower(d, SHA256_DIGEST_SIZE, sha256_out);
}

int db_number_in_use(sqlite3 *db, const char *number, bool *in_use)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT 1 FROM extensions WHERE number = ?1"
				    " UNION ALL SELECT 2 FROM rooms WHERE number = ?1",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW)
		*in_use = true;
	else if (rc == SQLITE_DONE)
		*in_use = false;
	else
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}

int db_ext_add(sqlite3 *db, const char *number, const char *name, const char *password,
	       const char *vm_pin, char *err, size_t errcap)
{
	if (!name)
		name = "";
	if (!vm_pin)
		vm_pin = "";
	if (!number || !password) {
		snprintf(err, errcap, "%s: missing", !number ? "extension" : "password");
		return EINVAL;
	}
	int ret = db_ext_validate(number, name, password, vm_pin, err, errcap);
	if (ret != 0)
		return ret;

	bool owned;
	ret = db_write_begin(db, &owned);
	if (ret != 0) {
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
		return ret;
	}
	sqlite3_stmt *st = NULL;
	bool used = false;
	ret = db_number_in_use(db, number, &used);
	if (ret == 0 && used) {
		snprintf(err, errcap, "extension: %s is already an extension or a room", number);
		ret = EEXIST;
	}
	char realm[DB_REALM_MAX + 1];
	if (ret == 0)
		ret = db_setting_realm(db, realm);
	if (ret == 0) {
		char md5[33], sha[65];
		db_ha1(number, realm, password, md5, sha);
		int rc = sqlite3_prepare_v2(db,
					    "INSERT INTO extensions(number, name, ha1_md5, ha1_sha256, vm_pin,"
					    " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
					    -1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, md5, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 4, sha, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 5, vm_pin, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
			rc = sqlite3_step(st);
		}
		if (rc != SQLITE_DONE) {
			snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
			ret = db_errno(db, rc);
		}
	} else if (ret != EEXIST) {
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return db_write_end(db, owned, ret);
}

int db_ext_set_password(sqlite3 *db, const char *number, const char *password)
{
	char err[128];
	if (!number || !password || db_ext_validate(number, NULL, password, NULL, err, sizeof err) != 0)
		return EINVAL;
	bool owned;
	int ret = db_write_begin(db, &owned);
	if (ret != 0)
		return ret;
	char realm[DB_REALM_MAX + 1];
	ret = db_setting_realm(db, realm);
	sqlite3_stmt *st = NULL;
	if (ret == 0) {
		char md5[33], sha[65];
		db_ha1(number, realm, password, md5, sha);
		int rc = sqlite3_prepare_v2(db,
					    "UPDATE extensions SET ha1_md5 = ?2, ha1_sha256 = ?3, updated_at = ?4"
					    " WHERE number = ?1",
					    -1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, md5, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 3, sha, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
			rc = sqlite3_step(st);
		}
		if (rc != SQLITE_DONE)
			ret = db_errno(db, rc);
		else if (sqlite3_changes(db) == 0)
			ret = ENOENT;
	}
	sqlite3_finalize(st);
	return db_write_end(db, owned, ret);
}

int db_ext_update(sqlite3 *db, const char *number, const char *name, const char *vm_pin,
		  const unsigned *flags, const int *ring_time, char *err, size_t errcap)
{
	if (!number) {
		snprintf(err, errcap, "extension: missing");
		return EINVAL;
	}
	int ret = db_ext_validate(number, name, NULL, vm_pin, err, errcap);
	if (ret != 0)
		return ret;
	if (ring_time && (*ring_time < DB_RING_TIME_MIN || *ring_time > DB_RING_TIME_MAX)) {
		snprintf(err, errcap, "ring_time: %d to %d seconds", DB_RING_TIME_MIN, DB_RING_TIME_MAX);
		return EINVAL;
	}
	if (flags && (*flags & ~EXT_F_ALL)) {
		snprintf(err, errcap, "flags: unknown option bits 0x%x", *flags & ~EXT_F_ALL);
		return EINVAL;
	}
	sqlite3_stmt *st = NULL;
	/* A NULL parameter keeps the column as it is. */
	int rc = sqlite3_prepare_v2(db,
				    "UPDATE extensions SET name = coalesce(?2, name),"
				    " vm_pin = coalesce(?3, vm_pin), flags = coalesce(?4, flags),"
				    " ring_time = coalesce(?5, ring_time), updated_at = ?6 WHERE number = ?1",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
		if (name)
			sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		if (vm_pin)
			sqlite3_bind_text(st, 3, vm_pin, -1, SQLITE_STATIC);
		if (flags)
			sqlite3_bind_int64(st, 4, (sqlite3_int64)*flags);
		if (ring_time)
			sqlite3_bind_int(st, 5, *ring_time);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
		rc = db_step_write(db, st);
	}
	if (rc != SQLITE_DONE) {
		ret = db_errno(db, rc);
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
	} else if (sqlite3_changes(db) == 0) {
		ret = ENOENT;
		snprintf(err, errcap, "extension: %s does not exist", number);
	}
	sqlite3_finalize(st);
	return ret;
}

int db_ext_del(sqlite3 *db, const char *number)
{
	if (!db_number_valid(number))
		return ENOENT;
	return db_delete_one(db, "DELETE FROM extensions WHERE number = ?1", number);
}

/* The columns of struct db_ext, in the order ext_from_row reads them. */
#define EXT_COLUMNS                                                                          \
	"SELECT number, name, ha1_md5, ha1_sha256, vm_pin, flags, ring_time, created_at,"    \
	" updated_at, fwd_always, fwd_busy, fwd_noanswer, dnd FROM extensions"

/* The strings point into the statement's row: valid until the next step. */
static void ext_from_row(sqlite3_stmt *st, struct db_ext *e)
{
	*e = (struct db_ext){
		.number = db_col_text(st, 0),
		.name = db_col_text(st, 1),
		.ha1_md5 = db_col_text(st, 2),
		.ha1_sha256 = db_col_text(st, 3),
		.vm_pin = db_col_text(st, 4),
		.flags = (unsigned)sqlite3_column_int64(st, 5),
		.ring_time = sqlite3_column_int(st, 6),
		.created_at = sqlite3_column_int64(st, 7),
		.updated_at = sqlite3_column_int64(st, 8),
		.fwd_always = db_col_text(st, 9),
		.fwd_busy = db_col_text(st, 10),
		.fwd_noanswer = db_col_text(st, 11),
		.dnd = sqlite3_column_int(st, 12) != 0,
	};
}

/* Hand each row of st to cb, counting them in *rows; 0 once the last row
 * is handed, cb's non-zero value, or the step error. */
static int ext_walk(sqlite3 *db, sqlite3_stmt *st, int (*cb)(void *ctx, const struct db_ext *e), void *ctx,
		    unsigned *rows)
{
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_ext e;
		ext_from_row(st, &e);
		(*rows)++;
		ret = cb(ctx, &e);
		if (ret != 0)
			return ret;
	}
	return rc == SQLITE_DONE ? 0 : db_errno(db, rc);
}

int db_ext_list(sqlite3 *db, int (*cb)(void *ctx, const struct db_ext *e), void *ctx)
{
	sqlite3_stmt *st = NULL;
	/* Shorter numbers first, so the order is numeric for numbers without
	 * leading zeros. */
	int rc = sqlite3_prepare_v2(db, EXT_COLUMNS " ORDER BY length(number), number", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	unsigned rows = 0;
	int ret = ext_walk(db, st, cb, ctx, &rows);
	sqlite3_finalize(st);
	return ret;
}

/* The ORDER BY of each sort key, both ways. Each key ends in the number
 * order; the number order itself is served by the extensions_order index.
 * ifnull: a NULL time sorts as the 0 the row reads as. */
static const char *const ext_orders[][2] = {
	[DB_EXT_SORT_NUMBER] = { " ORDER BY length(number), number",
				 " ORDER BY length(number) DESC, number DESC" },
	[DB_EXT_SORT_NAME] = { " ORDER BY name COLLATE NOCASE, length(number), number",
			       " ORDER BY name COLLATE NOCASE DESC, length(number) DESC, number DESC" },
	[DB_EXT_SORT_CREATED] = { " ORDER BY ifnull(created_at, 0), length(number), number",
				  " ORDER BY ifnull(created_at, 0) DESC, length(number) DESC, number DESC" },
	[DB_EXT_SORT_UPDATED] = { " ORDER BY ifnull(updated_at, 0), length(number), number",
				  " ORDER BY ifnull(updated_at, 0) DESC, length(number) DESC, number DESC" },
};

/*
 * Searching. q matches an extension whose number holds it or whose name
 * holds it ASCII case-insensitively, q taken literally (strstr and
 * strcasestr in the C locale). Two ways find exactly those rows:
 *
 *  - EXT_MATCH, tested on every row: instr() on the number (digits: no
 *    case), LIKE with q's %, _ and \ escaped on the name (LIKE folds ASCII
 *    only). It reads number and name, which extensions_order holds: a scan
 *    reads that index, and the table only for the rows it returns.
 *  - extensions_fts (migrations 5 and 6), a trigram index of the numbers
 *    and of the names lowered with lower(), as q is: for a q of 3
 *    characters or more the quoted phrase of its trigrams
 *    (EXT_FTS_PHRASE), for one of 2 the index's terms that begin with it,
 *    ORed (ext_fts_terms). Either finds the rows that hold q without
 *    reading the others.
 *
 * A search the index can answer is counted there (the cost grows with the
 * matches, not with the table), and its page is taken whichever way
 * ext_fts_pays finds cheaper for that many matches. The index's rowids
 * run in number order (DB_EXT_FTS_KEY), so a page by number from the index
 * is its matches offset .. offset + limit - 1, each looked up by number,
 * with no sort; a walk in number order stops once the page is full, which
 * is sooner when most rows match. Any other order sorts all the matches,
 * found by the index or by a scan. Other searches (1 character, 2 whose
 * pair begins too many terms, bytes that are not UTF-8) walk in the
 * page's order, and are counted by a second scan only when the walk did
 * not see the last match.
 *
 * Parameters: ?1 q, ?2 LIMIT, ?3 OFFSET, ?4 the LIKE pattern, ?5 the
 * MATCH expression of a 2-character q.
 */
#define EXT_MATCH " WHERE instr(number, ?1) > 0 OR name LIKE ?4 ESCAPE '\\'"
#define EXT_FTS_PHRASE " WHERE extensions_fts MATCH '\"' || replace(lower(?1), '\"', '\"\"') || '\"'"
#define EXT_FTS_EXPR " WHERE extensions_fts MATCH ?5"
#define EXT_Q_MAX 256    /* bytes of a search */
#define EXT_FTS_MIN 2    /* characters of the shortest search the index answers */
#define EXT_TERMS_MAX 48 /* terms a 2-character search may stand for; more: the scan is cheaper */
#define EXT_EXPR_MAX (EXT_TERMS_MAX * 32) /* bytes: a term is 3 characters, quoted, with " OR " */

_Static_assert(DB_NUMBER_MAX <= 15 && DB_NUMBER_MIN >= 1, "DB_EXT_FTS_KEY holds 1..15 digits");

/*
 * What the ways to a page cost, in rows of a scan (a row of
 * extensions_order tested with EXT_MATCH: about 0.12 us), measured over
 * 10,000 extensions with a tag in 10 to 5,000 of the names (-O2, 2 cores;
 * tests/bench/README, api):
 *   EXT_COST_KEY     a match read from the index in rowid order (0.1-0.25 us)
 *   EXT_COST_LOOKUP  a row of the page looked up by number (1.3 us)
 *   EXT_COST_SORTED  a match looked up and sorted by the index's IN (2.5-5 us)
 */
#define EXT_COST_KEY 2
#define EXT_COST_LOOKUP 11
#define EXT_COST_SORTED 20

/* Is the page of a search with m matches among n rows cheaper from the
 * index than from a walk in the page's order? Every order but the
 * number's sorts all the matches either way, and the walk reads all n
 * rows. By number, the index reads the matches up to the page's last and
 * looks the page up; the walk stops at the page's last match: about
 * (offset + limit) / m of the way when the matches are spread evenly, the
 * whole table at worst, which bounds what a wrong guess costs. */
static bool ext_fts_pays(enum db_ext_sort sort, unsigned m, unsigned n, unsigned limit, unsigned offset)
{
	if (sort != DB_EXT_SORT_NUMBER)
		return (uint64_t)m * EXT_COST_SORTED <= n;
	uint64_t need = (uint64_t)offset + limit;
	uint64_t walk = m ? need * n / m : n;
	if (walk > n)
		walk = n;
	uint64_t keys = need < m ? need : m;
	return keys * EXT_COST_KEY + (uint64_t)limit * EXT_COST_LOOKUP <= walk;
}

/* "%q%" with q's %, _ and \ escaped so that they match themselves. out
 * holds at least 2 * strlen(q) + 3 bytes. */
static void ext_like_pattern(const char *q, char *out)
{
	char *o = out;
	*o++ = '%';
	for (; *q; q++) {
		if (*q == '%' || *q == '_' || *q == '\\')
			*o++ = '\\';
		*o++ = *q;
	}
	*o++ = '%';
	*o = '\0';
}

/* Characters of q when the index may answer it: well-formed UTF-8 with no
 * control character (so never the U+0001 that pads the index). 0 for
 * anything else, which goes to the scan, right for any bytes. */
static size_t ext_fts_chars(const char *q)
{
	if (!db_name_valid(q))
		return 0;
	size_t chars = 0;
	for (const unsigned char *p = (const unsigned char *)q; *p; p++)
		chars += (*p & 0xc0) != 0x80;
	return chars;
}

/* A search as the statements take it. */
struct ext_search {
	const char *q;    /* ?1 */
	const char *like; /* ?4: q as a LIKE pattern */
	const char *expr; /* ?5: the MATCH expression of a 2-character q, or NULL */
	const char *fts;  /* EXT_FTS_PHRASE or EXT_FTS_EXPR: how the index is asked */
};

/* Bind what st has room for: the statements use different parameters. */
static void ext_bind(sqlite3_stmt *st, const struct ext_search *s)
{
	int n = sqlite3_bind_parameter_count(st);
	if (s && n >= 1)
		sqlite3_bind_text(st, 1, s->q, -1, SQLITE_STATIC);
	if (s && n >= 4)
		sqlite3_bind_text(st, 4, s->like, -1, SQLITE_STATIC);
	if (s && n >= 5 && s->expr)
		sqlite3_bind_text(st, 5, s->expr, -1, SQLITE_STATIC);
}

/* count(*) of table's rows where where holds. */
static int ext_count(sqlite3 *db, const char *table, const char *where, const struct ext_search *s,
		     unsigned *out)
{
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s%s", table, where);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		ext_bind(st, s);
		rc = sqlite3_step(st);
	}
	int ret = 0;
	if (rc == SQLITE_ROW) {
		sqlite3_int64 n = sqlite3_column_int64(st, 0);
		*out = n < 0 ? 0 : n > UINT_MAX ? UINT_MAX : (unsigned)n;
	} else {
		ret = db_errno(db, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
	}
	sqlite3_finalize(st);
	return ret;
}

/* The MATCH expression of a 2-character q into out: the index's terms
 * that begin with lower(q), quoted and ORed, in order; "" when there is
 * none. ENOSPC when more than EXT_TERMS_MAX do. Terms are 3 characters:
 * the bounds are q and q followed by the last code point twice. */
static int ext_fts_terms(sqlite3 *db, const char *q, char out[EXT_EXPR_MAX])
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT term FROM extensions_fts_terms WHERE term >= lower(?1)"
				    " AND term <= lower(?1) || char(1114111, 1114111) LIMIT ?2",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, EXT_TERMS_MAX + 1);
	size_t w = 0;
	unsigned n = 0;
	int ret = 0;
	out[0] = '\0';
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = db_col_text(st, 0);
		if (++n > EXT_TERMS_MAX || w + 8 > EXT_EXPR_MAX) {
			ret = ENOSPC;
			break;
		}
		w += (size_t)snprintf(out + w, EXT_EXPR_MAX - w, "%s\"", n > 1 ? " OR " : "");
		for (; *t && w + 4 < EXT_EXPR_MAX; t++) {
			if (*t == '"')
				out[w++] = '"';
			out[w++] = *t;
		}
		if (*t || w + 2 > EXT_EXPR_MAX) {
			ret = ENOSPC;
			break;
		}
		out[w++] = '"';
		out[w] = '\0';
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}

/* The rows of where in the page's order, offset .. offset + limit - 1,
 * through cb; *rows counts them. */
static int ext_page_rows(sqlite3 *db, const char *where, const struct ext_search *s, enum db_ext_sort sort,
			 bool desc, unsigned limit, unsigned offset, int (*cb)(void *ctx, const struct db_ext *e),
			 void *ctx, unsigned *rows)
{
	char sql[768];
	snprintf(sql, sizeof sql, "%s%s%s LIMIT ?2 OFFSET ?3", EXT_COLUMNS, where, ext_orders[sort][desc]);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	ext_bind(st, s);
	sqlite3_bind_int64(st, 2, limit);
	sqlite3_bind_int64(st, 3, offset);
	int ret = ext_walk(db, st, cb, ctx, rows);
	sqlite3_finalize(st);
	return ret;
}

/* A page by number from the index: its matches offset .. offset + limit -
 * 1 in rowid order, each looked up in extensions by the number its rowid
 * spells. One statement reads the index while the other reads the table;
 * an index row without its extension (which the triggers rule out) is
 * skipped. */
static int ext_fts_page_by_number(sqlite3 *db, const struct ext_search *s, bool desc, unsigned limit,
				  unsigned offset, int (*cb)(void *ctx, const struct db_ext *e), void *ctx)
{
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT rowid FROM extensions_fts%s ORDER BY rowid%s LIMIT ?2 OFFSET ?3", s->fts,
		 desc ? " DESC" : "");
	sqlite3_stmt *keys = NULL, *row = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &keys, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, EXT_COLUMNS " WHERE number = ?1", -1, &row, NULL);
	int ret = 0;
	if (rc != SQLITE_OK) {
		ret = db_errno(db, rc);
		goto out;
	}
	ext_bind(keys, s);
	sqlite3_bind_int64(keys, 2, limit);
	sqlite3_bind_int64(keys, 3, offset);
	while (ret == 0 && (rc = sqlite3_step(keys)) == SQLITE_ROW) {
		sqlite3_int64 key = sqlite3_column_int64(keys, 0);
		sqlite3_int64 len = key / DB_EXT_FTS_BASE, value = key % DB_EXT_FTS_BASE;
		if (len < DB_NUMBER_MIN || len > DB_NUMBER_MAX || value < 0)
			continue; /* not a rowid DB_EXT_FTS_KEY makes */
		char number[DB_NUMBER_MAX + 1];
		snprintf(number, sizeof number, "%0*lld", (int)len, (long long)value);
		sqlite3_reset(row);
		sqlite3_bind_text(row, 1, number, -1, SQLITE_TRANSIENT);
		unsigned n = 0;
		ret = ext_walk(db, row, cb, ctx, &n);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_errno(db, rc);
out:
	sqlite3_finalize(keys);
	sqlite3_finalize(row);
	return ret;
}

/* The page and the total of a search the index answers (s->fts set). */
static int ext_fts_page(sqlite3 *db, const struct ext_search *s, enum db_ext_sort sort, bool desc,
			unsigned limit, unsigned offset, int (*cb)(void *ctx, const struct db_ext *e), void *ctx,
			unsigned *total)
{
	int ret = ext_count(db, "extensions_fts", s->fts, s, total);
	if (ret != 0 || *total == 0 || offset >= *total || limit == 0)
		return ret;
	unsigned n = 0, rows = 0;
	ret = ext_count(db, "extensions", "", NULL, &n);
	if (ret != 0)
		return ret;
	if (!ext_fts_pays(sort, *total, n, limit, offset))
		return ext_page_rows(db, EXT_MATCH, s, sort, desc, limit, offset, cb, ctx, &rows);
	if (sort == DB_EXT_SORT_NUMBER)
		return ext_fts_page_by_number(db, s, desc, limit, offset, cb, ctx);
	char where[256]; /* the index's numbers end in the padding of migration 6 */
	snprintf(where, sizeof where, " WHERE number IN (SELECT rtrim(number, char(1)) FROM extensions_fts%s)",
		 s->fts);
	return ext_page_rows(db, where, s, sort, desc, limit, offset, cb, ctx, &rows);
}

/* The page and the total, inside the read transaction of db_ext_page. */
static int ext_page_in_txn(sqlite3 *db, const char *q, enum db_ext_sort sort, bool desc, unsigned limit,
			   unsigned offset, int (*cb)(void *ctx, const struct db_ext *e), void *ctx,
			   unsigned *total)
{
	unsigned rows = 0;
	int ret;
	if (!q) {
		ret = ext_count(db, "extensions", "", NULL, total);
		return ret ? ret : ext_page_rows(db, "", NULL, sort, desc, limit, offset, cb, ctx, &rows);
	}
	char like[2 * EXT_Q_MAX + 3], expr[EXT_EXPR_MAX];
	ext_like_pattern(q, like);
	struct ext_search s = { .q = q, .like = like };
	size_t chars = ext_fts_chars(q);
	if (chars > EXT_FTS_MIN) {
		s.fts = EXT_FTS_PHRASE;
	} else if (chars == EXT_FTS_MIN) {
		ret = ext_fts_terms(db, q, expr);
		if (ret != 0 && ret != ENOSPC)
			return ret;
		if (ret == 0 && !expr[0])
			return 0; /* no term begins with q: nothing matches */
		if (ret == 0) {
			s.expr = expr;
			s.fts = EXT_FTS_EXPR;
		}
	}
	if (s.fts)
		return ext_fts_page(db, &s, sort, desc, limit, offset, cb, ctx, total);
	ret = ext_page_rows(db, EXT_MATCH, &s, sort, desc, limit, offset, cb, ctx, &rows);
	/* A walk that ran out of matches inside the page saw them all: there
	 * are offset + rows (with none past offset, that is known for offset
	 * 0 only). */
	if (ret == 0 && rows < limit && (rows > 0 || offset == 0)) {
		*total = offset + rows;
		return 0;
	}
	/* Counted also when cb stopped the walk: *total is always set. */
	int cret = ext_count(db, "extensions", EXT_MATCH, &s, total);
	return ret ? ret : cret;
}

int db_ext_page(sqlite3 *db, const char *q, enum db_ext_sort sort, bool desc, unsigned limit,
		unsigned offset, int (*cb)(void *ctx, const struct db_ext *e), void *ctx, unsigned *total)
{
	if ((unsigned)sort >= sizeof ext_orders / sizeof ext_orders[0])
		return EINVAL;
	*total = 0;
	if (q && !q[0])
		q = NULL;
	if (q && strnlen(q, EXT_Q_MAX + 1) > EXT_Q_MAX)
		return EINVAL;
	/* A read transaction (unless the caller holds one) so that the count
	 * and the page see the same rows. */
	bool owned = sqlite3_get_autocommit(db) != 0;
	int rc = owned ? sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) : SQLITE_OK;
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	int ret = ext_page_in_txn(db, q, sort, desc, limit, offset, cb, ctx, total);
	if (owned) {
		if (ret == 0 && (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
			ret = db_errno(db, rc);
		db_rollback(db);
	}
	return ret;
}

int db_ext_get(sqlite3 *db, const char *number, int (*cb)(void *ctx, const struct db_ext *e), void *ctx)
{
	if (!db_number_valid(number))
		return ENOENT;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, EXT_COLUMNS " WHERE number = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	unsigned rows = 0;
	int ret = ext_walk(db, st, cb, ctx, &rows);
	sqlite3_finalize(st);
	return ret == 0 && rows == 0 ? ENOENT : ret;
}

/* ---- forwarding and do not disturb ---------------------------------------------- */

static const char *const fwd_columns[] = {
	[DB_FWD_ALWAYS] = "fwd_always",
	[DB_FWD_BUSY] = "fwd_busy",
	[DB_FWD_NOANSWER] = "fwd_noanswer",
};

const char *db_fwd_kind_name(enum db_fwd_kind kind)
{
	return (unsigned)kind < sizeof fwd_columns / sizeof fwd_columns[0] ? fwd_columns[kind] : NULL;
}

/* Is number an extension (not a room)? */
static int ext_exists(sqlite3 *db, const char *number, bool *yes)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM extensions WHERE number = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		*yes = rc == SQLITE_ROW;
	else
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}

int db_fwd_validate(sqlite3 *db, const char *number, enum db_fwd_kind kind, const char *target, char *err,
		    size_t errcap)
{
	const char *field = db_fwd_kind_name(kind);
	if (!field) {
		snprintf(err, errcap, "forwarding: unknown kind %d", (int)kind);
		return EINVAL;
	}
	if (!target || !*target)
		return 0;
	if (!db_number_valid(target)) {
		snprintf(err, errcap, "%s: an extension number of %d to %d digits, or empty for off", field,
			 DB_NUMBER_MIN, DB_NUMBER_MAX);
		return EINVAL;
	}
	if (number && strcmp(number, target) == 0) {
		snprintf(err, errcap, "%s: an extension cannot forward to itself", field);
		return EINVAL;
	}
	bool yes = false;
	int ret = ext_exists(db, target, &yes);
	if (ret != 0) {
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
		return ret;
	}
	if (!yes) {
		snprintf(err, errcap, "%s: %s is not an extension", field, target);
		return EINVAL;
	}
	return 0;
}

/* The extension must exist: ENOENT with "extension: N does not exist". */
static int fwd_ext_check(sqlite3 *db, const char *number, char *err, size_t errcap)
{
	bool yes = false;
	int ret = db_number_valid(number) ? ext_exists(db, number, &yes) : 0;
	if (ret != 0) {
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
		return ret;
	}
	if (!yes) {
		snprintf(err, errcap, "extension: %.*s does not exist", DB_NUMBER_MAX + 1, number ? number : "");
		return ENOENT;
	}
	return 0;
}

int db_ext_get_fwd(sqlite3 *db, const char *number, struct db_fwd *out)
{
	memset(out, 0, sizeof *out);
	if (!db_number_valid(number))
		return ENOENT;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT fwd_always, fwd_busy, fwd_noanswer, dnd FROM extensions"
				    " WHERE number = ?1",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		/* The schema's CHECKs keep these to 15 digits. */
		snprintf(out->always, sizeof out->always, "%s", db_col_text(st, 0));
		snprintf(out->busy, sizeof out->busy, "%s", db_col_text(st, 1));
		snprintf(out->noanswer, sizeof out->noanswer, "%s", db_col_text(st, 2));
		out->dnd = sqlite3_column_int(st, 3) != 0;
	} else {
		ret = rc == SQLITE_DONE ? ENOENT : db_errno(db, rc);
	}
	sqlite3_finalize(st);
	return ret;
}

/* A target field of struct db_fwd that is not NUL-terminated inside its
 * array is refused rather than read past. */
static const char *fwd_field(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) ? s : NULL;
}

int db_ext_set_fwd(sqlite3 *db, const char *number, const struct db_fwd *f, char *err, size_t errcap)
{
	const char *t[3] = {
		fwd_field(f->always, sizeof f->always),
		fwd_field(f->busy, sizeof f->busy),
		fwd_field(f->noanswer, sizeof f->noanswer),
	};
	for (int k = 0; k < 3; k++)
		if (!t[k]) {
			snprintf(err, errcap, "%s: too long", fwd_columns[k]);
			return EINVAL;
		}
	bool owned;
	int ret = db_write_begin(db, &owned);
	if (ret != 0) {
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
		return ret;
	}
	ret = fwd_ext_check(db, number, err, errcap);
	for (int k = 0; k < 3 && ret == 0; k++)
		ret = db_fwd_validate(db, number, (enum db_fwd_kind)k, t[k], err, errcap);
	sqlite3_stmt *st = NULL;
	if (ret == 0) {
		int rc = sqlite3_prepare_v2(db,
					    "UPDATE extensions SET fwd_always = ?2, fwd_busy = ?3, fwd_noanswer = ?4,"
					    " dnd = ?5, updated_at = ?6 WHERE number = ?1",
					    -1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
			for (int k = 0; k < 3; k++)
				sqlite3_bind_text(st, 2 + k, t[k], -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 5, f->dnd ? 1 : 0);
			sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
			rc = sqlite3_step(st);
		}
		if (rc != SQLITE_DONE) {
			snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
			ret = db_errno(db, rc);
		}
	}
	sqlite3_finalize(st);
	return db_write_end(db, owned, ret);
}

int db_ext_set_fwd_one(sqlite3 *db, const char *number, enum db_fwd_kind kind, const char *target,
		       char *err, size_t errcap)
{
	/* One statement per column: the column name is never built from input. */
	static const char *const sql[] = {
		[DB_FWD_ALWAYS] = "UPDATE extensions SET fwd_always = ?2, updated_at = ?3 WHERE number = ?1",
		[DB_FWD_BUSY] = "UPDATE extensions SET fwd_busy = ?2, updated_at = ?3 WHERE number = ?1",
		[DB_FWD_NOANSWER] = "UPDATE extensions SET fwd_noanswer = ?2, updated_at = ?3 WHERE number = ?1",
	};
	if (!db_fwd_kind_name(kind)) {
		snprintf(err, errcap, "forwarding: unknown kind %d", (int)kind);
		return EINVAL;
	}
	if (!target)
		target = "";
	bool owned;
	int ret = db_write_begin(db, &owned);
	if (ret != 0) {
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
		return ret;
	}
	ret = fwd_ext_check(db, number, err, errcap);
	if (ret == 0)
		ret = db_fwd_validate(db, number, kind, target, err, errcap);
	sqlite3_stmt *st = NULL;
	if (ret == 0) {
		int rc = sqlite3_prepare_v2(db, sql[kind], -1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
			rc = sqlite3_step(st);
		}
		if (rc != SQLITE_DONE) {
			snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
			ret = db_errno(db, rc);
		}
	}
	sqlite3_finalize(st);
	return db_write_end(db, owned, ret);
}

int db_ext_set_dnd(sqlite3 *db, const char *number, bool on)
{
	if (!db_number_valid(number))
		return ENOENT;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "UPDATE extensions SET dnd = ?2, updated_at = ?3 WHERE number = ?1", -1,
				    &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, on ? 1 : 0);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
		rc = db_step_write(db, st);
	}
	int ret = 0;
	if (rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	else if (sqlite3_changes(db) == 0)
		ret = ENOENT;
	sqlite3_finalize(st);
	return ret;
}
