# The README's sample postmortem, from a real run: two demo backends behind
# ballast, client load, both backends killed, brought back. Prints what the
# clients counted; then: build/bin/ballast postmortem --journal DIR/journal.jsonl
# Usage: python3 scripts/postmortem_demo.py [DIR]  (ports: free ones on 127.0.0.1)
import http.client, json, os, signal, socket, subprocess, sys, threading, time
B = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bin")
D = sys.argv[1] if len(sys.argv) > 1 else "/tmp/ballast-postmortem-demo"
os.makedirs(D, exist_ok=True)
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
pa, pb, pl, padm = free(), free(), free(), free()
def backend(name, port):
    return subprocess.Popen([B + "/demo-backend", "--listen", f"127.0.0.1:{port}", "--name", name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for f in os.listdir(D):
    if f.startswith("journal"): os.remove(os.path.join(D, f))
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
a, b = backend("a", pa), backend("b", pb)
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
time.sleep(3)
ts = [threading.Thread(target=load) for _ in range(4)]
for t in ts: t.start()
time.sleep(5)
a.kill(); time.sleep(3); b.kill()
time.sleep(8)
a, b = backend("a2", pa), backend("b2", pb)
time.sleep(15)
stop = True
for t in ts: t.join()
print("clients:", counts)
lb.send_signal(signal.SIGTERM); lb.wait(); a.kill(); b.kill()
