"""Structural checks of Kubernetes manifests, without a cluster.

Debian 12's kubectl (kubernetes-client 1.20) cannot validate offline (see
README "Kubernetes"), so this checks what a schema would for the kinds the
examples use: known (apiVersion, kind) pairs, known and required keys of
each object, value types and formats (DNS names, port numbers and names),
and the references between objects (selectors and the pod labels, probe
ports and the container ports, volume mounts and volumes, the PDB and HPA
and the Deployment). check(docs) returns the problems found, one text each.

The key sets are a subset of the Kubernetes API (and of the Prometheus
Operator's CRDs): a key the API has but this list lacks is reported too and
is then added here, which is the price of catching misspelt keys.
"""
import re

KNOWN_KINDS = {
    ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"),
    ("apps/v1", "Deployment"), ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule"),
}

TOP = {"apiVersion", "kind", "metadata", "spec", "data", "stringData", "binaryData", "type", "immutable"}
METADATA = {"name", "namespace", "labels", "annotations"}
SPEC = {
    "Deployment": ({"replicas", "selector", "template", "strategy", "minReadySeconds", "revisionHistoryLimit",
                    "progressDeadlineSeconds", "paused"}, {"selector", "template"}),
    "Service": ({"selector", "ports", "type", "clusterIP", "clusterIPs", "sessionAffinity", "publishNotReadyAddresses",
                 "externalTrafficPolicy", "internalTrafficPolicy", "ipFamilies", "ipFamilyPolicy",
                 "loadBalancerSourceRanges"}, {"ports"}),
    "PodDisruptionBudget": ({"selector", "minAvailable", "maxUnavailable", "unhealthyPodEvictionPolicy"}, {"selector"}),
    "HorizontalPodAutoscaler": ({"scaleTargetRef", "minReplicas", "maxReplicas", "metrics", "behavior"},
                                {"scaleTargetRef", "maxReplicas"}),
    "ServiceMonitor": ({"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels"},
                       {"selector", "endpoints"}),
    "PrometheusRule": ({"groups"}, {"groups"}),
}
POD_SPEC = ({"containers", "initContainers", "volumes", "securityContext", "terminationGracePeriodSeconds",
             "topologySpreadConstraints", "affinity", "nodeSelector", "tolerations", "serviceAccountName",
             "automountServiceAccountToken", "priorityClassName", "dnsPolicy", "dnsConfig", "restartPolicy",
             "enableServiceLinks", "imagePullSecrets", "readinessGates", "runtimeClassName"}, {"containers"})
CONTAINER = ({"name", "image", "imagePullPolicy", "command", "args", "workingDir", "ports", "env", "envFrom",
              "resources", "volumeMounts", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
              "securityContext", "terminationMessagePath", "terminationMessagePolicy"}, {"name", "image"})
PROBE = ({"httpGet", "tcpSocket", "exec", "grpc", "initialDelaySeconds", "periodSeconds", "timeoutSeconds",
          "successThreshold", "failureThreshold", "terminationGracePeriodSeconds"}, set())
HTTP_GET = ({"path", "port", "host", "scheme", "httpHeaders"}, {"port"})
CONTAINER_PORT = ({"name", "containerPort", "protocol", "hostPort", "hostIP"}, {"containerPort"})
SERVICE_PORT = ({"name", "port", "targetPort", "protocol", "nodePort", "appProtocol"}, {"port"})
VOLUME_MOUNT = ({"name", "mountPath", "readOnly", "subPath", "subPathExpr", "mountPropagation"}, {"name", "mountPath"})
VOLUME = ({"name", "configMap", "secret", "projected", "emptyDir", "persistentVolumeClaim", "downwardAPI", "hostPath"},
          {"name"})
SCALE_TARGET = ({"apiVersion", "kind", "name"}, {"apiVersion", "kind", "name"})
SM_ENDPOINT = ({"port", "targetPort", "path", "interval", "scrapeTimeout", "scheme", "honorLabels", "relabelings",
                "metricRelabelings", "bearerTokenSecret", "authorization", "tlsConfig", "params"}, set())

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
PORT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # IANA_SVC_NAME: also <= 15 and a letter
PROTOCOLS = {"TCP", "UDP", "SCTP"}


def check(docs):
    """docs: [(file, document)]. Returns a list of problem texts."""
    out = []

    def keys(obj, spec, where):
        allowed, required = spec
        if not isinstance(obj, dict):
            out.append(f"{where}: expected a mapping, got {type(obj).__name__}")
            return False
        for k in obj:
            if k not in allowed:
                out.append(f"{where}: unknown key {k!r}")
        for k in sorted(required):
            if k not in obj:
                out.append(f"{where}: missing required key {k!r}")
        return True

    def port_number(v, where):
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 65535:
            out.append(f"{where}: {v!r} is not a port number (1..65535)")

    def port_name(v, where):
        if not (isinstance(v, str) and len(v) <= 15 and PORT_NAME.match(v) and re.search("[a-z]", v)):
            out.append(f"{where}: {v!r} is not a valid port name (lower case, digits and '-', at most 15, a letter)")

    def labels(v, where):
        if not isinstance(v, dict) or not v:
            out.append(f"{where}: expected a non-empty label map")
            return {}
        for k, val in v.items():
            if not isinstance(val, str):
                out.append(f"{where}.{k}: label values are strings, got {val!r}")
        return v

    def selects(selector, pod_labels):
        match = (selector or {}).get("matchLabels", selector) if isinstance(selector, dict) else None
        return isinstance(match, dict) and bool(match) and match.items() <= pod_labels.items()

    deployments = []
    for f, d in docs:
        kind, api = d.get("kind"), d.get("apiVersion")
        meta = d.get("metadata") or {}
        name = meta.get("name", "?")
        where = f"{f}: {kind} {name}"
        if (api, kind) not in KNOWN_KINDS:
            out.append(f"{where}: unknown apiVersion/kind {api}/{kind}")
            continue
        keys(d, (TOP, {"apiVersion", "kind", "metadata"}), where)
        keys(meta, (METADATA, {"name"}), where + " metadata")
        if not (isinstance(name, str) and len(name) <= 253 and DNS_SUBDOMAIN.match(name)):
            out.append(f"{where}: metadata.name {name!r} is not a DNS subdomain name")
        if "labels" in meta:
            labels(meta["labels"], where + " metadata.labels")
        if kind in ("ConfigMap", "Secret"):
            for field in ("data", "stringData"):
                for k, v in (d.get(field) or {}).items():
                    if not isinstance(v, str):
                        out.append(f"{where}: {field}.{k} is not a string")
            continue
        spec = d.get("spec")
        if not keys(spec, SPEC[kind], where + " spec"):
            continue
        if kind == "Deployment":
            deployments.append((where, d))
            if not (isinstance(spec.get("replicas", 1), int) and spec.get("replicas", 1) >= 0):
                out.append(f"{where}: spec.replicas {spec.get('replicas')!r} is not a count")
            tmpl = spec.get("template") or {}
            pod_labels = labels((tmpl.get("metadata") or {}).get("labels"), where + " template labels")
            if not selects(spec.get("selector"), pod_labels):
                out.append(f"{where}: spec.selector does not match the template's labels")
            pod = tmpl.get("spec")
            if not keys(pod, POD_SPEC, where + " pod spec"):
                continue
            volumes = set()
            for i, v in enumerate(pod.get("volumes") or []):
                if keys(v, VOLUME, f"{where} volumes[{i}]"):
                    volumes.add(v.get("name"))
                    if not isinstance(v.get("name"), str) or not DNS_LABEL.match(v["name"]):
                        out.append(f"{where} volumes[{i}]: name {v.get('name')!r} is not a DNS label")
            for ci, c in enumerate(pod.get("containers") or []):
                cw = f"{where} containers[{ci}]"
                if not keys(c, CONTAINER, cw):
                    continue
                if not isinstance(c.get("name"), str) or not DNS_LABEL.match(c["name"]):
                    out.append(f"{cw}: name {c.get('name')!r} is not a DNS label")
                named, numbers = set(), set()
                for pi, p in enumerate(c.get("ports") or []):
                    pw = f"{cw} ports[{pi}]"
                    if not keys(p, CONTAINER_PORT, pw):
                        continue
                    port_number(p.get("containerPort"), pw + " containerPort")
                    numbers.add(p.get("containerPort"))
                    if "name" in p:
                        port_name(p["name"], pw + " name")
                        if p["name"] in named:
                            out.append(f"{pw}: port name {p['name']!r} used twice")
                        named.add(p["name"])
                    if p.get("protocol", "TCP") not in PROTOCOLS:
                        out.append(f"{pw}: protocol {p.get('protocol')!r}")
                for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                    if probe not in c:
                        continue
                    pw = f"{cw} {probe}"
                    if not keys(c[probe], PROBE, pw):
                        continue
                    handlers = [h for h in ("httpGet", "tcpSocket", "exec", "grpc") if h in c[probe]]
                    if len(handlers) != 1:
                        out.append(f"{pw}: needs exactly one of httpGet, tcpSocket, exec, grpc; has {handlers}")
                    g = c[probe].get("httpGet") or c[probe].get("tcpSocket")
                    if isinstance(g, dict):
                        if "httpGet" in c[probe]:
                            keys(g, HTTP_GET, pw + " httpGet")
                            if not str(g.get("path", "/")).startswith("/"):
                                out.append(f"{pw}: path {g.get('path')!r} does not start with /")
                        port = g.get("port")
                        if isinstance(port, str) and port not in named:
                            out.append(f"{pw}: port {port!r} is not a named port of the container")
                        elif isinstance(port, int) and port not in numbers:
                            out.append(f"{pw}: port {port} is not a port of the container")
                    for k in ("periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold"):
                        if k in c[probe] and not (isinstance(c[probe][k], int) and c[probe][k] >= 1):
                            out.append(f"{pw}: {k} {c[probe][k]!r} is not a positive integer")
                for mi, m in enumerate(c.get("volumeMounts") or []):
                    if keys(m, VOLUME_MOUNT, f"{cw} volumeMounts[{mi}]") and m.get("name") not in volumes:
                        out.append(f"{cw} volumeMounts[{mi}]: volume {m.get('name')!r} does not exist")
                for ei, e in enumerate(c.get("env") or []):
                    if not isinstance(e, dict) or "name" not in e or ("value" in e) == ("valueFrom" in e):
                        out.append(f"{cw} env[{ei}]: needs a name and one of value, valueFrom")
        elif kind == "Service":
            ports = spec.get("ports") or []
            if not ports:
                out.append(f"{where}: no ports")
            for pi, p in enumerate(ports):
                pw = f"{where} ports[{pi}]"
                if not keys(p, SERVICE_PORT, pw):
                    continue
                port_number(p.get("port"), pw + " port")
                if len(ports) > 1 and "name" not in p:
                    out.append(f"{pw}: a Service with several ports names each")
                if "name" in p:
                    port_name(p["name"], pw + " name")
                t = p.get("targetPort")
                if isinstance(t, str):
                    port_name(t, pw + " targetPort")
                elif t is not None:
                    port_number(t, pw + " targetPort")
            if "selector" in spec:
                labels(spec["selector"], where + " spec.selector")
        elif kind == "PodDisruptionBudget":
            if ("minAvailable" in spec) == ("maxUnavailable" in spec):
                out.append(f"{where}: needs exactly one of minAvailable, maxUnavailable")
        elif kind == "HorizontalPodAutoscaler":
            keys(spec.get("scaleTargetRef"), SCALE_TARGET, where + " scaleTargetRef")
            lo, hi = spec.get("minReplicas", 1), spec.get("maxReplicas")
            if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
                out.append(f"{where}: minReplicas {lo!r} / maxReplicas {hi!r} out of order")
            for mi, m in enumerate(spec.get("metrics") or []):
                t = m.get("type") if isinstance(m, dict) else None
                if t not in ("Resource", "Pods", "Object", "External", "ContainerResource") or \
                        t[0].lower() + t[1:] not in m:
                    out.append(f"{where} metrics[{mi}]: type {t!r} without its block")
        elif kind == "ServiceMonitor":
            for ei, e in enumerate(spec.get("endpoints") or []):
                keys(e, SM_ENDPOINT, f"{where} endpoints[{ei}]")
        elif kind == "PrometheusRule":
            for gi, g in enumerate(spec.get("groups") or []):
                if not isinstance(g, dict) or "name" not in g or not isinstance(g.get("rules"), list):
                    out.append(f"{where} groups[{gi}]: needs a name and rules")
                    continue
                for ri, r in enumerate(g["rules"]):
                    if not isinstance(r, dict) or "expr" not in r or ("alert" in r) == ("record" in r):
                        out.append(f"{where} groups[{gi}].rules[{ri}]: needs expr and one of alert, record")

    # References between objects.
    if len(deployments) != 1:
        out.append(f"expected one Deployment, found {len(deployments)}")
        return out
    dwhere, dep = deployments[0]
    pod_labels = ((dep["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    container_ports = {p.get("name") for c in dep["spec"]["template"]["spec"].get("containers") or []
                       for p in c.get("ports") or [] if isinstance(p, dict)}
    for f, d in docs:
        kind, spec, name = d.get("kind"), d.get("spec") or {}, (d.get("metadata") or {}).get("name")
        where = f"{f}: {kind} {name}"
        if kind == "Service" and spec.get("clusterIP") != "None":
            if not selects(spec.get("selector"), pod_labels):
                out.append(f"{where}: selects no pod of {dwhere}")
            for p in spec.get("ports") or []:
                t = p.get("targetPort") if isinstance(p, dict) else None
                if isinstance(t, str) and t not in container_ports:
                    out.append(f"{where}: targetPort {t!r} is no named port of the ballast container")
        elif kind == "PodDisruptionBudget":
            if not selects(spec.get("selector"), pod_labels):
                out.append(f"{where}: selects no pod of {dwhere}")
        elif kind == "HorizontalPodAutoscaler":
            ref = spec.get("scaleTargetRef") or {}
            if (ref.get("apiVersion"), ref.get("kind"), ref.get("name")) != ("apps/v1", "Deployment",
                                                                             dep["metadata"]["name"]):
                out.append(f"{where}: scaleTargetRef {ref} is not {dwhere}")
    return out


def self_test(docs):
    """Breaks copies of `docs` one way at a time; each break must be reported.
    Returns the texts of breaks that went unnoticed (empty: the checker works)."""
    import copy

    def find(ds, kind, name=None):
        return next(d for _, d in ds if d["kind"] == kind and (name is None or d["metadata"]["name"] == name))

    def container(ds):
        return find(ds, "Deployment")["spec"]["template"]["spec"]["containers"][0]

    def rename(obj, old, new):
        obj[new] = obj.pop(old)

    breaks = [
        ("unknown apiVersion", lambda ds: find(ds, "Deployment").update(apiVersion="apps/v9")),
        ("unknown kind", lambda ds: find(ds, "PodDisruptionBudget").update(kind="PodDisruptionBudgit")),
        ("misspelt pod spec key", lambda ds: rename(find(ds, "Deployment")["spec"]["template"]["spec"],
                                                    "containers", "containerz")),
        ("misspelt container key", lambda ds: rename(container(ds), "readinessProbe", "readynessProbe")),
        ("container without image", lambda ds: container(ds).pop("image")),
        ("probe on a port that does not exist",
         lambda ds: container(ds)["readinessProbe"]["httpGet"].update(port="admn")),
        ("probe on a port number the container lacks",
         lambda ds: container(ds)["livenessProbe"]["httpGet"].update(port=9999)),
        ("invalid port name", lambda ds: container(ds)["ports"][0].update(name="Http_Port")),
        ("port out of range", lambda ds: container(ds)["ports"][0].update(containerPort=70000)),
        ("selector does not match the pod labels",
         lambda ds: find(ds, "Deployment")["spec"]["template"]["metadata"].update(labels={"app": "other"})),
        ("Service selecting no ballast pod",
         lambda ds: find(ds, "Service", "ballast")["spec"].update(selector={"app": "nothing"})),
        ("Service targetPort naming no container port",
         lambda ds: find(ds, "Service", "ballast")["spec"]["ports"][0].update(targetPort="web")),
        ("PDB with minAvailable and maxUnavailable",
         lambda ds: find(ds, "PodDisruptionBudget")["spec"].update(maxUnavailable=1)),
        ("HPA on another Deployment",
         lambda ds: find(ds, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"].update(name="other")),
        ("HPA min above max", lambda ds: find(ds, "HorizontalPodAutoscaler")["spec"].update(minReplicas=20)),
        ("volume mount without its volume",
         lambda ds: container(ds)["volumeMounts"][0].update(name="missing")),
        ("invalid object name", lambda ds: find(ds, "Service", "ballast")["metadata"].update(name="Ballast_LB")),
        ("ConfigMap value not a string",
         lambda ds: find(ds, "ConfigMap")["data"].update({"n": 1})),
        ("ServiceMonitor endpoint key misspelt",
         lambda ds: rename(find(ds, "ServiceMonitor")["spec"]["endpoints"][0], "interval", "intervall")),
        ("rule without expr",
         lambda ds: find(ds, "PrometheusRule")["spec"]["groups"][0]["rules"][0].pop("expr")),
    ]
    missed = []
    if check(docs):
        missed.append("the unmodified manifests are not clean: " + "; ".join(check(docs)))
    for what, brk in breaks:
        ds = copy.deepcopy(docs)
        brk(ds)
        if not check(ds):
            missed.append(what)
    return missed, len(breaks)
