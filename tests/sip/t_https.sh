#!/bin/bash
# t_https.sh: the web admin over HTTPS.
#
# pbxd --tls-self-signed makes var/tls/cert.pem and key.pem on its first
# start and serves HTTPS with them: curl trusting only that certificate
# (--cacert, never -k) gets /healthz 200 by 127.0.0.1, localhost and the
# host name, and refuses it for another name; plain HTTP on the port gets
# nothing; the printed fingerprint is the certificate's; sign-in sets the
# session cookie with Secure, HttpOnly and SameSite=Strict. A restart keeps
# the same certificate. --tls-cert with a missing file, a non-PEM file or a
# key of another certificate exits 1 naming the file, and a given pair is
# served as is.
. "$(dirname "$0")/lib.sh"
require_pbx

TLS=$VAR/tls
BASE=https://127.0.0.1:$HTTP_PORT
ADMIN_PW='https test password'
JAR=$WORK/cookies
OUT=$WORK/pbxd.out

# hz [curl args...]: the status of GET /healthz (000 when curl fails)
hz() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$@" 2>/dev/null; }
healthz_tls() { [ "$(hz --cacert "$TLS/cert.pem" "$BASE/healthz")" = 200 ]; }

# tls_start [ARGS...]: pbxd (stdout to $OUT), waiting up to 10 s for /healthz over HTTPS
# trusting $TLS/cert.pem; lib.sh's pbx_start asks over plain HTTP.
tls_start() {
	echo "=== pbxd start $(date +%T)" >>"$PBX_LOG"
	"$PBXD" --db "$DB" --spool "$SPOOL" --sip-listen "$SIP_IP:$SIP_PORT" \
		--http-listen "127.0.0.1:$HTTP_PORT" --rtp-ports 20000-20999 --no-demo \
		--log-level info "$@" </dev/null >"$OUT" 2>>"$PBX_LOG" &
	PBX_PID=$!
	if wait_for 10 eval "healthz_tls || ! kill -0 $PBX_PID 2>/dev/null" && kill -0 "$PBX_PID" 2>/dev/null; then
		return 0
	fi
	diag "pbxd did not answer over HTTPS; log tail:" "$(tail -20 "$PBX_LOG")"
	stop_pid "$PBX_PID" 3
	PBX_PID=""
	return 1
}

# fp_openssl FILE: the SHA-256 fingerprint as pbxd prints it (AB:CD:...)
fp_openssl() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'; }
# fp_printed: the fingerprint pbxd printed at start
fp_printed() { sed -n 's/^ *Web admin certificate SHA-256 fingerprint: //p' "$OUT"; }

printf '%s\n' "$ADMIN_PW" | ctl admin passwd admin >/dev/null 2>&1 || not_ok "pbxctl admin passwd"

# ---- first start: the pair is made -------------------------------------------------

if ! tls_start --tls-self-signed; then not_ok "pbxd --tls-self-signed answers over HTTPS"; t_done; fi
ok "pbxd --tls-self-signed answers /healthz over HTTPS (curl --cacert var/tls/cert.pem)"
check "var/tls/cert.pem and key.pem were made" test -s "$TLS/cert.pem" -a -s "$TLS/key.pem"
is "the key is mode 600" "$(stat -c %a "$TLS/key.pem")" 600
is "nothing else in var/tls (no temporary file)" "$(ls -A "$TLS" | tr '\n' ' ')" "cert.pem key.pem "
check "pbxd prints the admin URL as https://" grep -qx "  Web admin: https://127.0.0.1:$HTTP_PORT/" "$OUT"
FP1=$(fp_openssl "$TLS/cert.pem")
is "the printed fingerprint is the certificate's (openssl x509 -fingerprint -sha256)" "$(fp_printed)" "$FP1"
check "the fingerprint looks like one" eval '[[ "$FP1" =~ ^([0-9A-F]{2}:){31}[0-9A-F]{2}$ ]]'

# Names: the certificate is checked for each (no -k anywhere).
H=$(hostname)
is "by name localhost: 200" "$(hz --cacert "$TLS/cert.pem" --resolve "localhost:$HTTP_PORT:127.0.0.1" \
	"https://localhost:$HTTP_PORT/healthz")" 200
is "by the host name ($H): 200" "$(hz --cacert "$TLS/cert.pem" --resolve "$H:$HTTP_PORT:127.0.0.1" \
	"https://$H:$HTTP_PORT/healthz")" 200
curl -s -o /dev/null -m 2 --cacert "$TLS/cert.pem" --resolve "other.example:$HTTP_PORT:127.0.0.1" \
	"https://other.example:$HTTP_PORT/healthz" 2>/dev/null
is "another name is refused by curl (exit 60, the name does not match)" "$?" 60
curl -s -o /dev/null -m 2 "$BASE/healthz" 2>/dev/null
is "without --cacert the certificate is not trusted (exit 60)" "$?" 60
is "plain HTTP on the HTTPS port gets no answer" "$(hz "http://127.0.0.1:$HTTP_PORT/healthz")" 000

# ---- sign-in over HTTPS ------------------------------------------------------------

code=$(curl -s -m 5 --cacert "$TLS/cert.pem" -c "$JAR" -D "$WORK/hdr" -o "$WORK/body" -w '%{http_code}' \
	-H 'Content-Type: application/json' -d "{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}" \
	"$BASE/api/v1/session")
is "sign-in over HTTPS: 201" "$code" 201
COOKIE=$(grep -i '^set-cookie:' "$WORK/hdr" | tr -d '\r')
diag "$COOKIE"
check "the session cookie is Secure" eval 'grep -qiE "; *Secure(;|$)" <<<"$COOKIE"'
check "... HttpOnly" eval 'grep -qiE "; *HttpOnly(;|$)" <<<"$COOKIE"'
check "... SameSite=Strict" eval 'grep -qiE "; *SameSite=Strict(;|$)" <<<"$COOKIE"'
is "the session works over HTTPS (GET /api/v1/session: 200)" \
	"$(curl -s -m 5 --cacert "$TLS/cert.pem" -b "$JAR" -o /dev/null -w '%{http_code}' "$BASE/api/v1/session")" 200

# ---- restart: the same certificate --------------------------------------------------

pbx_stop
is "pbxd exits 0 on SIGTERM" "$?" 0
KEY_SUM=$(sha256sum <"$TLS/key.pem")
if tls_start --tls-self-signed; then ok "pbxd starts again"; else not_ok "pbxd starts again"; fi
is "after a restart: the same fingerprint (printed)" "$(fp_printed)" "$FP1"
is "... and on disk" "$(fp_openssl "$TLS/cert.pem")" "$FP1"
is "... and the same key" "$(sha256sum <"$TLS/key.pem")" "$KEY_SUM"
is "the old certificate is still trusted: 200" "$(hz --cacert "$TLS/cert.pem" "$BASE/healthz")" 200
pbx_stop

# ---- --tls-cert / --tls-key -------------------------------------------------------------

# start_fails ARGS...: pbxd exits by itself within 10 s; its status in $RC, stderr in $ERR
start_fails() {
	"$PBXD" --db "$DB" --spool "$SPOOL" --sip-listen "$SIP_IP:$SIP_PORT" \
		--http-listen "127.0.0.1:$HTTP_PORT" --rtp-ports 20000-20999 --no-demo "$@" \
		</dev/null >/dev/null 2>"$WORK/err" &
	local p=$!
	if ! wait_for 10 eval "! kill -0 $p 2>/dev/null"; then
		stop_pid "$p" 3
		RC=running
	else
		wait "$p"
		RC=$?
	fi
	ERR=$(cat "$WORK/err")
	cat "$WORK/err" >>"$PBX_LOG" # t_done looks for sanitizer reports there
	diag "$ERR"
}

start_fails --tls-cert "$WORK/nope.pem" --tls-key "$TLS/key.pem"
check "--tls-cert with a missing file: exit 1, naming the file" \
	eval '[ "$RC" = 1 ] && grep -qF "$WORK/nope.pem" <<<"$ERR"'
echo "not a certificate" >"$WORK/junk.pem"
start_fails --tls-cert "$WORK/junk.pem" --tls-key "$TLS/key.pem"
check "--tls-cert with a non-PEM file: exit 1, naming it" \
	eval '[ "$RC" = 1 ] && grep -qF "$WORK/junk.pem is not a PEM certificate" <<<"$ERR"'
start_fails --tls-cert "$TLS/cert.pem" --tls-key "$WORK/nokey.pem"
check "--tls-key with a missing file: exit 1, naming it" \
	eval '[ "$RC" = 1 ] && grep -qF "$WORK/nokey.pem" <<<"$ERR"'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -days 2 -keyout "$WORK/own.key" -out "$WORK/own.crt" 2>/dev/null
start_fails --tls-cert "$WORK/own.crt" --tls-key "$TLS/key.pem"
check "a key of another certificate: exit 1, saying so" \
	eval '[ "$RC" = 1 ] && grep -qF "is not the private key of $WORK/own.crt" <<<"$ERR"'
start_fails --tls-cert "$WORK/own.crt"
check "--tls-cert without --tls-key: refused (exit 2)" eval '[ "$RC" = 2 ] && grep -q "go together" <<<"$ERR"'

# A pair of our own is served as given (and wins over --tls-self-signed).
TLS_OWN=$WORK/own.crt
healthz_own() { [ "$(hz --cacert "$TLS_OWN" "$BASE/healthz")" = 200 ]; }
"$PBXD" --db "$DB" --spool "$SPOOL" --sip-listen "$SIP_IP:$SIP_PORT" --http-listen "127.0.0.1:$HTTP_PORT" \
	--rtp-ports 20000-20999 --no-demo --tls-self-signed --tls-cert "$WORK/own.crt" --tls-key "$WORK/own.key" \
	</dev/null >"$OUT" 2>>"$PBX_LOG" &
PBX_PID=$!
check "--tls-cert/--tls-key: /healthz 200 trusting that certificate" \
	wait_for 10 eval "healthz_own || ! kill -0 $PBX_PID 2>/dev/null"
is "... whose fingerprint pbxd prints" "$(fp_printed)" "$(fp_openssl "$WORK/own.crt")"
is "... and the self-signed one is not served" "$(hz --cacert "$TLS/cert.pem" "$BASE/healthz")" 000

t_done
