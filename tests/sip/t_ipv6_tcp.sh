#!/bin/bash
# t_ipv6_tcp.sh: the other transports: REGISTER with digest auth over TCP, over
# UDP on IPv6 ([::1]) and TCP on IPv6; OPTIONS on each; the binding records
# where it came from.
. "$(dirname "$0")/lib.sh"
require_pbx
provision_range 1000 1009
PBX_ARGS=(--sip-listen "[::1]:$SIP_PORT")
if ! pbx_start; then not_ok "pbxd starts with 127.0.0.1 and [::1] and answers /healthz"; t_done; fi
ok "pbxd starts with 127.0.0.1 and [::1] and answers /healthz"

check "OPTIONS over TCP/IPv4 gets 200" options_ok --transport tcp
check "OPTIONS over UDP/IPv6 gets 200" options_ok --host ::1
check "OPTIONS over TCP/IPv6 gets 200" options_ok --host ::1 --transport tcp

out=$(register 1001 pw1001 '<sip:1001@127.0.0.1:6001;transport=tcp>' 600 --transport tcp)
is "REGISTER with auth over TCP/IPv4 gets 200" "$(status_of <<<"$out")" 200
check "... and the 200 lists the contact" eval "last_reply <<<\"\$out\" | contacts | grep -q 'sip:1001@127.0.0.1:6001'"
check "both the challenge and the 200 came on one TCP connection" [ "$(grep -c '^SIP/2.0' <<<"$out")" = 2 ]

out=$(register 1002 pw1002 '<sip:1002@[::1]:6002>' 600 --host ::1)
is "REGISTER with auth over UDP/IPv6 gets 200" "$(status_of <<<"$out")" 200
check "... and the 200 lists the IPv6 contact" eval "last_reply <<<\"\$out\" | contacts | grep -qF 'sip:1002@[::1]:6002'"
check "reg list shows 1002 with the IPv6 contact" reg_wait 1002 '\[::1\]:6002' 1
check "reg list records ::1 as 1002's source" eval "reg_lines 1002 | cut -f3 | grep -qF '::1'"

out=$(register 1003 pw1003 '<sip:1003@[::1]:6003;transport=tcp>' 600 --host ::1 --transport tcp)
is "REGISTER with auth over TCP/IPv6 gets 200" "$(status_of <<<"$out")" 200

out=$(register 1004 pw1004 '<sip:1004@127.0.0.1:6004>' 600 --host ::1 --algorithm SHA-256)
is "REGISTER with SHA-256 auth over UDP/IPv6 gets 200" "$(status_of <<<"$out")" 200

check "pbxd still running" pbx_alive
t_done
