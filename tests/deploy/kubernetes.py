#!/usr/bin/env python3
"""Checks examples/kubernetes/ against each other, the config and a live ballast.

  - every file is valid YAML, every document has apiVersion, kind, name;
  - the structure of each object without a cluster (tests/deploy/
    k8s_structure.py: known kinds and keys, required keys, formats, the
    references between objects), and that check itself: a copy of the
    manifests broken in each of twenty ways must be reported every time;
  - the ConfigMap's config passes `ballast --check` (with a token file
    beside it, as the projected volume mounts it);
  - the container ports match the config's listen and admin ports; the
    Services, ServiceMonitor, PDB and HPA point at names that exist;
  - every probe path (and the ServiceMonitor's) answers 200 from a live
    ballast running the ConfigMap's config on free loopback ports, and an
    unknown path does not (so the check can fail);
  - terminationGracePeriodSeconds > preStop sleep + drain.delay + drain.timeout;
  - non-root, read-only root filesystem, zone spread, --watch, --zone from
    the downward API;
  - the PrometheusRule holds exactly the rules of examples/prometheus/alerts.yml.

usage: tests/deploy/kubernetes.py BUILD_DIR     (exit 77: PyYAML missing)
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_structure  # noqa: E402

try:
    import yaml
except ImportError:
    print("kubernetes: SKIP: PyYAML missing (Debian package python3-yaml; scripts/install-deps.sh --test)")
    sys.exit(77)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
K8S = os.path.join(ROOT, "examples", "kubernetes")
BALLAST = os.path.join(os.path.abspath(sys.argv[1]), "bin", "ballast")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def seconds(d):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(d))
    if not m:
        raise ValueError("duration " + str(d))
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def port_of(address):
    return int(str(address).rsplit(":", 1)[1])


docs = []
for name in sorted(os.listdir(K8S)):
    if not name.endswith(".yaml"):
        continue
    with open(os.path.join(K8S, name)) as f:
        try:
            for d in yaml.safe_load_all(f):
                if d is None:
                    continue
                check(all(k in d for k in ("apiVersion", "kind")) and d.get("metadata", {}).get("name"),
                      f"{name}: a document without apiVersion, kind or metadata.name")
                docs.append((name, d))
        except yaml.YAMLError as e:
            failures.append(f"{name}: not valid YAML: {e}")
if not failures:
    # Structure first: the checks below index into the documents.
    failures += k8s_structure.check(docs)
    missed, breaks = k8s_structure.self_test(docs)
    failures += ["structural self-test: not reported: " + m for m in missed]
if failures:
    print("\n".join("kubernetes: FAIL: " + f for f in failures), file=sys.stderr)
    sys.exit(1)


def one(kind, name=None):
    found = [d for _, d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    if not check(len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"):
        print("\n".join("kubernetes: FAIL: " + f for f in failures), file=sys.stderr)
        sys.exit(1)
    return found[0]


cm = one("ConfigMap")
secret = one("Secret")
dep = one("Deployment")
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
check(dep["spec"]["replicas"] == 3, "Deployment replicas != 3")
check(dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items(),
      "Deployment selector does not match its pod labels")

# The config, where the pod mounts it.
config_text = cm["data"]["ballast.yaml"]
config = yaml.safe_load(config_text)
cmdline = " ".join(c.get("command", []) + c.get("args", []))
m = re.search(r"--config (\S+)", cmdline)
check(m is not None, "no --config in the container command")
config_path = m.group(1) if m else ""
mount = next((v for v in c["volumeMounts"] if config_path.startswith(v["mountPath"] + "/")), None)
check(mount is not None, f"no volume mounted where --config {config_path} points")
vol = next((v for v in pod["volumes"] if mount and v["name"] == mount["name"]), {})
sources = vol.get("projected", {}).get("sources", [])
check({"configMap": cm["metadata"]["name"]} in [{k: s[k]["name"]} for s in sources for k in s]
      and config_path.endswith("/ballast.yaml"), "the config volume does not hold the ConfigMap's ballast.yaml")
check(any(s.get("secret", {}).get("name") == secret["metadata"]["name"] for s in sources),
      "the Secret with the admin token is not in the config volume")
check("--watch" in cmdline, "ballast runs without --watch")
check("--zone" in cmdline, "no --zone")
zone_env = [e for e in c.get("env", []) if "$" + e["name"] in cmdline or "${" + e["name"] in cmdline]
check(any("topology.kubernetes.io/zone" in e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath", "")
          for e in zone_env), "--zone does not come from the zone label through the downward API")

tmp = tempfile.mkdtemp()
with open(os.path.join(tmp, "ballast.yaml"), "w") as f:
    f.write(config_text)
for k, v in secret.get("stringData", {}).items():
    with open(os.path.join(tmp, k), "w") as f:
        f.write(v)
r = subprocess.run([BALLAST, "--check", "--config", os.path.join(tmp, "ballast.yaml")], capture_output=True, text=True)
check(r.returncode == 0, "the ConfigMap's config fails ballast --check: " + r.stdout + r.stderr)

# Ports.
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
check(ports.get("http") == port_of(config["listen"]), f"container port http {ports.get('http')} != listen {config['listen']}")
check(ports.get("admin") == port_of(config["admin"]["listen"]),
      f"container port admin {ports.get('admin')} != admin.listen {config['admin']['listen']}")
services = [d for _, d in docs if d["kind"] == "Service"]
for s in services:
    for p in s["spec"]["ports"]:
        if s["spec"].get("clusterIP") == "None":
            continue
        check(p["targetPort"] in ports, f"Service {s['metadata']['name']}: targetPort {p['targetPort']} is no container port")
    if s["spec"].get("clusterIP") != "None":
        check(s["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items(),
              f"Service {s['metadata']['name']} selects no ballast pod")
sm = one("ServiceMonitor")
sm_services = [s for s in services if sm["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
check(len(sm_services) == 1, "the ServiceMonitor selects no single Service")
for e in sm["spec"]["endpoints"]:
    check(any(p["name"] == e["port"] for s in sm_services for p in s["spec"]["ports"]),
          f"ServiceMonitor port {e['port']} is not a port of its Service")
headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
check(len(headless) == 1, "no headless Service example")

pdb = one("PodDisruptionBudget")
check(pdb["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items(),
      "the PDB selects no ballast pod")
check(pdb["spec"].get("minAvailable", 0) < dep["spec"]["replicas"], "the PDB allows no disruption")
hpa = one("HorizontalPodAutoscaler")
check(hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"], "the HPA scales another Deployment")
check(any(mt.get("resource", {}).get("name") == "cpu" for mt in hpa["spec"]["metrics"]), "the HPA does not scale on CPU")
check(hpa["spec"]["minReplicas"] >= 3, "the HPA goes below 3 replicas")

# Shutdown budget.
pre = c["lifecycle"]["preStop"]["exec"]["command"]
pre_sleep = float(pre[1]) if pre[0] == "sleep" else 0
check(pre_sleep > 0, "preStop does not wait for the endpoint removal")
drain = config.get("drain", {})
budget = pre_sleep + seconds(drain.get("delay", "0s")) + seconds(drain.get("timeout", "30s"))
check(pod["terminationGracePeriodSeconds"] > budget,
      f"terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} <= preStop + drain.delay + drain.timeout = {budget}")

# Security and spread.
psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0, "the pod may run as root")
check(csc.get("readOnlyRootFilesystem") is True, "the root filesystem is writable")
check(csc.get("allowPrivilegeEscalation") is False, "privilege escalation allowed")
check(any(t["topologyKey"] == "topology.kubernetes.io/zone" for t in pod.get("topologySpreadConstraints", [])),
      "no spread across zones")
check("requests" in c.get("resources", {}) and "limits" in c.get("resources", {}), "no resource requests and limits")
state = config.get("state_file", "")
check(any(state.startswith(v["mountPath"] + "/") for v in c["volumeMounts"] if not v.get("readOnly")),
      f"state_file {state} is not on a writable volume")

# PrometheusRule == alerts.yml.
with open(os.path.join(ROOT, "examples", "prometheus", "alerts.yml")) as f:
    alerts = yaml.safe_load(f)
pr = one("PrometheusRule")
check(pr["spec"]["groups"] == alerts["groups"], "the PrometheusRule's groups differ from examples/prometheus/alerts.yml")
names = sorted(r["alert"] for g in pr["spec"]["groups"] for r in g["rules"] if "alert" in r)
check(len(names) >= 1, "the PrometheusRule holds no alert")

# Live: the ConfigMap's config on free loopback ports; every probe path
# and /metrics answer 200.
live = dict(config)
live["listen"] = "127.0.0.1:0"
live["admin"] = dict(config["admin"], listen="127.0.0.1:0")
live["state_file"] = os.path.join(tmp, "state.jsonl")
live["drain"] = {"delay": "0s", "timeout": "5s"}  # a quick stop; the budget was checked above
live["log"] = {"level": "info", "access": "off", "events": "stderr"}
with open(os.path.join(tmp, "live.yaml"), "w") as f:
    f.write(json.dumps(live))  # JSON is YAML
err_path = os.path.join(tmp, "err")
with open(err_path, "w") as err:
    proc = subprocess.Popen([BALLAST, "--config", os.path.join(tmp, "live.yaml")], stdout=subprocess.DEVNULL, stderr=err)
try:
    admin = None
    deadline = time.monotonic() + 10
    while admin is None and time.monotonic() < deadline and proc.poll() is None:
        with open(err_path) as f:
            for line in f:
                if '"event":"listening"' in line and '"kind":"admin"' in line:
                    admin = port_of(json.loads(line)["address"])
        time.sleep(0.05)
    check(admin is not None, "ballast with the ConfigMap's config did not start: " + open(err_path).read()[-2000:])

    def status(path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}{path}", timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code

    if admin is not None:
        paths = [(kind, c[kind]["httpGet"]) for kind in ("livenessProbe", "readinessProbe", "startupProbe") if kind in c]
        check(len(paths) >= 2, "no liveness and readiness probes")
        for kind, g in paths:
            check(g["port"] == "admin" or g["port"] == ports.get("admin"), f"{kind} is not on the admin port")
            # /readyz turns 200 once the first probe round is done.
            deadline = time.monotonic() + 10
            code = status(g["path"])
            while code != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
                code = status(g["path"])
            check(code == 200, f"{kind} GET {g['path']} answered {code}")
        for e in sm["spec"]["endpoints"]:
            check(status(e.get("path", "/metrics")) == 200, f"ServiceMonitor path {e.get('path')} is not 200")
        check(status("/no-such-admin-path") == 404, "an unknown admin path answered other than 404")
finally:
    proc.terminate()
    proc.wait(timeout=40)

if failures:
    print("\n".join("kubernetes: FAIL: " + f for f in failures), file=sys.stderr)
    sys.exit(1)
print(f"kubernetes: ok ({len(docs)} documents, structure checked, {breaks} broken copies all reported; "
      f"alerts {', '.join(names)})")
