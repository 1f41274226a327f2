#!/bin/bash
# t_malformed.sh: bad input must be answered (400/501) or dropped, and never stop
# the daemon: broken requests, random datagrams, TCP framing (split writes,
# Content-Length larger than what was sent, endless headers).
. "$(dirname "$0")/lib.sh"
require_pbx

provision_range 1000 1009
if ! pbx_start; then not_ok "pbxd starts and answers /healthz"; t_done; fi
ok "pbxd starts and answers /healthz"

# bad_register FIELD: a REGISTER with one broken header
bad_register() {
	local via='Via: SIP/2.0/UDP {{LOCAL}};branch={{BRANCH}};rport' cseq='CSeq: 1 REGISTER' cid='Call-ID: {{CALLID}}'
	case $1 in
	cseq) cseq='CSeq: abc REGISTER' ;;
	via) via='Via: SIP/2.0/UDP ;;;branch=={{BRANCH}}' ;;
	callid) cid='' ;;
	esac
	printf 'REGISTER sip:%s SIP/2.0\n%s\nMax-Forwards: 70\nFrom: <sip:1001@%s>;tag={{TAG}}\n' "$DOMAIN" "$via" "$DOMAIN"
	printf 'To: <sip:1001@%s>\n' "$DOMAIN"
	[ -n "$cid" ] && printf '%s\n' "$cid"
	printf '%s\nContact: <sip:1001@127.0.0.1:5999>\nContent-Length: 0\n\n' "$cseq"
}

# the reply to a broken Via goes to the packet's source: bind a fixed port and read it there
for f in cseq via callid; do
	out=$(bad_register $f | sip --bind 127.0.0.1:15061 --wait 2)
	is "REGISTER with a broken $f gets 400" "$(status_of <<<"$out")" 400
	check "OPTIONS right after the broken $f gets 200" options_ok
done

# start line problems
out=$(printf 'REGISTER sip:%s SIP/3.0\nVia: SIP/2.0/UDP {{LOCAL}};branch={{BRANCH}}\nFrom: <sip:1001@%s>;tag=1\nTo: <sip:1001@%s>\nCall-ID: {{CALLID}}\nCSeq: 1 REGISTER\nContent-Length: 0\n\n' \
	"$DOMAIN" "$DOMAIN" "$DOMAIN" | sip)
is "SIP/3.0 in the request line gets 505" "$(status_of <<<"$out")" 505
out=$(printf 'REGISTER sip:%s SIP/2.0\nVia: SIP/2.0/UDP {{LOCAL}};branch={{BRANCH}}\nFrom: <sip:1001@%s>;tag=1\nTo: <sip:1001@%s>\nCall-ID: {{CALLID}}\nCSeq: 1 INVITE\nContent-Length: 0\n\n' \
	"$DOMAIN" "$DOMAIN" "$DOMAIN" | sip)
is "CSeq method differing from the request method gets 400" "$(status_of <<<"$out")" 400

# unknown method: 501 with Allow, no authentication needed
out=$(tpl_request FROBNICATE "sip:$DOMAIN" | sip --show full)
is "unknown method FROBNICATE gets 501" "$(status_of <<<"$out")" 501
allow=$(last_reply <<<"$out" | header allow)
check "the 501 carries Allow listing REGISTER and OPTIONS" \
	eval "grep -qw REGISTER <<<\"\$allow\" && grep -qw OPTIONS <<<\"\$allow\""

# ---- random garbage
python3 "$SEND_SIP" --host "$SIP_IP" --port "$SIP_PORT" --garbage 3000 --seed 4475
check "3000 junk datagrams: pbxd still running" pbx_alive
check "3000 junk datagrams: OPTIONS still answered" options_ok
check "3000 junk datagrams: /healthz still 200" healthz

# a datagram of 65000 bytes (one huge header) is dropped or refused, never fatal
python3 - "$SIP_PORT" <<'EOF'
import socket, sys
m = (b'OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbig\r\nX-Big: ' + b'a' * 64000 +
     b'\r\nCall-ID: big\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x>\r\nContent-Length: 0\r\n\r\n')
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(m[:65000], ('127.0.0.1', int(sys.argv[1])))
EOF
check "a 65000-byte datagram: OPTIONS still answered" options_ok

# ---- TCP framing
tpl_options_body() {
	printf 'OPTIONS sip:%s SIP/2.0\nVia: SIP/2.0/TCP {{LOCAL}};branch={{BRANCH}};rport\nMax-Forwards: 70\n' "$DOMAIN"
	printf 'From: <sip:t@%s>;tag={{TAG}}\nTo: <sip:%s>\nCall-ID: {{CALLID}}\nCSeq: 1 OPTIONS\n' "$DOMAIN" "$DOMAIN"
	printf 'Content-Type: text/plain\nContent-Length: %s\n\nhello body' "${1:-{{CL\}\}}"
}
check "TCP: OPTIONS answered" options_ok --transport tcp
out=$(tpl_options_body | sip --transport tcp --split 40 --split-delay 0.5)
is "TCP: a message split inside the headers is answered" "$(status_of <<<"$out")" 200
n=$(tpl_options_body | python3 -c 'import sys; d=sys.stdin.buffer.read().replace(b"\n", b"\r\n"); print(d.index(b"\r\n\r\n") + 2)')
out=$(tpl_options_body | sip --transport tcp --split "$n" --split-delay 0.5)
is "TCP: a message split inside the empty line is answered" "$(status_of <<<"$out")" 200
out=$(tpl_options_body | sip --transport tcp --split $((n + 5)) --split-delay 0.5)
is "TCP: a message split inside the body is answered" "$(status_of <<<"$out")" 200

# Content-Length larger than what is sent: no answer, then the connection is closed
t0=$(now_ms)
out=$(tpl_options_body 500 | sip --transport tcp --wait 40)
rc=$?
el=$(( $(now_ms) - t0 ))
check "TCP: Content-Length 500 with a 10-byte body gets no answer" eval "! grep -q '^SIP/2.0' <<<\"\$out\""
check "TCP: ... and the connection is closed after a timeout (rc=$rc, ${el} ms)" eval "[ $rc = 3 ] && [ $el -ge 1000 ]"
check "TCP: pbxd still serves OPTIONS over TCP after the timeout" options_ok --transport tcp
check "UDP: pbxd still serves OPTIONS after the timeout" options_ok

# endless header section on TCP: the daemon must bound its buffer and close
python3 - "$SIP_PORT" >"$WORK/flood.out" <<'EOF'
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
s.sendall(b'OPTIONS sip:x SIP/2.0\r\n')
sent, closed = 0, False
end = time.time() + 20
try:
    while time.time() < end and sent < 4 * 1024 * 1024:
        s.sendall(b'X-Flood: ' + b'y' * 1000 + b'\r\n')
        sent += 1011
except socket.timeout:
    pass                     # the daemon stopped reading but kept the connection
except OSError:
    closed = True
while not closed and time.time() < end:
    s.settimeout(max(0.1, end - time.time()))
    try:
        if s.recv(65535) == b'':
            closed = True
    except socket.timeout:
        break
    except OSError:
        closed = True
print('closed' if closed else 'open', sent)
EOF
check "TCP: an endless header section makes pbxd close the connection ($(cat "$WORK/flood.out"))" \
	grep -q '^closed' "$WORK/flood.out"
check "TCP: pbxd still running after the flood" pbx_alive
check "UDP: OPTIONS answered after the flood" options_ok

# garbage on TCP: a connection sending junk is closed, others continue
python3 - "$SIP_PORT" <<'EOF'
import random, socket, sys
r = random.Random(5)
for i in range(20):
    try:
        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=2)
        s.sendall(bytes(r.getrandbits(8) for _ in range(r.randint(1, 3000))) + b'\r\n\r\n')
        s.close()
    except OSError:
        pass
EOF
check "TCP: 20 junk connections: OPTIONS over TCP still answered" options_ok --transport tcp

t_done
