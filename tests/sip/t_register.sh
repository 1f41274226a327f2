#!/bin/bash
# t_register.sh: the registrar seen from outside: provisioning 1000 extensions,
# digest authentication (SIPp and hand-made requests), the answers to wrong and
# unknown credentials, binding add/remove/list/expiry/persistence, OPTIONS, rport.
. "$(dirname "$0")/lib.sh"
require_pbx

# ---- provisioning: 1000 extensions from a CSV
provision_range 1000 1999
rc=$?
is "ext import of 1000 extensions exits 0" "$rc" 0
n=$(ctl ext list | grep -cE '^1[0-9]{3}([^0-9]|$)')
is "ext list shows 1000 extensions" "$n" 1000

# an import with a bad line is refused as a whole and names the line
printf 'extension,name,password,vm_pin\n2000,Good,pw2000,2000\n2001,Bad\n' >"$WORK/bad.csv"
err=$(ctl ext import "$WORK/bad.csv" 2>&1 >/dev/null)
rc=$?
check "ext import of a bad CSV exits 1" [ "$rc" = 1 ]
check "the error names FILE:LINE" grep -q "bad.csv:3:" <<<"$err"
check "a refused import adds nothing" eval "! ctl ext list | grep -qE '^2000([^0-9]|$)'"

if ! pbx_start; then not_ok "pbxd starts and answers /healthz"; t_done; fi
ok "pbxd starts and answers /healthz"

# ---- the challenge
out=$(tpl_register 1001 '<sip:1001@127.0.0.1:5999>' 600 | sip --show full)
rep=$(last_reply <<<"$out")
is "REGISTER without credentials gets 401" "$(status_of <<<"$out")" 401
chal=$(header www-authenticate <<<"$rep")
check "the 401 carries two WWW-Authenticate headers" [ "$(wc -l <<<"$chal")" = 2 ]
# MD5 first by default (auth_algorithms): phones that read one challenge only need it there.
check "first challenge is algorithm=MD5 with qop=\"auth\"" \
	eval "sed -n 1p <<<\"\$chal\" | grep -qiE 'algorithm=\"?MD5' && sed -n 1p <<<\"\$chal\" | grep -q 'qop=\"auth\"'"
check "second challenge is algorithm=SHA-256 with qop=\"auth\"" \
	eval "sed -n 2p <<<\"\$chal\" | grep -qiE 'algorithm=\"?SHA-256' && sed -n 2p <<<\"\$chal\" | grep -q 'qop=\"auth\"'"
check "the challenge carries the default realm \"pbx\"" grep -q 'realm="pbx"' <<<"$chal"

# ---- SIPp: all 1000 extensions register with digest auth
{
	echo SEQUENTIAL
	for u in $(seq 1000 1999); do echo "$u;[authentication username=$u password=pw$u]"; done
} >"$WORK/users.csv"
(cd "$WORK" && run_sipp sipp_reg 90 "$SIP_IP:$SIP_PORT" -sf "$SIPDIR/scenarios/register_auth.xml" \
	-inf users.csv -key domain "$DOMAIN" -key expires 3600 -i 127.0.0.1 -mi 127.0.0.1 -p 15060 \
	-m 1000 -r 200 -rp 1000 -l 400 -timeout 60s -recv_timeout 5000 \
	-trace_stat -stf "$WORK/reg.stat.csv" -fd 1 -trace_err -error_file "$WORK/sipp_reg.err")
rc=$?
is "SIPp REGISTER with digest auth for 1000 extensions exits 0" "$rc" 0
is "SIPp counts 1000 successful registrations" "$(sipp_stat "$WORK/reg.stat.csv" 16)" 1000
[ "$rc" = 0 ] || diag "$(tail -15 "$WORK/sipp_reg.err" 2>/dev/null)"
sipp_bound() { [ "$(ctl reg list | grep -c 'sip:1[0-9][0-9][0-9]@127.0.0.1:15060')" = 1000 ]; }
check "reg list shows the 1000 SIPp bindings" wait_for 5 sipp_bound

# ---- credentials: MD5, SHA-256, wrong password, unknown user
out=$(register 1001 pw1001 '<sip:1001@127.0.0.1:5991>' 600 --algorithm MD5)
is "REGISTER with MD5 credentials gets 200" "$(status_of <<<"$out")" 200
out=$(register 1001 pw1001 '<sip:1001@127.0.0.1:5992>' 600 --algorithm SHA-256)
is "REGISTER with SHA-256 credentials gets 200" "$(status_of <<<"$out")" 200
c=$(last_reply <<<"$out" | contacts)
check "the 200 lists both contacts of 1001 (two devices)" \
	eval "grep -q 'sip:1001@127.0.0.1:5991' <<<\"\$c\" && grep -q 'sip:1001@127.0.0.1:5992' <<<\"\$c\""
# (1001 also has the SIPp binding of 3600 s)
check "the new contacts carry ;expires=N with 0<N<=600" \
	eval "[ \$(grep -cE ':599[12]>?;.*expires=([1-9][0-9]?|[1-5][0-9][0-9]|600)([;, ]|\$)' <<<\"\$c\") = 2 ]"
check "every listed contact carries ;expires=N with 0<N<=3600" \
	eval "[ -n \"\$c\" ] && ! grep -vqE ';expires=([1-9][0-9]{0,2}|[1-2][0-9]{3}|3[0-5][0-9]{2}|3600)([;, ]|\$)' <<<\"\$c\""
check "reg list shows two bindings for 1001" reg_wait 1001 '127.0.0.1:599[12]' 2

wrong=$(register 1001 not-the-password '<sip:1001@127.0.0.1:5993>' 600 --algorithm MD5)
is "a wrong password gets 403 (final: phones do not retry it in a loop)" "$(status_of <<<"$wrong")" 403
check "the wrong-password 403 carries no challenge" \
	eval "! last_reply <<<\"\$wrong\" | header www-authenticate | grep -q nonce="
check "a wrong password adds no binding" reg_is 1001 ':5993' 0
unknown=$(register 5999 whatever '<sip:5999@127.0.0.1:5993>' 600 --algorithm MD5)
is "an unknown extension gets 403" "$(status_of <<<"$unknown")" 403

# the two answers must look the same apart from nonce, opaque, tags and the echoed user
shape() {
	last_reply | sed -E -e 's/(nonce|opaque|cnonce)="[^"]*"/\1="X"/g' -e 's/tag=[^;>, ]*/tag=X/g' \
		-e 's/(1001|5999)/USER/g' -e 's/branch=[^;, ]*/branch=X/' -e 's/rport=[0-9]+/rport=X/' \
		-e 's/^(Call-ID|i):.*/\1: X/I' -e 's/(UDP|TCP) 127\.0\.0\.1:[0-9]+/\1 127.0.0.1:PORT/' -e 's/^(Date|Timestamp):.*/\1: X/I' -e 's/:599[0-9]/:PORT/g'
}
a=$(shape <<<"$wrong")
b=$(shape <<<"$unknown")
if [ -n "$a" ] && [ "$a" = "$b" ]; then
	ok "unknown-user and wrong-password answers are identical in form"
else
	not_ok "unknown-user and wrong-password answers are identical in form"
	diag "$(diff <(echo "$a") <(echo "$b"))"
fi

# ---- removal and listing
out=$(register 1002 pw1002 '<sip:1002@127.0.0.1:6001>' 600)
out=$(register 1002 pw1002 '<sip:1002@127.0.0.1:6002>' 600)
out=$(register 1002 pw1002 - -)
is "REGISTER without Contact gets 200" "$(status_of <<<"$out")" 200
is "REGISTER without Contact lists both bindings" "$(last_reply <<<"$out" | contacts | grep -c 'sip:1002@127.0.0.1:600[12]')" 2
out=$(register 1002 pw1002 '<sip:1002@127.0.0.1:6001>' 0)
c=$(last_reply <<<"$out" | contacts)
check "Expires: 0 removes that binding and keeps the other" \
	eval "! grep -q ':6001' <<<\"\$c\" && grep -q ':6002' <<<\"\$c\""
out=$(register 1002 pw1002 '<sip:1002@127.0.0.1:6002>;expires=0' 600)
c=$(last_reply <<<"$out" | contacts)
check "contact ;expires=0 removes that binding" eval "[ \"\$(status_of <<<\"\$out\")\" = 200 ] && ! grep -q ':600[12]' <<<\"\$c\""
check "reg list shows neither removed binding of 1002" reg_wait 1002 ':600[12]' 0

out=$(register 1003 pw1003 '<sip:1003@127.0.0.1:6003>, <sip:1003@127.0.0.1:6004>' 600)
is "two contacts in one REGISTER are both bound" "$(last_reply <<<"$out" | contacts | grep -c ':600[34]')" 2
out=$(register 1003 pw1003 '*' 600)
is "Contact: * with a non-zero Expires gets 400" "$(status_of <<<"$out")" 400
out=$(register 1003 pw1003 '*' 0)
is "Contact: * with Expires: 0 gets 200" "$(status_of <<<"$out")" 200
is "Contact: * with Expires: 0 leaves no Contact in the 200" "$(last_reply <<<"$out" | contacts | wc -l)" 0
check "reg list shows no binding at all for 1003 (its SIPp binding went too)" reg_wait 1003 . 0

# ---- interval too brief
out=$(register 1004 pw1004 '<sip:1004@127.0.0.1:6005>' 30)
is "Expires: 30 (below reg_min_expires 60) gets 423" "$(status_of <<<"$out")" 423
is "the 423 carries Min-Expires: 60" "$(last_reply <<<"$out" | header min-expires)" 60
out=$(register 1004 pw1004 '<sip:1004@127.0.0.1:6005>;expires=30' -)
is "contact ;expires=30 gets 423 too" "$(status_of <<<"$out")" 423

# ---- expiry: lower reg_min_expires, register for 2 s, the binding goes
ctl setting set reg_min_expires 1
probe_min() { [ "$(register 1004 pw1004 '<sip:1004@127.0.0.1:6006>' 2 --wait 1 | status_of)" = 200 ]; }
if wait_for 5 probe_min; then
	ok "the running pbxd applies reg_min_expires=1 (Expires: 2 accepted)"
	t0=$(now_ms)
	check "reg list shows the 2 s binding" reg_wait 1004 ':6006' 1
	gone() { ! reg_lines 1004 | grep -q ':6006'; }
	if wait_for 8 gone; then
		ok "the binding expires (gone after $(( $(now_ms) - t0 )) ms)"
	else
		not_ok "the binding expires (still listed 8 s later)"
	fi
	query_gone() { ! register 1004 pw1004 - - | last_reply | contacts | grep -q ':6006'; }
	check "a REGISTER query after expiry does not list it" wait_for 3 query_gone
else
	not_ok "the running pbxd applies reg_min_expires=1 (Expires: 2 accepted)"
fi
ctl setting set reg_min_expires 60

# ---- OPTIONS: answered, and alike for known and unknown extensions
check "OPTIONS to the PBX gets 200" options_ok
o1=$(tpl_request OPTIONS "sip:1001@$DOMAIN" | sip | tail -1)
o2=$(tpl_request OPTIONS "sip:5999@$DOMAIN" | sip | tail -1)
is "OPTIONS to a known extension gets 200" "$(cut -d' ' -f2 <<<"$o1")" 200
is "OPTIONS to an unknown extension gets the same answer" "$o2" "$o1"

# ---- rport: the Via names port 5099, the reply must come back to our source port
out=$( { printf 'OPTIONS sip:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch={{BRANCH}};rport\n' "$DOMAIN"
	printf 'Max-Forwards: 70\nFrom: <sip:t@x>;tag={{TAG}}\nTo: <sip:%s>\nCall-ID: {{CALLID}}\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n' "$DOMAIN"
	} | sip --bind 127.0.0.1:15077 --show full)
is "with ;rport the reply goes to the source port, not the Via port" "$(status_of <<<"$out")" 200
check "the reply's Via carries rport=15077 and received" \
	eval "last_reply <<<\"\$out\" | header via v | head -1 | grep -q 'rport=15077' && last_reply <<<\"\$out\" | header via v | head -1 | grep -q 'received=127.0.0.1'"

# ---- INVITE: challenged; once authenticated, routed
tpl_invite() { # [USER [SDP]]
	local body=""
	[ -n "${2:-}" ] && body=$'v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 40000 RTP/AVP 0\n'
	printf 'INVITE sip:%s@%s SIP/2.0\nVia: SIP/2.0/{{TRANSPORT}} {{LOCAL}};branch={{BRANCH}};rport\n' "${1:-1002}" "$DOMAIN"
	printf 'Max-Forwards: 70\nFrom: <sip:1001@%s>;tag={{TAG}}\nTo: <sip:%s@%s>\n' "$DOMAIN" "${1:-1002}" "$DOMAIN"
	printf 'Call-ID: {{CALLID}}\nCSeq: {{CSEQ}} INVITE\nContact: <sip:1001@{{LOCAL}}>\n'
	if [ -n "$body" ]; then printf 'Content-Type: application/sdp\nContent-Length: {{CL}}\n\n%s' "$body"
	else printf 'Content-Length: 0\n\n'; fi
}
out=$(tpl_invite 1002 sdp | sip)
is "INVITE without credentials gets 401" "$(status_of <<<"$out")" 401
# 2990 is created now and never registers (the SIPp run above registered 1000-1999)
ctl ext add 2990 --password pw2990 >/dev/null
vm_off 2990
invite_2990() { [ "$(tpl_invite 2990 sdp | sip --auth 1001:pw1001 | status_of)" = 480 ]; }
check "authenticated INVITE to an unregistered extension gets 480" wait_for 5 invite_2990
out=$(tpl_invite 5999 sdp | sip --auth 1001:pw1001)
is "authenticated INVITE to an unknown number gets 404" "$(status_of <<<"$out")" 404
out=$(tpl_invite 1002 | sip --auth 1001:pw1001)
is "authenticated INVITE without an SDP offer gets 488" "$(status_of <<<"$out")" 488

# ---- persistence: bindings survive a restart
out=$(register 1005 pw1005 '<sip:1005@127.0.0.1:6007>' 3600)
is "REGISTER 1005 gets 200" "$(status_of <<<"$out")" 200
pbx_stop
rc=$?
is "pbxd exits 0 on SIGTERM (restart)" "$rc" 0
if pbx_start; then
	ok "pbxd starts again"
	out=$(register 1005 pw1005 - -)
	check "after the restart the REGISTER query lists 1005's contact" \
		eval "last_reply <<<\"\$out\" | contacts | grep -q 'sip:1005@127.0.0.1:6007'"
	check "after the restart reg list shows 1005" reg_is 1005 ':6007' 1
	# 999: "Contact: *" above removed 1003's SIPp binding too
	n=$(ctl reg list | grep -c 'sip:1[0-9][0-9][0-9]@127.0.0.1:15060')
	is "after the restart reg list still shows the other 999 SIPp bindings" "$n" 999
else
	not_ok "pbxd starts again"
fi

t_done
