"""Checks one trace in Zipkin: `trace_check.py ZIPKIN_URL TRACE_ID TIMEOUT_SECONDS`.

Polls Zipkin's API until the trace is complete or the time runs out (no fixed sleep), then asserts the
edges the README describes, written as edges between services:
  comms(app) SERVER  ->  comms(daprd) CLIENT  ->  greeter(daprd) SERVER  ->  greeter(app) SERVER
A span is a sidecar's when it carries Dapr's own attributes (dapr.api / dapr.protocol ...), an app's
otherwise. Every span shares the trace id, and only the root's parent is outside the trace (the
traceparent local-up sent). Prints what it found; exits 1 with the reason when an edge is missing.
"""

import json
import sys
import time
import urllib.error
import urllib.request


def fetch(base, trace_id):
    try:
        with urllib.request.urlopen(f"{base}/api/v2/trace/{trace_id}", timeout=5) as resp:
            return json.load(resp)
    except (urllib.error.URLError, OSError, ValueError):
        return []


def is_sidecar(span):
    return any(key.startswith("dapr.") for key in span.get("tags", {}))


def role(span):
    service = span.get("localEndpoint", {}).get("serviceName", "?")
    return f"{service}({'daprd' if is_sidecar(span) else 'app'})"


def problems(spans, trace_id):
    found = []
    by_id = {s["id"]: s for s in spans}
    if any(s.get("traceId") != trace_id for s in spans):
        found.append("a span has another trace id")
    orphans = [s for s in spans if s.get("parentId") not in by_id]
    if len(orphans) != 1:
        found.append(f"expected exactly one root, found {len(orphans)}: {[role(s) for s in orphans]}")
    edges = {(role(by_id[s["parentId"]]), s.get("kind"), role(s)) for s in spans if s.get("parentId") in by_id}
    wanted = [
        ("comms(app)", "comms(daprd)", "CLIENT"),
        ("comms(daprd)", "greeter(daprd)", "SERVER"),
        ("greeter(daprd)", "greeter(app)", "SERVER"),
    ]
    for parent, child, kind in wanted:
        if not any(e[0] == parent and e[2] == child and e[1] == kind for e in edges):
            found.append(f"no {parent} -> {child} {kind} edge")
    roots = [role(s) + " " + str(s.get("kind")) for s in orphans]
    if roots and roots != ["comms(app) SERVER"]:
        found.append(f"the root is {roots}, not the comms app's SERVER span")
    return found


def main():
    base, trace_id, timeout = sys.argv[1].rstrip("/"), sys.argv[2], float(sys.argv[3])
    deadline = time.monotonic() + timeout
    spans, found = [], ["no spans yet"]
    while time.monotonic() < deadline:
        spans = fetch(base, trace_id)
        found = problems(spans, trace_id) if spans else ["no spans yet"]
        if not found:
            break
        time.sleep(0.5)
    for s in sorted(spans, key=lambda s: s.get("timestamp", 0)):
        print(f"  {role(s):16} {s.get('kind', '-'):7} {s.get('name', '')}  id={s['id']} parent={s.get('parentId', '-')}")
    if found:
        print("trace incomplete: " + "; ".join(found))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
