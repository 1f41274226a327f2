#!/usr/bin/env python3
"""send_sip.py: send one SIP request to the PBX under test and print what comes back.

Used by the black-box tests in tests/sip/. Python 3 standard library only.

  send_sip.py [--host 127.0.0.1] [--port 5060] [--transport udp|tcp]
              [--bind IP:PORT] [--wait 2.0] [--auth USER:PASS] [--algorithm MD5|SHA-256]
              [--show status|full] [--split N] [--split-delay S] [--raw] FILE|-
  send_sip.py --garbage N [--seed S] [--host ...] [--port ...]

The message is read from FILE (or stdin) as a template: bare LF becomes CRLF
(unless --raw) and these placeholders are filled in:
  {{LOCAL_IP}} {{LOCAL_PORT}}   our socket's address (IPv6 without brackets)
  {{LOCAL}}                     host:port as it goes into a Via (IPv6 in brackets)
  {{TRANSPORT}}                 UDP or TCP
  {{BRANCH}}                    a fresh z9hG4bK branch for every request sent
  {{CALLID}} {{TAG}}            random, fixed for the whole run
  {{CSEQ}}                      1, incremented for the authenticated retry
  {{CL}}                        length of the body after the empty line

With --auth, a 401/407 carrying a digest challenge is answered once with
credentials (the challenge of --algorithm, default the first one offered);
the retry carries the same Call-ID, a new branch and CSeq+1.

Output (stdout): for every response with our Call-ID, its status line
(--show status) or the whole message followed by a line "--" (--show full).
On TCP, "# closed after N.Ns" when the server closes the connection.
Exit status: 0 a final response arrived, 2 no final response within --wait
(3 if the TCP connection was closed instead), 1 usage or socket error.
"""
import argparse
import hashlib
import os
import random
import re
import socket
import sys
import time


def parse_hostport(s):
    """'127.0.0.1:5060' or '[::1]:5060' -> (host, port)"""
    m = re.fullmatch(r'\[([^\]]+)\]:(\d+)', s) or re.fullmatch(r'([^:]+):(\d+)', s)
    if not m:
        raise ValueError('bad address %r' % s)
    return m.group(1), int(m.group(2))


def family_of(host):
    return socket.AF_INET6 if ':' in host else socket.AF_INET


def rand_token(n=10):
    return ''.join(random.choice('abcdefghijklmnopqrstuvwxyz0123456789') for _ in range(n))


class Template:
    def __init__(self, text, raw):
        self.text = text
        self.raw = raw
        self.callid = rand_token(16) + '@sendsip'
        self.tag = rand_token(8)
        self.cseq = 1

    def render(self, local_ip, local_port, transport, extra_header=None):
        data = self.text
        if not self.raw:
            data = data.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
        local = '[%s]:%d' % (local_ip, local_port) if ':' in local_ip else '%s:%d' % (local_ip, local_port)
        subst = {
            b'{{LOCAL_IP}}': local_ip.encode(),
            b'{{LOCAL_PORT}}': str(local_port).encode(),
            b'{{LOCAL}}': local.encode(),
            b'{{TRANSPORT}}': transport.upper().encode(),
            b'{{BRANCH}}': ('z9hG4bK' + rand_token(12)).encode(),
            b'{{CALLID}}': self.callid.encode(),
            b'{{TAG}}': self.tag.encode(),
            b'{{CSEQ}}': str(self.cseq).encode(),
        }
        for k, v in subst.items():
            data = data.replace(k, v)
        head, sep, body = data.partition(b'\r\n\r\n') if not self.raw else (data, b'', b'')
        if not self.raw:
            if extra_header:
                head += b'\r\n' + extra_header
            data = head + sep + body
            data = data.replace(b'{{CL}}', str(len(body)).encode())
        return data


# ---------------------------------------------------------------- messages

def split_stream(buf):
    """Frame complete messages out of a TCP byte stream -> (messages, rest)."""
    out = []
    while True:
        end = buf.find(b'\r\n\r\n')
        if end < 0:
            return out, buf
        head = buf[:end + 4]
        m = re.search(rb'(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)', head)
        cl = int(m.group(1)) if m else 0
        if len(buf) < end + 4 + cl:
            return out, buf
        out.append(buf[:end + 4 + cl])
        buf = buf[end + 4 + cl:]


def header_values(msg, *names):
    vals = []
    for line in msg.split(b'\r\n\r\n', 1)[0].split(b'\r\n')[1:]:
        name, sep, val = line.partition(b':')
        if sep and name.strip().lower() in [n.lower() for n in names]:
            vals.append(val.strip().decode('utf-8', 'replace'))
    return vals


def call_id(msg):
    v = header_values(msg, b'call-id', b'i')
    return v[0] if v else None


def status_code(msg):
    m = re.match(rb'SIP/2\.0 (\d{3})', msg)
    return int(m.group(1)) if m else None


def parse_challenge(value):
    """'Digest realm="x", nonce="y", qop="auth"' -> dict (lower-case keys)"""
    scheme, _, rest = value.partition(' ')
    params = {'scheme': scheme}
    for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)', rest):
        params[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return params


def digest_header(chal, method, uri, user, password, proxy):
    alg = chal.get('algorithm', 'MD5')
    h = {'MD5': hashlib.md5, 'SHA-256': hashlib.sha256}.get(alg.upper())
    if h is None:
        return None

    def H(s):
        return h(s.encode()).hexdigest()
    realm, nonce = chal.get('realm', ''), chal.get('nonce', '')
    ha1 = H('%s:%s:%s' % (user, realm, password))
    ha2 = H('%s:%s' % (method, uri))
    parts = ['username="%s"' % user, 'realm="%s"' % realm, 'nonce="%s"' % nonce, 'uri="%s"' % uri]
    if 'auth' in [q.strip() for q in chal.get('qop', '').split(',')]:
        cnonce, nc = rand_token(12), '00000001'
        resp = H('%s:%s:%s:%s:auth:%s' % (ha1, nonce, nc, cnonce, ha2))
        parts += ['response="%s"' % resp, 'algorithm=%s' % alg, 'cnonce="%s"' % cnonce, 'qop=auth', 'nc=%s' % nc]
    else:
        parts += ['response="%s"' % H('%s:%s:%s' % (ha1, nonce, ha2)), 'algorithm=%s' % alg]
    if 'opaque' in chal:
        parts.append('opaque="%s"' % chal['opaque'])
    name = 'Proxy-Authorization' if proxy else 'Authorization'
    return ('%s: Digest %s' % (name, ', '.join(parts))).encode()


def pick_challenge(resp, algorithm):
    proxy = status_code(resp) == 407
    vals = header_values(resp, b'proxy-authenticate' if proxy else b'www-authenticate')
    chals = [parse_challenge(v) for v in vals if v.lower().startswith('digest')]
    if not chals:
        return None, proxy
    if algorithm:
        for c in chals:
            if c.get('algorithm', 'MD5').upper() == algorithm.upper():
                return c, proxy
        return None, proxy
    return chals[0], proxy


def ack_for(req, resp):
    """RFC 3261 17.1.1.3: the ACK for a non-2xx final answer to an INVITE (same branch)."""
    _, uri = request_line(req)
    via = header_values(req, b'via', b'v')
    lines = ['ACK %s SIP/2.0' % uri]
    if via:
        lines.append('Via: ' + via[0])
    lines.append('Max-Forwards: 70')
    for name, compact in ((b'from', b'f'), (b'call-id', b'i')):
        v = header_values(req, name, compact)
        if v:
            lines.append('%s: %s' % (name.decode().title(), v[0]))
    to = header_values(resp, b'to', b't')
    if to:
        lines.append('To: ' + to[0])
    cseq = header_values(req, b'cseq')
    if cseq:
        lines.append('CSeq: %s ACK' % cseq[0].split()[0])
    lines.append('Content-Length: 0')
    return ('\r\n'.join(lines) + '\r\n\r\n').encode()


def request_line(msg):
    first = msg.split(b'\r\n', 1)[0].decode('utf-8', 'replace').split(' ')
    return (first[0], first[1]) if len(first) >= 3 else (None, None)


# ---------------------------------------------------------------- transport

class Conn:
    def __init__(self, a):
        self.a = a
        self.fam = family_of(a.host)
        self.closed_at = None
        self.t0 = None
        if a.transport == 'udp':
            self.s = socket.socket(self.fam, socket.SOCK_DGRAM)
        else:
            self.s = socket.socket(self.fam, socket.SOCK_STREAM)
        if a.bind:
            bh, bp = parse_hostport(a.bind)
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.s.bind((bh, bp))
        if a.transport == 'tcp':
            self.s.settimeout(a.wait)
            self.s.connect((a.host, a.port))
        else:
            self.s.connect((a.host, a.port))
        name = self.s.getsockname()
        self.local_ip, self.local_port = name[0], name[1]
        self.rbuf = b''

    def send(self, data):
        if self.t0 is None:
            self.t0 = time.time()
        if self.a.transport == 'udp':
            self.s.send(data)
            return
        n = self.a.split
        if 0 < n < len(data):
            self.s.sendall(data[:n])
            time.sleep(self.a.split_delay)
            self.s.sendall(data[n:])
        else:
            self.s.sendall(data)

    def recv(self, deadline):
        """-> list of complete messages, [] on timeout; sets closed_at on EOF."""
        while True:
            left = deadline - time.time()
            if left <= 0 or self.closed_at is not None:
                return []
            self.s.settimeout(max(0.01, left))
            try:
                chunk = self.s.recv(65535)
            except socket.timeout:
                return []
            except ConnectionRefusedError:
                # ICMP port unreachable on UDP: nobody listens; keep waiting to the bound
                time.sleep(min(0.05, max(0, deadline - time.time())))
                continue
            except OSError:
                self.closed_at = time.time()
                return []
            if self.a.transport == 'udp':
                return [chunk]
            if not chunk:
                self.closed_at = time.time()
                return []
            msgs, self.rbuf = split_stream(self.rbuf + chunk)
            if msgs:
                return msgs


def garbage(a):
    rnd = random.Random(a.seed)
    s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
    base = (b'REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\n'
            b'From: <sip:1@pbx>;tag=1\r\nTo: <sip:1@pbx>\r\nCall-ID: g\r\nCSeq: 1 REGISTER\r\n'
            b'Content-Length: 0\r\n\r\n')
    for i in range(a.garbage):
        kind = i % 3
        if kind == 0:          # random bytes
            data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 1400)))
        elif kind == 1:        # a valid message with random bytes flipped
            b = bytearray(base)
            for _ in range(rnd.randint(1, 12)):
                b[rnd.randrange(len(b))] = rnd.getrandbits(8)
            data = bytes(b)
        else:                  # a valid message cut short or with a random tail
            cut = rnd.randint(0, len(base))
            data = base[:cut] + bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 64)))
        try:
            s.sendto(data, (a.host, a.port))
        except OSError:
            pass
    return 0


def main():
    ap = argparse.ArgumentParser(description='send one SIP request and print the replies')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=5060)
    ap.add_argument('--transport', default='udp', choices=['udp', 'tcp'])
    ap.add_argument('--bind', default='')
    ap.add_argument('--wait', type=float, default=2.0)
    ap.add_argument('--auth', default='')
    ap.add_argument('--algorithm', default='')
    ap.add_argument('--show', default='status', choices=['status', 'full'])
    ap.add_argument('--split', type=int, default=0, help='TCP: send the first N bytes, pause, then the rest')
    ap.add_argument('--split-delay', type=float, default=0.3)
    ap.add_argument('--raw', action='store_true', help='send the bytes as they are')
    ap.add_argument('--garbage', type=int, default=0, help='send N junk datagrams and exit')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('file', nargs='?', default='-')
    a = ap.parse_args()

    if a.garbage:
        return garbage(a)
    text = sys.stdin.buffer.read() if a.file == '-' else open(a.file, 'rb').read()
    tpl = Template(text, a.raw)
    try:
        c = Conn(a)
    except OSError as e:
        print('# socket error: %s' % e, file=sys.stderr)
        return 3 if a.transport == 'tcp' else 1
    data = tpl.render(c.local_ip, c.local_port, a.transport)
    cid = call_id(data)
    c.send(data)
    deadline = time.time() + a.wait
    authed = False
    final = False
    while not final:
        msgs = c.recv(deadline)
        if not msgs:
            break
        for m in msgs:
            if not m.startswith(b'SIP/2.0 ') or (cid is not None and call_id(m) != cid):
                continue
            if a.show == 'full':
                sys.stdout.write(m.decode('utf-8', 'replace').replace('\r\n', '\n'))
                sys.stdout.write('\n--\n' if not m.endswith(b'\r\n\r\n') else '--\n')
            else:
                print(m.split(b'\r\n', 1)[0].decode('utf-8', 'replace'))
            sys.stdout.flush()
            code = status_code(m) or 0
            if code < 200:
                continue
            if code >= 300 and request_line(data)[0] == 'INVITE':
                c.send(ack_for(data, m))
            if code in (401, 407) and a.auth and not authed:
                chal, proxy = pick_challenge(m, a.algorithm)
                if chal is None:
                    final = True
                    break
                user, _, pw = a.auth.partition(':')
                method, uri = request_line(data)
                tpl.cseq += 1
                hdr = digest_header(chal, method, uri, user, pw, proxy)
                data = tpl.render(c.local_ip, c.local_port, a.transport, hdr)
                authed = True
                c.send(data)
                deadline = time.time() + a.wait
                break
            final = True
            break
    if c.closed_at is not None:
        print('# closed after %.1fs' % (c.closed_at - c.t0))
    if final:
        return 0
    return 3 if c.closed_at is not None else 2


if __name__ == '__main__':
    sys.exit(main())
