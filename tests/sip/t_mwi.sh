#!/bin/bash
# t_mwi.sh: message waiting (RFC 3842 over RFC 6665) seen from outside.
#
# A SIPp phone subscribes to its own mailbox with digest auth and gets
# NOTIFYs as the counts change: 0/0 "no" at first (and after an in-dialog
# refresh), 2/0 "yes" after two messages are added, 1/1 after one is moved
# to old, then "terminated" after it unsubscribes. The rows are written by
# sqlite3, another process, as the web admin or a recorder would: pbxd must
# notice by itself. Refusals by hand-made SUBSCRIBEs: no credentials 401,
# another mailbox 403, another event package 489, an Accept without our type
# 406, too short an Expires 423, and a fetch (Expires: 0) 200 with a
# terminated NOTIFY. Unsolicited NOTIFYs: a SIPp phone registered for an
# extension with the option gets one when it registers and one when the
# counts change; one registered for an extension without it gets none.
# A subscription left alone ends at its expiry with terminated;reason=timeout
# (60 s, the shortest allowed: it runs beside the rest); one whose phone
# answers a NOTIFY 481 is dropped and told nothing more, one that never
# answers is dropped after the NOTIFY times out.
. "$(dirname "$0")/lib.sh"
require_pbx

for tool in sipp sqlite3 python3; do
	if ! command -v "$tool" >/dev/null; then
		skip "message waiting" "$tool not installed (Debian sip-tester, sqlite3)"
		echo "1..$T_N"
		exit 0
	fi
done

sq() { sqlite3 -cmd '.timeout 3000' "$DB" "$@"; }
UAC_PORT=5071   # the subscribing SIPp phone (1001)
UAS_ON=5072     # SIPp phone of 1002, unsolicited MWI on
UAS_OFF=5073    # SIPp phone of 1003, unsolicited MWI off
EXP_PORT=5074   # SIPp phone of 1004, lets its subscription expire
R481_PORT=5075  # SIPp phone of 1005, answers 481

provision_range 1001 1005
is "five extensions provisioned" "$?" 0

if ! pbx_start; then not_ok "pbxd starts and answers /healthz"; t_done; fi
ok "pbxd starts and answers /healthz"

# add_msgs MAILBOX FOLDER N: N message rows in one transaction
add_msgs() {
	local i vals=""
	for i in $(seq 1 "$3"); do
		vals="$vals${vals:+,}('$1', '$2', '1009', strftime('%s', 'now') * 1000, 3000, '$1/m$RANDOM$i.ogg')"
	done
	sq "INSERT INTO vm_messages(mailbox, folder, caller, received_at, duration_ms, file) VALUES $vals"
}

# tpl_subscribe USER RURI [EXTRA HEADER LINES]: an out-of-dialog SUBSCRIBE from USER
tpl_subscribe() {
	local u=$1 ruri=$2 extra=${3:-}
	printf 'SUBSCRIBE %s SIP/2.0\n' "$ruri"
	printf 'Via: SIP/2.0/{{TRANSPORT}} {{LOCAL}};branch={{BRANCH}};rport\n'
	printf 'Max-Forwards: 70\n'
	printf 'From: <sip:%s@%s>;tag={{TAG}}\n' "$u" "$DOMAIN"
	printf 'To: <%s>\n' "$ruri"
	printf 'Call-ID: {{CALLID}}\n'
	printf 'CSeq: {{CSEQ}} SUBSCRIBE\n'
	printf 'Contact: <sip:%s@{{LOCAL}}>\n' "$u"
	[ -n "$extra" ] && printf '%s\n' "$extra"
	printf 'Content-Length: 0\n\n'
}

# start_uac NAME SCENARIO EXT PORT EXPIRES: a subscribing SIPp phone in the background (NAME_PID)
start_uac() {
	local name=$1 sf=$2 ext=$3 port=$4 expires=$5
	(cd "$WORK" && exec sipp "$SIP_IP:$SIP_PORT" -sf "$SIPDIR/scenarios/$sf" \
		-key ext "$ext" -key domain "$DOMAIN" -key expires "$expires" -au "$ext" -ap "pw$ext" \
		-i 127.0.0.1 -mi 127.0.0.1 -p "$port" -m 1 -timeout 120 -recv_timeout 100000 \
		-nostdin -trace_msg -message_file "$WORK/$name.msg" -trace_err -error_file "$WORK/$name.err" \
		>"$WORK/$name.screen" 2>&1) &
	BG_PIDS+=("$!")
	eval "${name}_PID=$!"
}
# sipp_end NAME SECONDS: wait for that SIPp phone to finish; its exit status
sipp_end() {
	local p
	eval "p=\$${1}_PID"
	wait_for "$2" eval "! kill -0 $p 2>/dev/null" || return 124
	wait "$p"
}

# The expiring subscription first: it needs a minute.
start_uac exp mwi_expire.xml 1004 "$EXP_PORT" 60
EXP_START=$(now_ms)

# ------------------------------------------------------------------ refusals

sub_status() { tpl_subscribe "$@" | sip --auth "1001:pw1001" --wait 2 | status_of; }
out=$(tpl_subscribe 1001 "sip:1001@$DOMAIN" $'Event: message-summary\nExpires: 600' | sip --wait 2 --show full)
is "SUBSCRIBE without credentials gets 401" "$(status_of <<<"$out")" 401
check "the 401 carries a digest challenge" eval "last_reply <<<\"\$out\" | header www-authenticate | grep -q nonce="
is "SUBSCRIBE to another extension's mailbox gets 403" \
	"$(sub_status 1001 "sip:1002@$DOMAIN" $'Event: message-summary\nExpires: 600')" 403
is "SUBSCRIBE with Request-URI and To of 1002, From 1001, gets 403" \
	"$(sub_status 1001 "sip:1002@$DOMAIN" $'Event: message-summary')" 403
out=$(tpl_subscribe 1001 "sip:1001@$DOMAIN" $'Event: presence\nExpires: 600' | sip --wait 2 --show full)
is "SUBSCRIBE to another event package gets 489" "$(status_of <<<"$out")" 489
is "the 489 lists Allow-Events: message-summary" \
	"$(last_reply <<<"$out" | header allow-events)" "message-summary"
is "SUBSCRIBE without an Event header gets 489" "$(sub_status 1001 "sip:1001@$DOMAIN" 'Expires: 600')" 489
is "SUBSCRIBE accepting only application/pidf+xml gets 406" \
	"$(sub_status 1001 "sip:1001@$DOMAIN" $'Event: message-summary\nAccept: application/pidf+xml')" 406
out=$(tpl_subscribe 1001 "sip:1001@$DOMAIN" $'Event: message-summary\nExpires: 30' |
	sip --auth 1001:pw1001 --wait 2 --show full)
is "SUBSCRIBE with Expires: 30 gets 423" "$(status_of <<<"$out")" 423
is "the 423 says Min-Expires: 60" "$(last_reply <<<"$out" | header min-expires)" 60
out=$(tpl_subscribe 1001 "sip:1001@$DOMAIN" $'Event: message-summary\nExpires: 0' |
	sip --auth 1001:pw1001 --wait 2 --show full)
is "a fetch (Expires: 0) gets 200" "$(status_of <<<"$out")" 200
is "the fetch's 200 says Expires: 0" "$(last_reply <<<"$out" | header expires)" 0
out=$(tpl_subscribe 1001 "sip:1001@$DOMAIN" $'Event: message-summary\nExpires: 999999' |
	sip --auth 1001:pw1001 --wait 2 --show full)
is "Expires: 999999 is granted 86400" "$(last_reply <<<"$out" | header expires)" 86400
check "pbxd still answers OPTIONS" options_ok

# ------------------------------------------------------------------ unsolicited phones register

start_uas() {
	local name=$1 port=$2 n=$3
	sipp -sf "$SIPDIR/scenarios/mwi_uas.xml" -i 127.0.0.1 -mi 127.0.0.1 -p "$port" -m "$n" -timeout 60 \
		-nostdin -trace_msg -message_file "$WORK/$name.msg" >"$WORK/$name.screen" 2>&1 &
	BG_PIDS+=("$!")
	eval "${name}_PID=$!"
	wait_for 5 eval "ss -Hlun 2>/dev/null | awk '{print \$4}' | grep -qx '127.0.0.1:$port'"
}
# notify_list FILE: "COUNTS WAITING" of each NOTIFY a SIPp message file shows, in order, a
# retransmission (same Call-ID and CSeq) once
notify_list() {
	tr -d '\r' 2>/dev/null <"$1" | awk '
		/^NOTIFY sip:/ { msg = 1; cid = ""; cs = ""; mw = ""; next }
		msg && /^Call-ID:/ { cid = $2 }
		msg && /^CSeq:/ { cs = $2 }
		msg && /^Messages-Waiting:/ { mw = $2 }
		msg && /^Voice-Message:/ { msg = 0; k = cid " " cs; if (!(k in seen)) { seen[k] = 1; print $2, mw } }'
}
# notifies FILE / waiting FILE: the counts / Messages-Waiting of those NOTIFYs, space separated
notifies() { notify_list "$1" | cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//'; }
waiting() { notify_list "$1" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//'; }
n_notifies() { notify_list "$1" | wc -l; }

# Switched on while pbxd runs: the new snapshot carries it.
ctl vm mailbox 1002 --unsolicited-mwi maybe 2>/dev/null
is "pbxctl vm mailbox --unsolicited-mwi maybe is a usage error" "$?" 2
ctl vm mailbox 1002 --unsolicited-mwi on
is "pbxctl vm mailbox 1002 --unsolicited-mwi on exits 0" "$?" 0
check "pbxctl shows it on" eval "ctl vm mailbox 1002 | grep -qE '^unsolicited mwi +on'"
check "pbxctl shows it off for 1003" eval "ctl vm mailbox 1003 | grep -qE '^unsolicited mwi +off'"
check "pbxd loads the changed configuration" wait_for 5 grep -q 'configuration changed' "$PBX_LOG"
check "SIPp phone of 1002 (unsolicited on) listens" start_uas uas_on "$UAS_ON" 2
check "SIPp phone of 1003 (unsolicited off) listens" start_uas uas_off "$UAS_OFF" 2
is "1002 registers its SIPp phone" \
	"$(register 1002 pw1002 "<sip:1002@127.0.0.1:$UAS_ON>" 600 | status_of)" 200
is "1003 registers its SIPp phone" \
	"$(register 1003 pw1003 "<sip:1003@127.0.0.1:$UAS_OFF>" 600 | status_of)" 200
check "1002's phone gets a NOTIFY when it registers" wait_for 5 eval "[ \"\$(n_notifies $WORK/uas_on.msg)\" -ge 1 ]"
is "that NOTIFY says 0/0" "$(notifies "$WORK/uas_on.msg")" "0/0"

# ------------------------------------------------------------------ the subscriber

start_uac uac mwi_subscribe.xml 1001 "$UAC_PORT" 600

check "the subscriber gets its first NOTIFY and the refresh's" \
	wait_for 10 eval "[ \"\$(n_notifies $WORK/uac.msg)\" -ge 2 ]"
is "both say 0/0" "$(notifies "$WORK/uac.msg")" "0/0 0/0"
is "and Messages-Waiting: no" "$(waiting "$WORK/uac.msg")" "no no"
check "the 200 to SUBSCRIBE grants Expires: 600" grep -aq '^Expires: 600' "$WORK/uac.msg"
check "the first NOTIFY carries Subscription-State: active;expires=" \
	grep -aqE '^Subscription-State: active;expires=(600|59[0-9])' "$WORK/uac.msg"

add_msgs 1001 new 2
check "two new messages: the subscriber gets a third NOTIFY" \
	wait_for 5 eval "[ \"\$(n_notifies $WORK/uac.msg)\" -ge 3 ]"
is "it says 2/0 and yes" "$(notifies "$WORK/uac.msg" | cut -d' ' -f3) $(waiting "$WORK/uac.msg" | cut -d' ' -f3)" "2/0 yes"
cseqs=$(grep -aE '^CSeq: [0-9]+ NOTIFY' "$WORK/uac.msg" | awk '{print $2}' | sort -un | tr '\n' ' ')
is "each NOTIFY has its own, increasing CSeq" "$cseqs" "1 2 3 "

sq "UPDATE vm_messages SET folder = 'old', heard = 1
	WHERE id = (SELECT min(id) FROM vm_messages WHERE mailbox = '1001')"
sipp_end uac 10
rc=$?
is "one moved to old: the subscriber gets 1/1, unsubscribes and its SIPp exits 0" "$rc" 0
[ "$rc" = 0 ] || diag "$(tail -20 "$WORK/uac.err" 2>/dev/null)" "$(tail -30 "$WORK/uac.screen" 2>/dev/null)"
is "the NOTIFYs said 0/0 0/0 2/0 1/1, then 1/1 in the terminated one" \
	"$(notifies "$WORK/uac.msg")" "0/0 0/0 2/0 1/1 1/1"
is "Messages-Waiting went no no yes yes yes" "$(waiting "$WORK/uac.msg")" "no no yes yes yes"
check "the last NOTIFY says Subscription-State: terminated" \
	eval "grep -a '^Subscription-State:' $WORK/uac.msg | tail -1 | grep -q terminated"

# A change after the unsubscribe reaches nobody: the subscription is gone.
n_before=$(n_notifies "$WORK/uac.msg")

# ------------------------------------------------------------------ unsolicited on change

# 1003 first, 1002 second, in one transaction: both are counted and told in
# the same pass, so by the time 1002's phone has its NOTIFY, one to 1003's
# would have left too.
sq "BEGIN;
	INSERT INTO vm_messages(mailbox, folder, caller, received_at, duration_ms, file)
	VALUES ('1003', 'new', '1009', 1, 1000, '1003/x.ogg'), ('1002', 'new', '1009', 1, 1000, '1002/x.ogg'),
	       ('1001', 'new', '1009', 1, 1000, '1001/y.ogg');
	COMMIT;"
check "1002's phone gets a NOTIFY for its new message" wait_for 5 eval "[ \"\$(n_notifies $WORK/uas_on.msg)\" -ge 2 ]"
is "1002's NOTIFYs said 0/0 then 1/0" "$(notifies "$WORK/uas_on.msg")" "0/0 1/0"
is "and Messages-Waiting no then yes" "$(waiting "$WORK/uas_on.msg")" "no yes"
sleep 1 # a NOTIFY to 1003 would have left with 1002's; give loopback a moment to deliver it
is "1003's phone (option off) got no NOTIFY" "$(n_notifies "$WORK/uas_off.msg")" 0
is "the unsubscribed 1001 got no further NOTIFY" "$(n_notifies "$WORK/uac.msg")" "$n_before"

# ------------------------------------------------------------------ a NOTIFY answered 481

start_uac r481 mwi_481.xml 1005 "$R481_PORT" 600
check "1005's phone answers its first NOTIFY 481" \
	wait_for 10 grep -saq '^SIP/2.0 481' "$WORK/r481.msg"
check "pbxd drops that subscription" \
	wait_for 5 grep -q 'NOTIFY for 1005 answered 481; subscription dropped' "$PBX_LOG"
add_msgs 1005 new 1
check "a new message for 1005 is counted" wait_for 5 grep -q 'mailbox 1005 now 1 new, 0 old' "$PBX_LOG"
sipp_end r481 10
is "1005's SIPp exits 0" "$?" 0
is "and got no NOTIFY after the 481" "$(notifies "$WORK/r481.msg")" "0/0"

# ------------------------------------------------------------------ expiry

rc=0
sipp_end exp 90 || rc=$?
is "1004's subscription ends at its expiry: terminated;reason=timeout, SIPp exits 0" "$rc" 0
[ "$rc" = 0 ] || diag "$(tail -20 "$WORK/exp.err" 2>/dev/null)"
# When SIPp logged its last message (the 200 to the terminated NOTIFY), from the start.
took=$(( $(stat -c %Y "$WORK/exp.msg" 2>/dev/null || echo 0) - EXP_START / 1000 ))
check "60 s after subscribing (took ${took} s)" eval "[ $took -ge 59 ] && [ $took -le 70 ]"
is "its NOTIFYs said 0/0 twice (active, then terminated)" "$(notifies "$WORK/exp.msg")" "0/0 0/0"
# The subscription send_sip made above (Expires: 999999) never answers its NOTIFY: after
# timer F (32 s) it is gone.
check "a subscriber that never answers its NOTIFY is dropped (408)" \
	grep -q 'NOTIFY for 1001 answered 408; subscription dropped' "$PBX_LOG"

t_done
