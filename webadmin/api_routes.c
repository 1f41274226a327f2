/*
 * api_routes.c: the route table of the web admin and what is derived from
 * it: matching a request to a route, the table's own consistency rules and
 * the OpenAPI document. Adding a route here is the only way to serve one.
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define S API_SESSION
#define C API_CSRF

static const struct api_route routes[] = {
	{ "GET", "/healthz", 0, api_healthz, "Readiness: 200 once the SIP core is listening" },
	{ "GET", "/metrics", 0, api_metrics, "Prometheus metrics" },

	{ "POST", "/api/v1/session", API_JSON, api_signin, "Sign in" },
	{ "GET", "/api/v1/session", S, api_whoami, "The signed-in administrator" },
	{ "DELETE", "/api/v1/session", S | C, api_signout, "Sign out" },
	{ "GET", "/api/v1/openapi.json", S, api_openapi_get, "This document" },

	{ "GET", "/api/v1/extensions", S, api_ext_list, "List extensions (q, sort, limit, offset)" },
	{ "POST", "/api/v1/extensions", S | C | API_JSON, api_ext_create, "Create an extension" },
	{ "GET", "/api/v1/extensions/export", S, api_ext_export, "Export extensions as CSV" },
	{ "POST", "/api/v1/extensions/import", S | C | API_CSV, api_ext_import,
	  "Import extensions from CSV (all or nothing)" },
	{ "GET", "/api/v1/extensions/{number}", S, api_ext_get, "One extension" },
	{ "PATCH", "/api/v1/extensions/{number}", S | C | API_JSON, api_ext_patch, "Change an extension" },
	{ "DELETE", "/api/v1/extensions/{number}", S | C, api_ext_delete, "Delete an extension" },
	{ "POST", "/api/v1/extensions/{number}/password", S | C, api_ext_password,
	  "Generate a new SIP password (returned once)" },
	{ "GET", "/api/v1/extensions/{number}/forwarding", S, api_fwd_get,
	  "Forwarding, do not disturb, ring time and call options of an extension" },
	{ "PUT", "/api/v1/extensions/{number}/forwarding", S | C | API_JSON, api_fwd_put,
	  "Change forwarding (always, busy, noanswer: another extension or \"\"), dnd, ring_time, redirect, "
	  "require_srtp; fields left out keep their values" },

	{ "GET", "/api/v1/cdr", S, api_cdr_list,
	  "Call detail records, newest first (caller, callee, disposition, from, to in unix ms, offset, limit)" },
	{ "GET", "/api/v1/cdr.csv", S, api_cdr_csv, "Call detail records as CSV (the same filters)" },

	{ "GET", "/api/v1/registrations", S | API_LIVE, api_regs_list,
	  "Registered phones (live): items, total bindings, extensions with at least one" },
	{ "GET", "/api/v1/calls", S | API_LIVE, api_calls_list,
	  "Calls in progress (live); ids are decimal strings" },
	{ "DELETE", "/api/v1/calls/{id}", S | C | API_LIVE, api_calls_hangup, "Hang up a call in progress" },
	{ "GET", "/api/v1/stats", S | API_LIVE, api_stats_get, "Counters of the phone system and the machine's load" },
	{ "GET", "/api/v1/events", S | API_LIVE | API_STREAM, api_events_get,
	  "Server-Sent Events: registrations, calls, stats and rooms (the bodies of those GETs; rooms: /rooms/live) "
	  "whenever they change, "
	  "a comment every 15 s otherwise" },

	{ "GET", "/api/v1/settings", S, api_settings_get, "Settings" },
	{ "PATCH", "/api/v1/settings", S | C | API_JSON, api_settings_patch, "Change settings" },

	{ "GET", "/api/v1/admins", S, api_admins_list, "Administrators" },
	{ "POST", "/api/v1/admins", S | C | API_JSON, api_admins_create, "Create an administrator" },
	{ "DELETE", "/api/v1/admins/{username}", S | C, api_admins_delete,
	  "Delete an administrator (not the last, not yourself)" },
	{ "POST", "/api/v1/admins/{username}/password", S | C | API_JSON, api_admins_password,
	  "Set an administrator's password" },

	{ "GET", "/api/v1/bans", S | API_LIVE, api_bans_list, "Banned SIP sources (live)" },
	{ "DELETE", "/api/v1/bans/{addr}", S | C | API_LIVE, api_bans_lift, "Lift a ban" },

	{ "GET", "/api/v1/voicemail", S, api_vm_list, "Mailboxes with their settings and new/old message counts" },
	{ "GET", "/api/v1/voicemail/{mailbox}", S, api_vm_mailbox_get, "One mailbox's settings and counts" },
	{ "PATCH", "/api/v1/voicemail/{mailbox}", S | C | API_JSON, api_vm_mailbox_patch,
	  "Change a mailbox: pin, email, email_attach, max_msg_seconds, max_messages, vm_on, unsolicited_mwi" },
	{ "GET", "/api/v1/voicemail/{mailbox}/messages", S, api_vm_msg_list,
	  "Messages of a mailbox, new then old (folder: new or old)" },
	{ "PATCH", "/api/v1/voicemail/{mailbox}/messages/{id}", S | C | API_JSON, api_vm_msg_patch,
	  "Mark a message heard or not (heard), or save it (folder: old)" },
	{ "DELETE", "/api/v1/voicemail/{mailbox}/messages/{id}", S | C, api_vm_msg_delete,
	  "Delete a message and its recording" },
	{ "GET", "/api/v1/voicemail/{mailbox}/messages/{id}/audio", S, api_vm_audio,
	  "A message's recording (audio/ogg, Opus) with ETag and single byte ranges; download=1 as an attachment" },

	{ "GET", "/api/v1/rooms", S, api_rooms_list, "Conference rooms" },
	{ "POST", "/api/v1/rooms", S | C | API_JSON, api_rooms_create,
	  "Create a conference room (number, name, pin, moderator_pin, max_participants, options: "
	  "\"announce,wait-moderator,join-muted,end-with-moderator\")" },
	{ "GET", "/api/v1/rooms/live", S | API_LIVE, api_rooms_live,
	  "Conference rooms in use (live) with their participants; participant ids are call ids as strings" },
	{ "PATCH", "/api/v1/rooms/{number}", S | C | API_JSON, api_rooms_patch,
	  "Change a conference room; fields left out keep their values" },
	{ "DELETE", "/api/v1/rooms/{number}", S | C, api_rooms_delete, "Delete a conference room" },
	{ "POST", "/api/v1/rooms/{number}/lock", S | C | API_JSON | API_LIVE, api_rooms_lock,
	  "Lock or unlock a room in use ({\"locked\": true|false}): locked, only a moderator joins" },
	{ "POST", "/api/v1/rooms/{number}/participants/{id}/mute", S | C | API_JSON | API_LIVE, api_rooms_mute,
	  "Mute or unmute a participant ({\"muted\": true|false}); it hears the prompt" },
	{ "DELETE", "/api/v1/rooms/{number}/participants/{id}", S | C | API_LIVE, api_rooms_kick,
	  "Remove a participant from a room (a goodbye prompt, then hang-up)" },
};

#undef S
#undef C

const struct api_route *api_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}

static bool route_is_signin(const struct api_route *rt)
{
	return strcmp(rt->method, "POST") == 0 && strcmp(rt->path, "/api/v1/session") == 0;
}

int api_routes_check(void)
{
	int ret = 0;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct api_route *rt = &routes[i];
		bool api = strncmp(rt->path, "/api/", 5) == 0;
		bool get = strcmp(rt->method, "GET") == 0;
		size_t params = 0, segs = 0;
		for (const char *p = rt->path; *p; p++) {
			params += *p == '{';
			segs += *p == '/';
		}
		const char *why = NULL;
		if (rt->path[0] != '/' || !rt->fn || !rt->summary)
			why = "incomplete";
		else if (params > API_PARAMS_MAX || segs > API_SEGS_MAX)
			why = "too many segments or parameters";
		else if (route_is_signin(rt))
			why = (rt->flags & (API_SESSION | API_CSRF)) ? "sign-in cannot need a session" : NULL;
		else if (api && !(rt->flags & API_SESSION))
			why = "an /api route without API_SESSION";
		else if (!get && (rt->flags & (API_CSRF | API_SESSION)) != (API_CSRF | API_SESSION))
			why = "a state-changing route without API_SESSION and API_CSRF";
		else if ((rt->flags & API_JSON) && (rt->flags & API_CSV))
			why = "two body types";
		else if ((rt->flags & API_STREAM) && (!get || !(rt->flags & API_LIVE)))
			why = "a stream is a GET of live state";
		if (why) {
			log_err("http: route %s %s: %s", rt->method, rt->path, why);
			ret = EINVAL;
		}
	}
	return ret;
}

/* Does the pattern match the segments? Parameters go to params[]. */
static bool route_path_match(const char *pattern, char *const *segs, size_t nseg, char *params[API_PARAMS_MAX])
{
	const char *p = pattern;
	size_t i = 0, np = 0;
	while (*p == '/') {
		p++;
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (i >= nseg)
			return false;
		if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
			if (segs[i][0] == '\0' || np >= API_PARAMS_MAX)
				return false;
			params[np++] = segs[i];
		} else if (strlen(segs[i]) != len || memcmp(segs[i], p, len) != 0) {
			return false;
		}
		i++;
		p += len;
	}
	return i == nseg;
}

int api_route_match(const char *method, char *const *segs, size_t nseg, const struct api_route **out,
		    char *params[API_PARAMS_MAX], char *allow, size_t allowcap)
{
	bool head = strcmp(method, "HEAD") == 0;
	bool path_found = false;
	size_t used = 0;
	if (allowcap)
		allow[0] = '\0';
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		char *pm[API_PARAMS_MAX] = { 0 };
		if (!route_path_match(routes[i].path, segs, nseg, pm))
			continue;
		if (strcmp(routes[i].method, method) == 0 || (head && strcmp(routes[i].method, "GET") == 0)) {
			*out = &routes[i];
			memcpy(params, pm, sizeof pm);
			return 0;
		}
		/* The same method can appear twice for one path (a literal route
		 * and a {name} one); list it once. */
		if (!strstr(allow, routes[i].method)) {
			int w = snprintf(allow + used, allowcap - used, "%s%s", used ? ", " : "", routes[i].method);
			if (w > 0 && (size_t)w < allowcap - used)
				used += (size_t)w;
		}
		path_found = true;
	}
	return path_found ? EPERM : ENOENT;
}

/* ---- OpenAPI --------------------------------------------------------------- */

static json_t *openapi_error_response(const char *what)
{
	return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", what, "content", "application/json",
			 "schema", "$ref", "#/components/schemas/Error");
}

static json_t *openapi_operation(const struct api_route *rt)
{
	json_t *op = json_pack("{s:s, s:s}", "summary", rt->summary, "operationId", "");
	if (!op)
		return NULL;
	char opid[128];
	snprintf(opid, sizeof opid, "%s %s", rt->method, rt->path);
	json_object_set_new(op, "operationId", json_string(opid));

	json_t *params = json_array();
	for (const char *p = strchr(rt->path, '{'); p; p = strchr(p + 1, '{')) {
		const char *e = strchr(p, '}');
		if (!e)
			break;
		json_array_append_new(params, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1,
							(size_t)(e - p - 1), "in", "path", "required", 1,
							"schema", "type", "string"));
	}
	if (json_array_size(params))
		json_object_set_new(op, "parameters", params);
	else
		json_decref(params);

	if (rt->flags & API_SESSION) {
		json_t *sec = json_object();
		json_object_set_new(sec, "session", json_array());
		if (rt->flags & API_CSRF)
			json_object_set_new(sec, "csrf", json_array());
		json_object_set_new(op, "security", json_pack("[o]", sec));
	} else {
		json_object_set_new(op, "security", json_array());
	}
	if (rt->flags & (API_JSON | API_CSV)) {
		const char *type = (rt->flags & API_JSON) ? "application/json" : "text/csv";
		json_t *schema = (rt->flags & API_JSON) ? json_pack("{s:s}", "type", "object")
							: json_pack("{s:s}", "type", "string");
		json_object_set_new(op, "requestBody",
				    json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content", type, "schema", schema));
	}
	json_t *resp = json_object();
	if (rt->flags & API_STREAM)
		json_object_set_new(resp, "200", json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", "an event stream",
							   "content", "text/event-stream", "schema", "type", "string"));
	else
		json_object_set_new(resp, "2XX", json_pack("{s:s}", "description", "success"));
	json_object_set_new(resp, "default", openapi_error_response("error"));
	json_object_set_new(op, "responses", resp);
	return op;
}

json_t *api_openapi(void)
{
	json_t *paths = json_object();
	if (!paths)
		return NULL;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct api_route *rt = &routes[i];
		json_t *item = json_object_get(paths, rt->path);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, rt->path, item);
		}
		char m[8];
		size_t k = 0;
		for (; rt->method[k] && k < sizeof m - 1; k++)
			m[k] = (char)(rt->method[k] | 0x20); /* OpenAPI wants lower case */
		m[k] = '\0';
		json_t *op = openapi_operation(rt);
		if (!op) {
			json_decref(paths);
			return NULL;
		}
		json_object_set_new(item, m, op);
	}
	return json_pack(
		"{s:s, s:{s:s, s:s}, s:[{s:s}], s:o, s:{s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}, "
		"s:{s:{s:s, s:[s], s:{s:{s:s}, s:{s:s, s:b}}}}}}",
		"openapi", "3.0.3",
		"info", "title", "pbx web admin", "version", "1",
		"servers", "url", "/",
		"paths", paths,
		"components",
		"securitySchemes",
		"session", "type", "apiKey", "in", "cookie", "name", API_COOKIE,
		"csrf", "type", "apiKey", "in", "header", "name", "X-CSRF-Token",
		"schemas", "Error", "type", "object", "required", "error",
		"properties", "error", "type", "string", "field", "type", "string", "nullable", 1);
}
