/*
 * ui_assets.h: the browser UI's files (webadmin/ui/), compiled into the
 * binary at build time, and the handler that serves them.
 *
 * The table is written by the Makefile (xxd -i of each file into
 * build/gen/ui_data.c) with a content type by file extension and an ETag
 * from a SHA-256 of the contents, so a changed file gets a new ETag.
 * Served without a session: GET / (index.html) and GET /ui/<file>.
 */
#ifndef PBX_UI_ASSETS_H
#define PBX_UI_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

struct ui_asset {
	const char *path;          /* file name under webadmin/ui/, e.g. "app.js" */
	const char *type;          /* Content-Type */
	const unsigned char *data;
	size_t len;
	const char *etag;          /* quoted strong ETag, e.g. "\"0123abcd...\"" */
};

extern const struct ui_asset ui_asset_table[];
extern const size_t ui_asset_count;

/* The UI's Content-Security-Policy (no inline scripts or styles). */
extern const char ui_csp[];

/* Whether url (the raw request path) belongs to the UI: "/" or "/ui/...". */
bool ui_assets_match(const char *url);
/* The asset for a raw request path, NULL when there is none. Only exact
 * names from the table match, so dot segments or escapes never reach a file. */
const struct ui_asset *ui_assets_find(const char *url);
/* Answer a UI request on conn: 200 with the asset, 304 when If-None-Match
 * names its ETag, 404 for an unknown file, 405 for a method other than GET
 * or HEAD. Returns what MHD_queue_response returned. */
enum MHD_Result ui_assets_serve(struct MHD_Connection *conn, const char *method, const char *url);

#endif
