# web.sh: the web admin's JSON API from a SIP test, with curl. Source it
# after lib.sh and pbx_start's HTTP_PORT is known; set ADMIN_PW first.
#   check "signed in" signin
#   R=$(api PATCH /api/v1/settings '{"sip_port":"5070"}')
#   is "200" "$(code <<<"$R")" 200; body_of_resp <<<"$R" | jget 'j["sip_port"]'

BASE=http://127.0.0.1:$HTTP_PORT
JAR=$WORK/cookies
CSRF=""
# http METHOD PATH [BODY] [CURL ARGS...]: prints the status line "CODE" then the body
http() {
	local m=$1 p=$2 body=${3:-} args=()
	shift 3 2>/dev/null || shift $#
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	curl -s -m 5 -X "$m" -w '\n%{http_code}' "${args[@]}" "$@" "$BASE$p" 2>/dev/null |
		awk '{ lines[NR] = $0 } END { print lines[NR]; for (i = 1; i < NR; i++) print lines[i] }'
}
# api METHOD PATH [BODY]: signed in, with the CSRF token
api() { http "$1" "$2" "${3:-}" -b "$JAR" -H "X-CSRF-Token: $CSRF"; }
status_of_resp() { head -1; }
body_of_resp() { tail -n +2; }
code() { status_of_resp; }
# jget PY_EXPR: evaluate PY_EXPR on the JSON body read from stdin (as j)
jget() { python3 -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" 2>/dev/null; }

# signin: POST /api/v1/session as admin with $ADMIN_PW; sets the cookie jar and CSRF
signin() {
	local r
	r=$(http POST /api/v1/session "{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}" -c "$JAR")
	[ "$(status_of_resp <<<"$r")" = 201 ] || return 1
	CSRF=$(body_of_resp <<<"$r" | jget 'j["csrf"]')
	[ -n "$CSRF" ]
}
