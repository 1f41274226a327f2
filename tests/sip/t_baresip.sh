#!/bin/bash
# t_baresip.sh: a real softphone (baresip) registers to pbxd as 1001: its
# ctrl_tcp event stream (or its log) shows REGISTER_OK and `pbxctl reg list`
# shows the binding; with a wrong password baresip reports REGISTER_FAIL.
. "$(dirname "$0")/lib.sh"

if ! command -v baresip >/dev/null; then
	skip "baresip registers" "baresip not installed (Debian baresip-core)"
	echo "1..$T_N"
	exit 0
fi
require_pbx
provision_range 1000 1009
# Debian's baresip 1.0 (libre 1.1) gives up on any SHA-256 challenge, so this
# office offers MD5 only, as the README tells offices with such phones to do.
ctl setting set auth_algorithms MD5 >/dev/null
if ! pbx_start; then not_ok "pbxd starts and answers /healthz"; t_done; fi
ok "pbxd starts and answers /healthz"

# baresip_start NAME USER PASS SIPPORT CONSPORT CTRLPORT: one endpoint in $WORK/NAME;
# sets BS_PID (baresip) and EV_PID (ctrl_tcp event reader writing $WORK/NAME/events)
baresip_start() {
	local name=$1 user=$2 pass=$3 sport=$4 cport=$5 tport=$6 d=$WORK/$1
	mkdir -p "$d"
	cat >"$d/config" <<EOF
sip_listen		127.0.0.1:$sport
net_interface		127.0.0.1
audio_player		alsa,null
audio_source		ausine,440
ausrc_srate		48000
ausrc_channels		1
auplay_srate		48000
auplay_channels		1
rtp_ports		$((20100 + sport % 100 * 10))-$((20109 + sport % 100 * 10))
module_path		/usr/lib/baresip/modules
module			cons.so
module			g711.so
module			ausine.so
module			alsa.so
module_tmp		uuid.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
cons_listen		127.0.0.1:$cport
ctrl_tcp_listen		127.0.0.1:$tport
EOF
	echo "<sip:$user@127.0.0.1:$SIP_PORT;transport=udp>;auth_pass=$pass;regint=600;answermode=auto;audio_codecs=PCMU" >"$d/accounts"
	: >"$d/events"
	# the event reader connects (retrying) before baresip is up, so no early event is lost
	python3 - "$tport" "$d/events" <<'EOF' &
import json, socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
end = time.time() + 60
s = None
while time.time() < end:
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=1)
        break
    except OSError:
        time.sleep(0.02)
if s is None:
    sys.exit(1)
out = open(path, 'a')
buf = b''
s.settimeout(1)
while time.time() < end:
    try:
        c = s.recv(65536)
    except socket.timeout:
        continue
    if not c:
        break
    buf += c
    while b':' in buf:                       # netstrings: LEN:DATA,
        ln, _, rest = buf.partition(b':')
        if not ln.isdigit() or len(rest) < int(ln) + 1:
            break
        n = int(ln)
        data, buf = rest[:n], rest[n + 1:]
        try:
            ev = json.loads(data)
            out.write('%s %s\n' % (ev.get('type', '-'), ev.get('param', '')))
        except ValueError:
            out.write('RAW %r\n' % data)
        out.flush()
EOF
	EV_PID=$!
	BG_PIDS+=("$EV_PID")
	baresip -f "$d" >"$d/log" 2>&1 </dev/null &
	BS_PID=$!
	BG_PIDS+=("$BS_PID")
}

registered() { grep -q '^REGISTER_OK' "$1/events" || grep -qE '\{0/UDP/v4\} 200 OK' "$1/log"; }
failed() { grep -q '^REGISTER_FAIL' "$1/events" || grep -qE '(\{0/UDP/v4\}|reg: .*:) 40[13] ' "$1/log"; }

baresip_start ok 1001 pw1001 5061 5571 4441
if wait_for 10 registered "$WORK/ok"; then
	ok "baresip 1001 registers (REGISTER_OK)"
	grep -q '^REGISTER_OK' "$WORK/ok/events" || diag "REGISTER_OK seen in the log only (ctrl_tcp connected late)"
else
	not_ok "baresip 1001 registers (REGISTER_OK)"
	diag "baresip events:" "$(cat "$WORK/ok/events")" "baresip log:" "$(tail -20 "$WORK/ok/log")"
fi
if wait_for 3 eval "reg_lines 1001 | grep -q '127.0.0.1:5061'"; then
	ok "reg list shows 1001 at 127.0.0.1:5061"
else
	not_ok "reg list shows 1001 at 127.0.0.1:5061"
	diag "reg list:" "$(ctl reg list 2>&1 | head)"
fi

baresip_start bad 1002 wrong-password 5063 5573 4443
if wait_for 10 failed "$WORK/bad"; then
	ok "baresip 1002 with a wrong password is refused (REGISTER_FAIL)"
else
	not_ok "baresip 1002 with a wrong password is refused (REGISTER_FAIL)"
	diag "baresip events:" "$(cat "$WORK/bad/events")" "baresip log:" "$(tail -20 "$WORK/bad/log")"
fi
check "reg list shows no binding for 1002" reg_is 1002 . 0

# /quit unregisters (Expires: 0): the binding disappears
if reg_lines 1001 | grep -q '127.0.0.1:5061'; then
	printf '/quit\n' >"/dev/udp/127.0.0.1/5571"
	if wait_for 5 eval "! reg_lines 1001 | grep -q '127.0.0.1:5061'"; then
		ok "after baresip /quit the binding of 1001 is gone"
	else
		not_ok "after baresip /quit the binding of 1001 is gone"
		diag "reg list:" "$(ctl reg list 2>&1 | head)"
	fi
else
	skip "after baresip /quit the binding of 1001 is gone" "1001 never showed up as registered"
fi
check "pbxd still running" pbx_alive

t_done
