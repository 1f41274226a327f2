#!/bin/bash
# t_keepalive.sh: a phone behind NAT (its Contact names a private address,
# its REGISTER came from elsewhere) gets OPTIONS keepalives at the address
# the REGISTER came from, every keepalive_interval; a phone whose Contact is
# where it really is gets none. Also: an extension deleted with pbxctl loses
# its bindings in the running daemon.
. "$(dirname "$0")/lib.sh"

require_pbx
provision_range 1000 1009
ctl setting set keepalive_interval 1 >/dev/null
if ! pbx_start; then not_ok "pbxd starts and answers /healthz"; t_done; fi
ok "pbxd starts and answers /healthz"

# listen PORT SECONDS: print the request line of every OPTIONS that reaches
# 127.0.0.1:PORT within SECONDS, answering each with 200.
listen() {
	python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', port))
end = time.time() + secs
while time.time() < end:
    s.settimeout(max(0.05, end - time.time()))
    try:
        data, src = s.recvfrom(65535)
    except socket.timeout:
        break
    text = data.decode('utf-8', 'replace')
    head, _, _ = text.partition('\r\n\r\n')
    lines = head.split('\r\n')
    if not lines[0].startswith('OPTIONS '):
        continue
    print(lines[0], flush=True)
    keep = [l for l in lines[1:] if l.split(':', 1)[0].strip().lower() in ('via', 'from', 'to', 'call-id', 'cseq')]
    s.sendto(('SIP/2.0 200 OK\r\n' + '\r\n'.join(keep) + '\r\nContent-Length: 0\r\n\r\n').encode(), src)
PY
}

# NATed: Contact says 192.0.2.50:5060, the REGISTER comes from 127.0.0.1:5996.
out=$(register 1001 pw1001 '<sip:1001@192.0.2.50:5060>' 600 --bind 127.0.0.1:5996)
is "the NATed phone registers" "$(status_of <<<"$out")" 200
got=$(listen 5996 6)
check "OPTIONS keepalive reaches the address the REGISTER came from" grep -q '^OPTIONS sip:1001@192.0.2.50:5060 SIP/2.0' <<<"$got"
[ -n "$got" ] || diag "nothing arrived at 127.0.0.1:5996"

# Not NATed: the Contact is the source address.
out=$(register 1002 pw1002 '<sip:1002@127.0.0.1:5997>' 600 --bind 127.0.0.1:5997)
is "the phone with a true Contact registers" "$(status_of <<<"$out")" 200
got=$(listen 5997 3)
is "a phone that is not behind NAT gets no keepalive" "$got" ""

# An extension deleted while registered loses its binding in the daemon: a
# REGISTER query for it is refused from then on, and its stored row goes.
check "1001 is registered before the delete" reg_wait 1001 '192.0.2.50' 1
ctl ext del 1001 >/dev/null
check "the deleted extension's binding is removed from storage" reg_wait 1001 '192.0.2.50' 0
out=$(register 1001 pw1001 - - --bind 127.0.0.1:5996)
is "the deleted extension can no longer register" "$(status_of <<<"$out")" 403

check "pbxd still running" pbx_alive
check "pbxd exits 0 on SIGTERM" pbx_stop
t_done
