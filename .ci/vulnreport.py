#!/usr/bin/python3
"""Reads govulncheck -format json on stdin and prints the vulnerabilities
vtest's code reaches (symbol level). Exits 1 when one is in a module
(a dependency go.mod chooses); one in the standard library is printed with
the Go release that fixes it but does not fail: the Go that builds vtest is
the machine's choice, not the module's."""
import json
import sys

data = sys.stdin.read()
dec = json.JSONDecoder()
i, osv, found = 0, {}, {}
while True:
    while i < len(data) and data[i].isspace():
        i += 1
    if i >= len(data):
        break
    obj, i = dec.raw_decode(data, i)
    if "osv" in obj:
        osv[obj["osv"]["id"]] = obj["osv"]
    f = obj.get("finding")
    if f and f.get("trace") and f["trace"][0].get("function"):
        found.setdefault(f["osv"], (f["trace"][0].get("module", "?"), f.get("fixed_version", "none")))
mods = {k: v for k, v in found.items() if v[0] != "stdlib"}
std = {k: v for k, v in found.items() if v[0] == "stdlib"}
for k, (mod, fixed) in sorted(found.items()):
    print(f"  {k} in {mod} (fixed in {fixed}): {osv.get(k, {}).get('summary', '')}")
if std:
    print(f"vuln: {len(std)} reachable in the standard library of this Go: build with the Go release that fixes them")
if mods:
    print(f"vuln: {len(mods)} reachable in dependencies: raise them in go.mod")
    sys.exit(1)
print("vuln: no reachable vulnerability in vtest's dependencies")
