#!/usr/bin/env python3
"""baresip_ctl.py: talk to one baresip instance for the SIP tests (tests/sip/phone.sh).

  baresip_ctl.py events --port P --log FILE [--account LINE] [--max-seconds N]
      The one ctrl_tcp connection a baresip instance gets (a second connection
      silently replaces the first, so exactly one reader runs per phone).
      Connects with retries, checks that the baresip there has no user agent
      yet, then adds the account LINE (command uanew, which also registers it)
      and writes "#READY" to FILE; so no event of the account (REGISTER_OK) is
      lost. Appends every netstring JSON message as one line "TYPE {json}"
      (events) or "RESPONSE {json}" (replies to commands). Lines starting with
      '#' are the reader's own ("#FAILED ..." when it gives up). Ends when
      baresip closes the connection, on SIGTERM, or after --max-seconds.

  baresip_ctl.py cons --port P [--wait S] TEXT...
      Sends each TEXT as one datagram to baresip's UDP console (cons_listen) and
      prints what the console sends back within S seconds after the last one.

  baresip_ctl.py fields --log FILE --from-line N --type TYPE --field NAME
      Prints NAME of every TYPE event after line N of an events log, one a line.
"""
import argparse
import json
import signal
import socket
import sys
import time

MAX_NETSTRING = 1 << 20     # baresip's events are small; anything larger is garbage


def netstring(data):
    return b'%d:%s,' % (len(data), data)


def cmd_events(a):
    deadline = time.time() + a.max_seconds
    out = open(a.log, 'a', buffering=1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = None
    connect_end = time.time() + a.connect_seconds
    while time.time() < connect_end:
        try:
            s = socket.create_connection(('127.0.0.1', a.port), timeout=1)
            break
        except OSError:
            time.sleep(0.01)
    if s is None:
        out.write('#FAILED no ctrl_tcp listener on 127.0.0.1:%d after %ss\n'
                  % (a.port, a.connect_seconds))
        return 1
    out.write('#CONNECTED 127.0.0.1:%d\n' % a.port)
    # A reply proves that baresip accepted this connection: from here on no
    # event is lost. The first one must list no user agent (a fresh baresip
    # of ours, not another one on a reused port); the account is added only
    # now, so that its REGISTER_OK is seen.
    s.sendall(netstring(json.dumps({'command': 'reginfo', 'token': 'fresh'}).encode()))
    s.settimeout(0.5)
    buf = b''
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError as e:
            out.write('#CLOSED %s\n' % e)
            return 0
        if not chunk:
            out.write('#CLOSED by baresip\n')
            return 0
        buf += chunk
        while True:
            colon = buf.find(b':')
            if colon < 0:
                if len(buf) > 20:
                    out.write('#BAD netstring prefix %r\n' % buf[:40])
                    buf = b''
                break
            head = buf[:colon]
            if not head.isdigit() or int(head) > MAX_NETSTRING:
                out.write('#BAD netstring length %r\n' % head[:40])
                buf = b''
                break
            n = int(head)
            if len(buf) < colon + 1 + n + 1:
                break
            data = buf[colon + 1:colon + 1 + n]
            buf = buf[colon + 1 + n + 1:]
            try:
                msg = json.loads(data)
            except ValueError:
                out.write('#RAW %r\n' % data)
                continue
            line = json.dumps(msg, separators=(',', ':'), sort_keys=True)
            if msg.get('event'):
                out.write('%s %s\n' % (msg.get('type', 'UNKNOWN'), line))
            else:
                out.write('RESPONSE %s\n' % line)
                tok = msg.get('token')
                if tok == 'fresh':
                    if 'User Agents (0)' not in str(msg.get('data', '')):
                        out.write('#FAILED 127.0.0.1:%d is a baresip with accounts already\n' % a.port)
                        return 1
                    if not a.account:
                        out.write('#READY\n')
                        continue
                    s.sendall(netstring(json.dumps({'command': 'uanew', 'params': a.account,
                                                    'token': 'account'}).encode()))
                elif tok == 'account':
                    if msg.get('ok') and 'failed' not in str(msg.get('data', '')):
                        out.write('#READY\n')
                    else:
                        out.write('#FAILED uanew %s\n' % a.account)
                        return 1
    out.write('#STOPPED after %ss\n' % a.max_seconds)
    return 0


def cmd_cons(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
    for text in a.text:
        s.sendto(text.encode(), ('127.0.0.1', a.port))
    end = time.time() + a.wait
    s.settimeout(0.05)
    while time.time() < end:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        sys.stdout.write(data.decode(errors='replace'))
    sys.stdout.flush()
    return 0


def cmd_fields(a):
    with open(a.log, errors='replace') as f:
        for i, line in enumerate(f, 1):
            if i <= a.from_line:
                continue
            typ, _, rest = line.rstrip('\n').partition(' ')
            if typ != a.type:
                continue
            try:
                print(json.loads(rest).get(a.field, ''))
            except ValueError:
                pass
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    e = sub.add_parser('events')
    e.add_argument('--port', type=int, required=True)
    e.add_argument('--log', required=True)
    e.add_argument('--max-seconds', type=float, default=900)
    e.add_argument('--connect-seconds', type=float, default=10)
    e.add_argument('--account', default='', help='account line to add (uanew) once connected')
    c = sub.add_parser('cons')
    c.add_argument('--port', type=int, required=True)
    c.add_argument('--wait', type=float, default=0.2)
    c.add_argument('text', nargs='+')
    f = sub.add_parser('fields')
    f.add_argument('--log', required=True)
    f.add_argument('--from-line', type=int, default=0)
    f.add_argument('--type', required=True)
    f.add_argument('--field', required=True)
    a = p.parse_args()
    return {'events': cmd_events, 'cons': cmd_cons, 'fields': cmd_fields}[a.cmd](a)


if __name__ == '__main__':
    sys.exit(main())
