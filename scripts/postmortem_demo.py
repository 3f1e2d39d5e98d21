# The README's sample postmortems, from real runs.
#
# Outage (default): two demo backends behind ballast, client load, both
# backends killed, brought back. Prints what the clients counted; then:
#   build/bin/ballast postmortem --journal DIR/journal.jsonl
# Drill (--drill): the demo's shape (three demo backends, the health check
# of examples/demo.yaml, default incident settings), client load, then
# `ballast drill --duration 20s` on the second backend; waits until the
# drill's incident has closed, prints what the clients counted and the
# postmortem draft of the drill (markdown; DIR/drill_postmortem.json too).
# Usage: python3 scripts/postmortem_demo.py [--drill] [DIR]  (ports: free ones on 127.0.0.1)
import http.client, json, os, signal, socket, subprocess, sys, threading, time
B = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bin")
args = [a for a in sys.argv[1:] if a != "--drill"]
DRILL = "--drill" in sys.argv[1:]
D = args[0] if args else ("/tmp/ballast-drill-demo" if DRILL else "/tmp/ballast-postmortem-demo")
os.makedirs(D, exist_ok=True)
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
pa, pb, pc, pl, padm = free(), free(), free(), free(), free()
def backend(name, port):
    return subprocess.Popen([B + "/demo-backend", "--listen", f"127.0.0.1:{port}", "--name", name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for f in os.listdir(D):
    if f.startswith("journal"): os.remove(os.path.join(D, f))
if DRILL:
    cfg = f"""listen: 127.0.0.1:{pl}
admin: {{ listen: 127.0.0.1:{padm} }}
log: {{ level: info, access: 'off', events: {D}/events.log }}
journal: {{ path: {D}/journal.jsonl }}
pools:
  - name: web
    health_check: {{ path: /healthz, interval: 1s, timeout: 500ms, fall: 2, rise: 2 }}
    backends: [{{ address: 127.0.0.1:{pa} }}, {{ address: 127.0.0.1:{pb} }}, {{ address: 127.0.0.1:{pc} }}]
"""
else:
    cfg = f"""listen: 127.0.0.1:{pl}
admin: {{ listen: 127.0.0.1:{padm} }}
log: {{ level: info, access: 'off', events: {D}/events.log }}
journal: {{ path: {D}/journal.jsonl }}
incidents: {{ threshold: 50%, settle: 5s }}
pools:
  - name: web
    health_check: {{ interval: 1s, timeout: 500ms, rise: 2, fall: 2 }}
    backends: [{{ address: 127.0.0.1:{pa} }}, {{ address: 127.0.0.1:{pb} }}]
"""
open(D + "/ballast.yaml", "w").write(cfg)
procs = [backend("demo-1", pa), backend("demo-2", pb)] + ([backend("demo-3", pc)] if DRILL else [])
time.sleep(0.5)
lb = subprocess.Popen([B + "/ballast", "--config", D + "/ballast.yaml"])
stop = False
counts = {"total": 0, "failed": 0}
lock = threading.Lock()
def load():
    c = None
    while not stop:
        try:
            if c is None: c = http.client.HTTPConnection("127.0.0.1", pl, timeout=5)
            c.request("GET", "/x"); r = c.getresponse(); r.read()
            ok = r.status == 200
        except Exception:
            ok = False; c = None
        with lock:
            counts["total"] += 1; counts["failed"] += 0 if ok else 1
        time.sleep(0.01)
def journal_has(event):
    try:
        return any(json.loads(l).get("event") == event for l in open(D + "/journal.jsonl"))
    except (OSError, ValueError):
        return False
time.sleep(3)
ts = [threading.Thread(target=load) for _ in range(4)]
for t in ts: t.start()
time.sleep(5)
if DRILL:
    subprocess.run([B + "/ballast", "drill", "--admin", f"127.0.0.1:{padm}", "--pool", "web",
                    "--backend", f"127.0.0.1:{pb}", "--duration", "20s"], check=True)
    deadline = time.time() + 120
    while not journal_has("incident_closed") and time.time() < deadline: time.sleep(0.5)
    time.sleep(2)
else:
    procs[0].kill(); time.sleep(3); procs[1].kill()
    time.sleep(8)
    procs = [backend("a2", pa), backend("b2", pb)]
    time.sleep(15)
stop = True
for t in ts: t.join()
print("clients:", counts)
lb.send_signal(signal.SIGTERM); lb.wait()
for p in procs: p.kill()
if DRILL:
    sys.stdout.flush()
    subprocess.run([B + "/ballast", "postmortem", "--journal", D + "/journal.jsonl"], check=True)
    with open(D + "/drill_postmortem.json", "w") as out:
        subprocess.run([B + "/ballast", "postmortem", "--journal", D + "/journal.jsonl", "--format", "json"],
                       stdout=out, check=True)
