/*
 * ui_assets.c: serves the browser UI compiled into the binary (see
 * ui_assets.h). Read-only tables and no state: safe on every HTTP thread.
 *
 * The assets' URLs carry no version, so they are sent with "no-cache": the
 * browser keeps them but asks again each time, and the ETag turns that into
 * a 304 without a body.
 */
#include "ui_assets.h"

#include <string.h>

#define UI_PREFIX "/ui/"
#define UI_NAME_MAX 128
#define UI_INM_MAX 4096 /* longest If-None-Match looked at */

const char ui_csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
		      "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

bool ui_assets_match(const char *url)
{
	return url && (strcmp(url, "/") == 0 || strncmp(url, UI_PREFIX, strlen(UI_PREFIX)) == 0);
}

const struct ui_asset *ui_assets_find(const char *url)
{
	if (!url)
		return NULL;
	const char *name;
	if (strcmp(url, "/") == 0)
		name = "index.html";
	else if (strncmp(url, UI_PREFIX, strlen(UI_PREFIX)) == 0)
		name = url + strlen(UI_PREFIX);
	else
		return NULL;
	size_t n = strnlen(name, UI_NAME_MAX + 1);
	if (n == 0 || n > UI_NAME_MAX)
		return NULL;
	for (size_t i = 0; i < ui_asset_count; i++)
		if (strcmp(ui_asset_table[i].path, name) == 0)
			return &ui_asset_table[i];
	return NULL;
}

/* RFC 9110 13.1.2: If-None-Match is "*" or a list of entity tags compared
 * weakly (a W/ prefix is ignored). */
static bool inm_matches(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	size_t len = strnlen(inm, UI_INM_MAX + 1);
	if (len > UI_INM_MAX)
		return false;
	const char *p = inm, *end = inm + len;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p >= end)
			break;
		const char *q = p;
		while (q < end && *q != ',')
			q++;
		const char *e = q;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e - p == 1 && *p == '*')
			return true;
		if (e - p >= 2 && p[0] == 'W' && p[1] == '/')
			p += 2;
		if ((size_t)(e - p) == elen && memcmp(p, etag, elen) == 0)
			return true;
		p = q;
	}
	return false;
}

static void add_common(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", ui_csp);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text, const char *allow)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	add_common(resp);
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (allow)
		MHD_add_response_header(resp, "Allow", allow);
	enum MHD_Result ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result ui_assets_serve(struct MHD_Connection *conn, const char *method, const char *url)
{
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "GET, HEAD");
	const struct ui_asset *a = ui_assets_find(url);
	if (!a)
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
	const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
	bool fresh = inm && inm_matches(inm, a->etag);
	struct MHD_Response *resp =
		fresh ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
		      : MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	add_common(resp);
	MHD_add_response_header(resp, "ETag", a->etag);
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	if (!fresh)
		MHD_add_response_header(resp, "Content-Type", a->type);
	enum MHD_Result ret = MHD_queue_response(conn, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}
