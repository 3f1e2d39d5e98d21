#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ (hand-made cases,
plus the request corpus tests/data/requests/*.http for the request path).
Each proxy/admin seed starts with the target's flags byte (see the target's
header comment). Re-run after changing a seed here; the campaigns' own
finds stay out of the source tree (run.sh keeps them under build/)."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def decode_http_case(path):
    out = bytearray()
    with open(path, encoding="latin-1") as f:
        for line in f.read().split("\n"):
            if line.startswith("#"):
                continue
            i = 0
            while i < len(line):
                c = line[i]
                if c != "\\" or i + 1 >= len(line):
                    out += c.encode("latin-1")
                    i += 1
                    continue
                e = line[i + 1]
                if e == "r":
                    out += b"\r"
                elif e == "n":
                    out += b"\n"
                elif e == "t":
                    out += b"\t"
                elif e == "x":
                    out.append(int(line[i + 2:i + 4], 16))
                    i += 2
                else:
                    out += e.encode("latin-1")
                i += 2
    return bytes(out)


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    get = b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
    head = b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n"
    post = b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
    chunked = b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nT: v\r\n\r\n"

    # request: flags, client bytes
    reqdir = os.path.join(ROOT, "tests", "data", "requests")
    for name in sorted(os.listdir(reqdir)):
        if name.endswith(".http"):
            write("request", "corpus-" + name[:-5], b"\x00" + decode_http_case(os.path.join(reqdir, name)))
    write("request", "pipeline-3", b"\x00" + get + head + post)
    write("request", "pipeline-chunked-framing", b"\x08" + chunked + get)
    write("request", "pipeline-204", b"\x10" + get + get)
    write("request", "until-close", b"\x18" + get + get)
    write("request", "pieces-1", b"\x01" + post + get)
    write("request", "pieces-8-backend-4", b"\x64" + chunked + head)
    write("request", "expect-continue", b"\x00POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
    write("request", "http10-keepalive", b"\x00GET /k HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\n" + get)
    write("request", "absolute-form", b"\x00GET http://t:80/x?y HTTP/1.1\r\nHost: t:80\r\n\r\n")
    write("request", "connection-tokens", b"\x00GET /c HTTP/1.1\r\nHost: t\r\nConnection: X-A, keep-alive\r\nX-A: 1\r\nTE: trailers\r\n\r\n")
    write("request", "body-too-large", b"\x00POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000)
    write("request", "get-with-body", b"\x00GET /gb HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab" + get)

    # response: flags, backend answer to the first request
    write("response", "cl", b"\x00HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
    write("response", "cl-pipelined", b"\x08HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
    write("response", "chunked", b"\x08HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    write("response", "until-close", b"\x80HTTP/1.1 200 OK\r\n\r\nuntil close")
    write("response", "head-with-body", b"\x09HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
    write("response", "204-with-body", b"\x08HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc")
    write("response", "304", b"\x08HTTP/1.1 304 Not Modified\r\nContent-Length: 30\r\nETag: \"x\"\r\n\r\n")
    write("response", "extra-response", b"\x08HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")
    write("response", "interim", b"\x0aHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    write("response", "http10-client", b"\x04HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    write("response", "cl-te-both", b"\x08HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    write("response", "short-body", b"\x88HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    write("response", "bad-status", b"\x08HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n")
    write("response", "pieces", b"\x38HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nContent-Length: 3\r\n\r\nabc")
    write("response", "101", b"\x08HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nraw")

    # chunked: flags (bit 0 = response side), body
    bodies = {
        "simple": b"3\r\nabc\r\n0\r\n\r\n",
        "ext-trailer": b"3;a=b;c\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n",
        "many": b"".join(b"1\r\n%c\r\n" % (65 + i) for i in range(10)) + b"0\r\n\r\n",
        "upper-hex": b"A\r\n0123456789\r\n0\r\n\r\n",
        "leading-zeros": b"0003\r\nabc\r\n0\r\n\r\n",
        "bad-size": b"3x\r\nabc\r\n0\r\n\r\n",
        "no-crlf": b"3\r\nabcd0\r\n\r\n",
    }
    for name, body in bodies.items():
        write("chunked", "req-" + name, b"\x00" + body)
        write("chunked", "resp-" + name, b"\x01" + body)
    write("chunked", "req-pieces-2", b"\x04" + bodies["ext-trailer"])
    write("chunked", "resp-pieces-1", b"\x03" + bodies["ext-trailer"])

    # config: YAML
    base = (b"listen: 127.0.0.1:8080\nadmin: { listen: 127.0.0.1:9100, token: t }\n"
            b"pools:\n  - name: web\n    backends:\n      - { address: \"127.0.0.1:9001\", weight: 2 }\n"
            b"      - { address: \"127.0.0.1:9002\", backup: true }\n")
    write("config", "minimal", b"listen: 127.0.0.1:8080\npools:\n  - name: web\n    backends:\n      - address: 127.0.0.1:9001\n")
    write("config", "two-pools-routes", base + b"  - name: api\n    backends: [ { address: \"[::1]:9003\" } ]\n"
          b"routes:\n  - { host: \"*.example.com\", path_prefix: /api, pool: api }\n  - { pool: web }\n")
    write("config", "full-pool", base.replace(b"    backends:", b"    health_check: { path: /hc, interval: 1s, timeout: 500ms, rise: 2, fall: 3, expect_status: [200, \"300-399\"] }\n"
          b"    outlier_detection: { consecutive_failures: 3, base_ejection: 10s }\n"
          b"    retries: { attempts: 2, on: [connect_failure, reset, 503] }\n    panic_threshold: 50\n    backends:", 1) +
          b"timeouts: { connect: 1s, client_header: 5s, lingering: 2s }\n"
          b"limits: { max_connections: 100, max_header_bytes: 8KiB, max_body_bytes: 1MiB }\n"
          b"drain: { delay: 1s, timeout: 10s }\nlog: { access: off, events: stderr }\n")
    write("config", "anchors", b"defaults: &d { address: \"127.0.0.1:9001\" }\nlisten: 127.0.0.1:8080\n"
          b"pools:\n  - name: web\n    backends: [ *d, *d ]\n")
    write("config", "laughs", b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
          b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
          b"e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n")
    write("config", "deep", b"listen: " + b"[" * 200 + b"]" * 200 + b"\n")
    write("config", "errors", b"listen: nowhere\nadmn: {}\npools:\n  - name: web\n    backends: []\n  - name: web\n")
    write("config", "drills", base + b"drills:\n  - { pool: web, abort: { percent: 10, status: 503 }, header: x-ballast-drill,"
          b" expires: 2026-12-31T00:00:00Z }\n  - { pool: web, delay: { percent: 5, duration: 2s }, duration: 10m }\n"
          b"  - { route: nope, delay: { percent: 101 } }\n")
    write("config", "notify", base + b"notify:\n  targets:\n"
          b"    - { name: chat, url: \"http://127.0.0.1:8088/hook\", format: slack }\n"
          b"    - { name: am, url: \"https://127.0.0.1/api/v2/alerts\", format: alertmanager }\n"
          b"  rules:\n    - { events: [backend_down, pool_degraded], notify: [chat] }\n"
          b"    - { events: [pool_down], notify: [am], escalate: [{ after: 5m, notify: [chat] }] }\n"
          b"  group_wait: 2s\n  repeat: 1h\n")
    write("config", "merge-key", b"x: &x { name: web }\npools:\n  - <<: *x\n    backends: [{ address: 127.0.0.1:1 }]\nlisten: 127.0.0.1:1\n")

    # admin: flags (bit 0 = token + protected reads), request bytes
    h = b"Host: 127.0.0.1\r\n"
    auth = b"Authorization: Bearer s3cret\r\n"
    for flags in (0, 1):
        f = bytes([flags])
        sfx = "-token" if flags else ""
        write("admin", "status" + sfx, f + b"GET /status HTTP/1.1\r\n" + h + auth + b"\r\n")
        write("admin", "metrics" + sfx, f + b"GET /metrics HTTP/1.1\r\n" + h + b"\r\n")
        write("admin", "page" + sfx, f + b"HEAD / HTTP/1.1\r\n" + h + b"\r\n")
        write("admin", "reload" + sfx, f + b"POST /reload HTTP/1.1\r\n" + h + auth + b"Content-Length: 0\r\n\r\n")
        write("admin", "drain" + sfx, f + b"POST /pools/web/backends/127.0.0.1%3A1/drain HTTP/1.1\r\n" + h + auth + b"Content-Length: 0\r\n\r\n")
        write("admin", "query" + sfx, f + b"GET /healthz?verbose=1 HTTP/1.1\r\n" + h + b"\r\n")
        write("admin", "wrong-method" + sfx, f + b"DELETE /reload HTTP/1.1\r\n" + h + b"\r\n")
        write("admin", "unknown" + sfx, f + b"GET /pools/web HTTP/1.1\r\n" + h + b"\r\n")
        write("admin", "ack" + sfx, f + b"POST /incidents/inc-20261201T121503Z-web/ack HTTP/1.1\r\n" + h + auth +
              b"Content-Length: 28\r\n\r\n{\"by\": \"alice\", \"note\": \"x\"}")
        write("admin", "cross-site" + sfx, f + b"POST /pools/web/backends/127.0.0.1:2/disable HTTP/1.1\r\n" + h + auth +
              b"Origin: http://evil\r\nSec-Fetch-Site: cross-site\r\nContent-Length: 0\r\n\r\n")
    body = b'{"action": "delay", "pool": "web", "percent": 100, "delay": "2s", "duration": "5m", "header": "x-ballast-drill"}'
    write("admin", "drill-delay", b"\x01POST /drills HTTP/1.1\r\n" + h + auth + b"Content-Length: " +
          str(len(body)).encode() + b"\r\n\r\n" + body)
    write("admin", "readyz", b"\x00GET /readyz HTTP/1.0\r\n\r\n")
    write("admin", "big-head", b"\x00GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n")
    write("admin", "body", b"\x01POST /reload HTTP/1.1\r\n" + h + auth + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
