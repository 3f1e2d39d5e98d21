#!/usr/bin/env python3
"""Checks that #include lines point one way (../shared/STYLE.md, README
"Architecture"): a file may include files of its own layer and of the
layers the table allows, nothing else.

usage: check_layers.py ROOT        check the tree at ROOT; exit 1 on a violation
       check_layers.py --self-test check that the checker catches violations
"""
import os
import re
import sys
import tempfile

# layer -> the layers it may include (besides itself)
BELOW_UPSTREAM = {"config", "base", "http", "stats", "tls"}
ALLOWED = {
    "config": set(),
    "base": set(),
    "http": {"base"},
    "stats": {"base"},
    "tls": {"config", "base", "stats"},
    "upstream": BELOW_UPSTREAM,
    "health": {"upstream"} | BELOW_UPSTREAM,
    "proxy": {"upstream"} | BELOW_UPSTREAM,
    "admin": {"proxy", "health", "upstream"} | BELOW_UPSTREAM,
    "notify": {"config", "base", "http", "stats", "tls"},
    "server": {"admin", "proxy", "health", "upstream", "notify"} | BELOW_UPSTREAM,
}
ROOTS = ("config", "health", "lb")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(path):
    """The layer of a repository-relative path, or None if it is in none."""
    parts = path.split("/")
    if parts[0] in ("config", "health"):
        return parts[0]
    if parts[0] == "lb" and len(parts) >= 3 and parts[1] in ALLOWED:
        return parts[1]
    return None


def check(root):
    problems = []
    checked = 0
    for top in ROOTS:
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith((".h", ".cc")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                layer = layer_of(rel)
                if layer is None:
                    problems.append(f"{rel}: not inside a layer folder (lb/<layer>/, config/, health/)")
                    continue
                checked += 1
                with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        target_layer = layer_of(target)
                        if target_layer is None:
                            if target.split("/")[0] in ROOTS:
                                problems.append(f"{rel}:{lineno}: includes \"{target}\", which is in no layer")
                            continue  # a system or third-party header
                        if target_layer != layer and target_layer not in ALLOWED[layer]:
                            allowed = ", ".join(sorted(ALLOWED[layer])) or "nothing of ours"
                            problems.append(f"{rel}:{lineno}: layer {layer} includes \"{target}\" "
                                            f"(layer {target_layer}); {layer} may include: {allowed}")
    return checked, problems


def self_test():
    with tempfile.TemporaryDirectory() as root:
        def write(path, text):
            os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(text)
        write("lb/base/a.h", '#include <uv.h>\n#include "lb/base/b.h"\n')
        write("lb/base/b.h", "")
        write("lb/proxy/p.cc", '#include "lb/upstream/u.h"\n#include "config/config.h"\n')
        write("lb/upstream/u.h", "")
        write("config/config.h", "")
        checked, problems = check(root)
        assert checked == 5 and not problems, problems
        write("lb/upstream/bad.cc", '#include "lb/proxy/p.h"\n')
        write("lb/base/bad.h", '#include "config/config.h"\n')
        write("lb/stray.cc", "")
        write("health/h.cc", '#include "lb/server/server.h"\n')
        write("lb/tls/t.cc", '#include "lb/http/http_message.h"\n')
        write("lb/proxy/uses_tls.cc", '#include "lb/tls/tls_session.h"\n')
        _, problems = check(root)
        text = "\n".join(problems)
        for expected in ("lb/upstream/bad.cc:1: layer upstream includes \"lb/proxy/p.h\"",
                         "lb/base/bad.h:1: layer base includes \"config/config.h\"",
                         "lb/stray.cc: not inside a layer folder",
                         "health/h.cc:1: layer health includes \"lb/server/server.h\"",
                         "lb/tls/t.cc:1: layer tls includes \"lb/http/http_message.h\""):
            assert expected in text, f"missing: {expected}\n{text}"
        assert len(problems) == 5, text
    print("check_layers self-test: OK")


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        self_test()
        return 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    checked, problems = check(sys.argv[1])
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) against the layer table", file=sys.stderr)
        return 1
    if checked == 0:
        print("no source files found: wrong ROOT?", file=sys.stderr)
        return 1
    print(f"{checked} files: every include points the allowed way")
    return 0


if __name__ == "__main__":
    sys.exit(main())
