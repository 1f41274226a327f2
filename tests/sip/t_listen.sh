#!/bin/bash
# t_listen.sh: pbxd listening on the wildcard address answers from the
# address each request was sent to (IP_PKTINFO / IPV6_PKTINFO), on IPv4 and
# IPv6; --sip-trace logs the messages; --log-level debug is accepted.
SIP_PORT=5070 # the wildcard listeners below take 5060
. "$(dirname "$0")/lib.sh"

require_pbx
provision_range 1000 1001
PBX_ARGS=(--sip-listen 0.0.0.0:5060 --sip-listen "[::]:5060" --sip-trace)
if ! pbx_start; then not_ok "pbxd starts on 0.0.0.0 and [::]"; t_done; fi
ok "pbxd starts on 0.0.0.0 and [::]"

# reply_from DEST_IP FAMILY: send OPTIONS to DEST_IP:5060, print the reply's source address
reply_from() {
	python3 - "$1" "$2" <<'PY'
import socket, sys
dest, fam = sys.argv[1], socket.AF_INET6 if sys.argv[2] == '6' else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(('::1' if fam == socket.AF_INET6 else '127.0.0.1', 0))
port = s.getsockname()[1]
host = '[::1]' if fam == socket.AF_INET6 else '127.0.0.1'
uri_host = '[%s]' % dest if fam == socket.AF_INET6 else dest
msg = ('OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bKlisten%d;rport\r\n'
       'Max-Forwards: 70\r\nFrom: <sip:t@x>;tag=1\r\nTo: <sip:%s>\r\nCall-ID: listen%d\r\n'
       'CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n') % (uri_host, host, port, port, uri_host, port)
s.settimeout(2)
s.sendto(msg.encode(), (dest, 5060))
try:
    data, src = s.recvfrom(65535)
    print(src[0], data.split(b' ')[1].decode())
except socket.timeout:
    print('none')
PY
}

is "OPTIONS to 127.0.0.1 is answered from 127.0.0.1" "$(reply_from 127.0.0.1 4)" "127.0.0.1 200"
is "OPTIONS to 127.0.0.77 is answered from 127.0.0.77" "$(reply_from 127.0.0.77 4)" "127.0.0.77 200"
is "OPTIONS to ::1 is answered from ::1" "$(reply_from ::1 6)" "::1 200"
check "--sip-trace logs the received request line" grep -q 'sip recv | OPTIONS sip:127.0.0.77 SIP/2.0' "$PBX_LOG"
check "--sip-trace logs the sent status line" grep -q 'sip send | SIP/2.0 200 OK' "$PBX_LOG"
check "pbxd exits 0 on SIGTERM" pbx_stop

# a bad flag is a usage error, not a crash
"$PBXD" --sip-listen not-an-address >/dev/null 2>&1
is "a malformed --sip-listen is refused with exit code 2" "$?" 2
"$PBXD" --log-level loud >/dev/null 2>&1
is "an unknown --log-level is refused with exit code 2" "$?" 2
t_done
