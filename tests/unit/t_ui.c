/*
 * t_ui.c: the browser UI served by the web admin, black-box. One real
 * server on 127.0.0.1 (ephemeral port, fresh SQLite file) for the group;
 * each request is HTTP/1.1 over a plain socket, one per connection.
 * The expected bodies come from the compiled-in table (ui_assets.h), so
 * the test follows the files in webadmin/ui/ without listing them.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "db.h"
#include "http.h"
#include "log.h"
#include "ui_assets.h"

#define RESP_MAX (4 * 1024 * 1024)

static struct {
	char dir[64], db[128];
	atomic_bool ready;
	struct http_server *h;
	uint16_t port;
} srv;

struct resp {
	int status;
	char *raw;
	size_t raw_len;
	const char *body; /* into raw */
	size_t body_len;
};

static void resp_free(struct resp *r)
{
	free(r->raw);
	memset(r, 0, sizeof *r);
}

/* The value of a response header (first one, case-insensitive name). */
static bool resp_header(const struct resp *r, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = strstr(r->raw, "\r\n");
	const char *end = r->body ? r->body : r->raw + r->raw_len;
	while (p && p + 2 < end) {
		p += 2;
		const char *eol = strstr(p, "\r\n");
		if (!eol || eol == p)
			break;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)(eol - v), v);
			return true;
		}
		p = eol;
	}
	return false;
}

/* Send a request (extra: more header lines, each ending "\r\n") and read
 * the answer until the server closes. */
static void http_get(const char *method, const char *path, const char *extra, struct resp *out)
{
	memset(out, 0, sizeof *out);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(srv.port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	char req[2048];
	int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n", method,
			 path, extra ? extra : "");
	assert_true(n > 0 && (size_t)n < sizeof req);
	assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap + 1);
	assert_non_null(buf);
	for (;;) {
		if (len == cap) {
			assert_true(cap < RESP_MAX);
			cap *= 2;
			char *nb = realloc(buf, cap + 1);
			assert_non_null(nb);
			buf = nb;
		}
		ssize_t k = recv(fd, buf + len, cap - len, 0);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	buf[len] = '\0';
	out->raw = buf;
	out->raw_len = len;
	if (sscanf(buf, "HTTP/1.1 %d", &out->status) != 1)
		out->status = 0;
	char *b = strstr(buf, "\r\n\r\n");
	if (b) {
		out->body = b + 4;
		out->body_len = len - (size_t)(out->body - buf);
	}
}

static int group_setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERR);
	snprintf(srv.dir, sizeof srv.dir, "/tmp/t_ui.XXXXXX");
	if (!mkdtemp(srv.dir))
		return -1;
	snprintf(srv.db, sizeof srv.db, "%s/pbx.db", srv.dir);
	sqlite3 *db;
	char err[256];
	if (db_open(srv.db, &db, err, sizeof err) != 0)
		return -1;
	db_close(db);
	struct http_cfg cfg = { .ready = &srv.ready, .db_path = srv.db };
	struct sockaddr_in *sin = (struct sockaddr_in *)&cfg.addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	atomic_store(&srv.ready, true);
	if (http_start(&srv.h, &cfg) != 0)
		return -1;
	srv.port = http_port(srv.h);
	return srv.port ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	http_stop(srv.h);
	char p[192];
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", srv.db, suffix[i]);
		unlink(p);
	}
	rmdir(srv.dir);
	return 0;
}

static const struct ui_asset *asset(const char *name)
{
	for (size_t i = 0; i < ui_asset_count; i++)
		if (strcmp(ui_asset_table[i].path, name) == 0)
			return &ui_asset_table[i];
	fail_msg("no asset %s", name);
	return NULL;
}

/* The security headers every UI answer carries. */
static void assert_ui_headers(const struct resp *r)
{
	char v[512];
	assert_true(resp_header(r, "Content-Security-Policy", v, sizeof v));
	assert_string_equal(v, ui_csp);
	assert_non_null(strstr(v, "script-src 'self'"));
	assert_null(strstr(v, "unsafe"));
	assert_true(resp_header(r, "X-Content-Type-Options", v, sizeof v));
	assert_string_equal(v, "nosniff");
}

static void test_root_is_index(void **state)
{
	(void)state;
	const struct ui_asset *a = asset("index.html");
	struct resp r;
	http_get("GET", "/", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_ui_headers(&r);
	char v[256];
	assert_true(resp_header(&r, "Content-Type", v, sizeof v));
	assert_string_equal(v, "text/html; charset=utf-8");
	assert_true(resp_header(&r, "ETag", v, sizeof v));
	assert_string_equal(v, a->etag);
	assert_true(resp_header(&r, "Cache-Control", v, sizeof v));
	assert_string_equal(v, "no-cache");
	assert_int_equal(r.body_len, a->len);
	assert_memory_equal(r.body, a->data, a->len);
	assert_non_null(strstr(r.body, "<!doctype html>"));
	resp_free(&r);
}

/* Every asset is served with its bytes, type and ETag; the same ETag in
 * If-None-Match (alone, in a list, weak, or "*") gives a 304 without a
 * body, another one the full file. */
static void test_assets_etag(void **state)
{
	(void)state;
	assert_true(ui_asset_count >= 3);
	for (size_t i = 0; i < ui_asset_count; i++) {
		const struct ui_asset *a = &ui_asset_table[i];
		char path[256], v[512], hdr[512];
		snprintf(path, sizeof path, "/ui/%s", a->path);
		struct resp r;
		http_get("GET", path, NULL, &r);
		assert_int_equal(r.status, 200);
		assert_ui_headers(&r);
		assert_true(resp_header(&r, "Content-Type", v, sizeof v));
		assert_string_equal(v, a->type);
		assert_true(resp_header(&r, "ETag", v, sizeof v));
		assert_string_equal(v, a->etag);
		assert_true(strlen(v) > 10 && v[0] == '"' && v[strlen(v) - 1] == '"');
		assert_int_equal(r.body_len, a->len);
		assert_memory_equal(r.body, a->data, a->len);
		resp_free(&r);

		for (size_t k = 0; k < 3; k++) {
			if (k == 0)
				snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\n", a->etag);
			else if (k == 1)
				snprintf(hdr, sizeof hdr, "If-None-Match: \"x\", W/%s\r\n", a->etag);
			else
				snprintf(hdr, sizeof hdr, "If-None-Match: *\r\n");
			http_get("GET", path, hdr, &r);
			assert_int_equal(r.status, 304);
			assert_int_equal(r.body_len, 0);
			assert_true(resp_header(&r, "ETag", v, sizeof v));
			assert_string_equal(v, a->etag);
			resp_free(&r);
		}
		http_get("GET", path, "If-None-Match: \"0000\"\r\n", &r);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, a->len);
		resp_free(&r);
	}
	/* The ETags differ between files with different contents. */
	assert_string_not_equal(asset("app.js")->etag, asset("style.css")->etag);
}

static void test_unknown_and_traversal(void **state)
{
	(void)state;
	static const char *const paths[] = {
		"/ui/nope.js",      "/ui/",         "/ui",         "/ui/../webadmin/http.c", "/ui/../../etc/passwd",
		"/ui/%2e%2e/Makefile", "/ui/..%2fMakefile", "/ui//index.html", "/ui/index.html/", "/ui/./app.js",
		"/ui/app.js%00",    "/ui/APP.JS",   "/ui/ui/app.js", "/index.html/../",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		struct resp r;
		http_get("GET", paths[i], NULL, &r);
		/* "/ui" and "/index.html/../" are not UI paths: the API's own
		 * pipeline answers them (404, or 400 for dot segments). */
		if (r.status != 404 && r.status != 400)
			fail_msg("%s: status %d", paths[i], r.status);
		if (strncmp(paths[i], "/ui/", 4) == 0)
			assert_int_equal(r.status, 404);
		assert_null(strstr(r.raw, "#include"));
		assert_null(strstr(r.raw, "root:"));
		resp_free(&r);
	}
}

static void test_methods(void **state)
{
	(void)state;
	struct resp r;
	http_get("POST", "/", "Content-Length: 0\r\n", &r);
	assert_int_equal(r.status, 405);
	char v[64];
	assert_true(resp_header(&r, "Allow", v, sizeof v));
	assert_string_equal(v, "GET, HEAD");
	resp_free(&r);
	http_get("HEAD", "/ui/app.js", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	resp_free(&r);
	/* The API is untouched: still behind a session. */
	http_get("GET", "/api/v1/extensions", NULL, &r);
	assert_int_equal(r.status, 401);
	resp_free(&r);
}

/* The strict CSP only works if the page has no inline code or style. */
static void test_no_inline_code(void **state)
{
	(void)state;
	const struct ui_asset *a = asset("index.html");
	char *html = strndup((const char *)a->data, a->len);
	assert_non_null(html);
	for (char *p = html; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	assert_null(strstr(html, "<style"));
	assert_null(strstr(html, " style="));
	assert_null(strstr(html, "javascript:"));
	assert_null(strstr(html, " onclick="));
	assert_null(strstr(html, " onload="));
	/* Every script element loads a file. */
	for (char *p = strstr(html, "<script"); p; p = strstr(p + 1, "<script")) {
		char *gt = strchr(p, '>');
		assert_non_null(gt);
		*gt = '\0';
		assert_non_null(strstr(p, " src="));
		*gt = '>';
	}
	assert_non_null(strstr(html, "<script type=\"module\" src=\"/ui/app.js\""));
	free(html);
}

/* Every module a script imports ("./name.js") is compiled in, and the
 * scripts never build markup from strings (innerHTML and friends), the
 * rule that keeps user text inert. */
static void test_modules_complete(void **state)
{
	(void)state;
	size_t scripts = 0, imports = 0;
	for (size_t i = 0; i < ui_asset_count; i++) {
		const struct ui_asset *a = &ui_asset_table[i];
		size_t n = strlen(a->path);
		if (n < 3 || strcmp(a->path + n - 3, ".js") != 0)
			continue;
		scripts++;
		char *js = strndup((const char *)a->data, a->len);
		assert_non_null(js);
		static const char *const banned[] = { "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
						      "eval(", "new Function" };
		for (size_t b = 0; b < sizeof banned / sizeof banned[0]; b++) {
			if (strstr(js, banned[b]))
				fprintf(stderr, "%s uses %s\n", a->path, banned[b]);
			assert_null(strstr(js, banned[b]));
		}
		for (char *p = strstr(js, "from './"); p; p = strstr(p + 1, "from './")) {
			char name[64];
			char *q = p + strlen("from './");
			size_t k = strcspn(q, "'");
			assert_true(k > 0 && k < sizeof name);
			memcpy(name, q, k);
			name[k] = '\0';
			if (!asset(name))
				fprintf(stderr, "%s imports %s, which is not compiled in\n", a->path, name);
			assert_non_null(asset(name));
			imports++;
		}
		free(js);
	}
	assert_true(scripts >= 2);
	assert_true(imports >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_is_index),
		cmocka_unit_test(test_assets_etag),
		cmocka_unit_test(test_unknown_and_traversal),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_no_inline_code),
		cmocka_unit_test(test_modules_complete),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
