#!/usr/bin/env python3
"""Checks the Grafana dashboard (run by `cargo xtask test`; usage: check_dashboard.py FILE).

- It is valid JSON with unique panel ids and a grid position for every panel.
- Every panel and query uses the `${datasource}` variable, never a hard-coded data source.
- Queries name only metrics the appliance exports (METRICS below, the names issue 7 fixed).
- Every query parses as PromQL (`promtool check rules`, when promtool is installed), with the
  Grafana variables replaced by plain values.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile

METRICS = {
    "parley_connected_clients",
    "parley_messages_accepted_total",
    "parley_messages_delivered_total",
    "parley_send_ack_duration_seconds",
    "parley_send_deliver_duration_seconds",
    "parley_db_commit_duration_seconds",
    "parley_http_request_duration_seconds",
    "parley_search_query_duration_seconds",
    "parley_http_requests_total",
    "parley_login_failures_total",
    "parley_rate_limited_total",
    "parley_backups_total",
    "parley_build_info",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_open_fds",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def fail(msg):
    print(f"{sys.argv[1]}: {msg}", file=sys.stderr)
    sys.exit(1)


def metric_names(expr):
    for name in re.findall(r"\b((?:parley|process)_[a-z0-9_]+)", expr):
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix) and name[: -len(suffix)] in METRICS:
                name = name[: -len(suffix)]
        yield name


def main():
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            dash = json.load(f)
    except ValueError as e:
        fail(f"not valid JSON: {e}")

    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        fail("needs a `datasource` variable of type datasource for prometheus")

    panels = []
    for p in dash["panels"]:
        panels.append(p)
        panels.extend(p.get("panels", []))
    ids = [p["id"] for p in panels]
    if len(ids) != len(set(ids)):
        fail("panel ids are not unique")

    exprs = []
    used = set()
    for p in panels:
        if "gridPos" not in p:
            fail(f"panel {p['title']!r} has no gridPos")
        if p["type"] == "row":
            continue
        sources = [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]
        if any(s is None or s.get("uid") != "${datasource}" for s in sources):
            fail(f"panel {p['title']!r} does not use the ${{datasource}} variable")
        if not p.get("targets"):
            fail(f"panel {p['title']!r} has no query")
        for t in p["targets"]:
            for name in metric_names(t["expr"]):
                if name not in METRICS:
                    fail(f"panel {p['title']!r} queries {name}, which parley does not export")
                used.add(name)
            exprs.append(t["expr"])
    unused = METRICS - used
    if unused:
        fail(f"no panel shows {', '.join(sorted(unused))}")

    promtool = shutil.which("promtool")
    if promtool:
        with tempfile.NamedTemporaryFile("w", suffix=".json") as rules:
            plain = [
                e.replace("$__rate_interval", "5m").replace("$job", ".*").replace("$instance", ".*")
                for e in exprs
            ]
            # promtool reads YAML, and JSON is YAML.
            group = {"name": "dashboard", "rules": [{"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(plain)]}
            json.dump({"groups": [group]}, rules)
            rules.flush()
            out = subprocess.run([promtool, "check", "rules", rules.name], capture_output=True, text=True, timeout=60)
            if out.returncode != 0:
                fail(f"a query is not valid PromQL:\n{out.stdout}{out.stderr}")
        parsed = "all parse as PromQL"
    else:
        parsed = "PromQL not checked (no promtool)"
    print(f"Grafana dashboard: {len(panels)} panels, {len(exprs)} queries over {len(used)} metrics, {parsed}")


if __name__ == "__main__":
    main()
