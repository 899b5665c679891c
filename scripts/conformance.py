#!/usr/bin/env python3
"""Check the requests a client sent to the staging site against Atlassian's published
OpenAPI documents, and count them per endpoint.

The staging site writes one JSON line per request it answered when started with
`ferry staging serve --journal FILE` (the demo: `ferry demo --journal FILE`); requests
to the stand-in cloud apps it also plays (`/apps/…`, the vendors' endpoints) are counted
apart, as they are not the site's API. Give this
script that file and the folder holding Atlassian's documents (confluence_v2.json,
confluence.json, jira_platform.json, service_management.json,
admin_user_provisioning.json):

    scripts/conformance.py JOURNAL OPENAPI_DIR [--json]

A request conforms when its path matches a documented path template of the right API,
the method is documented there, every query parameter is a documented one (with a value
the parameter's list allows, where it has one), its headers add none the API does not
know (an Idempotency-Key, say), and its JSON or multipart body names only documented
fields (recursively, through $ref, allOf, oneOf and anyOf) with every required one
present, each of the documented JSON type and, where the field lists its values, one of
them. The documents are not part of Ferry: nothing in the
project depends on them, and this script only reads them.
"""

import argparse
import json
import re
import signal
import sys
from collections import Counter, defaultdict
from pathlib import Path

# Which document describes which path prefix, and the prefix its paths leave out.
APIS = [
    ("/wiki/api/v2", "confluence_v2.json", "/wiki/api/v2"),
    ("/wiki/rest/api", "confluence.json", ""),
    ("/rest/servicedeskapi", "service_management.json", ""),
    ("/rest/api/3", "jira_platform.json", ""),
    ("/scim/directory/", "admin_user_provisioning.json", ""),
]
# Headers any HTTP client sends, and the ones the APIs document in general.
ORDINARY_HEADERS = {
    "accept", "accept-encoding", "authorization", "content-length", "content-type", "host", "user-agent",
    "connection", "transfer-encoding", "x-atlassian-token", "x-experimentalapi", "x-exceptionhandling",
}


def load(folder):
    docs = {}
    for _, name, _ in APIS:
        with open(Path(folder) / name) as f:
            doc = json.load(f)
        templates = []
        for template, item in doc["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            templates.append((template, re.compile(pattern), item))
        # More literal segments first: /pages/{id}/versions before /pages/{id}.
        templates.sort(key=lambda t: (-t[0].count("/"), t[0].count("{")))
        docs[name] = (doc, templates)
    return docs


def resolve(doc, schema, seen=None):
    seen = seen or set()
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if ref in seen:
            return {}
        seen = seen | {ref}
        node = doc
        for part in ref.lstrip("#/").split("/"):
            node = node.get(part, {})
        schema = node
    return schema or {}


def fields_of(doc, schema, depth=0):
    """The properties a schema allows (None: any), and the required ones."""
    schema = resolve(doc, schema)
    props, required, any_allowed = {}, set(), False
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key, []):
            p, r, a = fields_of(doc, sub, depth + 1)
            if p is None or a:
                any_allowed = True
            else:
                props.update(p)
            if key == "allOf":
                required |= r
    props.update(schema.get("properties", {}))
    required |= set(schema.get("required", []))
    extra = schema.get("additionalProperties")
    if extra not in (None, False) or (not props and not any(k in schema for k in ("allOf", "oneOf", "anyOf"))):
        any_allowed = True
    return props, required, any_allowed


JSON_TYPES = {"string": str, "boolean": bool, "object": dict, "array": list}


def type_problem(schema, value, where):
    """A value of another JSON type than the schema's (an id sent as a number where the
    API has a string, say)."""
    kind = schema.get("type")
    if kind is None or value is None:
        return None
    if kind in ("integer", "number"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (kind == "number" or float(value).is_integer())
    else:
        ok = isinstance(value, JSON_TYPES.get(kind, object))
    if ok:
        return None
    found = type(value).__name__.replace("str", "string").replace("int", "number").replace("dict", "object").replace("list", "array")
    return f"body field {where.rstrip('.') or '(body)'} is a {found} where the API has a {kind}"


def any_json(schema):
    """A schema generated from Jackson's JsonNode: it stands for any JSON value (the
    SCIM API's PATCH `value`, whose documented example is an array of members)."""
    return schema.get("title") == "Json node" or {"nodeType", "containerNode", "valueNode"} <= set(schema.get("properties", {}))


def check_body(doc, schema, body, where, problems, depth=0, fold=False):
    """`fold`: attribute names are case-insensitive (SCIM, RFC 7643 section 2.1)."""
    if depth > 6 or body is None:
        return
    schema = resolve(doc, schema)
    if any_json(schema):
        return
    wrong = type_problem(schema, body, where)
    if wrong:
        problems.append(wrong)
        return
    if isinstance(body, str) and schema.get("enum") and body not in schema["enum"]:
        problems.append(f"body field {where.rstrip('.') or '(body)'} is {body!r}, which the API does not take (it takes {', '.join(map(str, schema['enum']))})")
        return
    if isinstance(body, list):
        items = schema.get("items")
        if items is not None:
            for value in body[:5]:
                check_body(doc, items, value, where + "[]", problems, depth + 1, fold)
        return
    if not isinstance(body, dict):
        return
    props, required, any_allowed = fields_of(doc, schema)
    if props is None:
        return
    name = (lambda k: k.lower()) if fold else (lambda k: k)
    props = {name(k): v for k, v in props.items()}
    sent = {name(k) for k in body}
    for key, value in body.items():
        if name(key) not in props:
            if not any_allowed:
                problems.append(f"body field {where}{key} is not in the API")
            continue
        check_body(doc, props[name(key)], value, f"{where}{key}.", problems, depth + 1, fold)
    for key in sorted(required):
        if name(key) not in sent:
            problems.append(f"body field {where}{key} is required")


def check(entry, docs):
    path = entry["path"]
    gateway = re.match(r"^/ex/(confluence|jira)/[^/]+(/.*)$", path)
    if gateway:
        path = gateway.group(2)
    for prefix, name, strip in APIS:
        if path.startswith(prefix):
            break
    else:
        return path, ["not a path of any public API"]
    doc, templates = docs[name]
    rel = path[len(strip):] if strip else path
    for template, pattern, item in templates:
        if pattern.match(rel):
            break
    else:
        return path, [f"no such path in {name}"]
    endpoint = f"{entry['method']} {strip}{template}"
    op = item.get(entry["method"].lower())
    if op is None:
        return endpoint, [f"{entry['method']} is not documented for {template}"]
    problems = []
    params = [resolve(doc, p) for p in item.get("parameters", []) + op.get("parameters", [])]
    query = {p["name"] for p in params if p.get("in") == "query"}
    headers = {p["name"].lower() for p in params if p.get("in") == "header"}
    for key in sorted({k for k, _ in entry.get("query", [])}):
        if key not in query:
            problems.append(f"query parameter {key} is not in the API")
    # A query value the parameter's schema lists no such value for.
    allowed = {p["name"]: resolve(doc, p.get("schema", {})) for p in params if p.get("in") == "query"}
    for key, value in entry.get("query", []):
        values = allowed.get(key, {}).get("enum")
        if values and value not in [str(v).lower() if isinstance(v, bool) else str(v) for v in values]:
            problems.append(f"query parameter {key}={value} is not one the API takes ({', '.join(map(str, values))})")
    for header in entry.get("headers", []):
        if header not in ORDINARY_HEADERS and header not in headers:
            problems.append(f"header {header} is not in the API")
    content = resolve(doc, op.get("requestBody", {})).get("content", {})
    if entry.get("body") is not None:
        schema = next((c.get("schema") for t, c in content.items() if "json" in t), None)
        if schema is None:
            problems.append("a JSON body where the API takes none")
        else:
            check_body(doc, schema, entry["body"], "", problems, fold=path.startswith("/scim/"))
    if entry.get("parts"):
        schema = next((c.get("schema") for t, c in content.items() if "multipart" in t), None)
        if schema is None:
            problems.append("a multipart body where the API takes none")
        else:
            props, required, any_allowed = fields_of(doc, schema)
            for part in entry["parts"]:
                if props is not None and part not in props and not any_allowed:
                    problems.append(f"multipart part {part} is not in the API")
            for part in sorted(required):
                if part not in entry["parts"]:
                    problems.append(f"multipart part {part} is required")
    if entry.get("sign_in") == "bearer" and not gateway and not path.startswith("/scim/"):
        problems.append("a Bearer token on the site's URL (an API token takes Basic there)")
    if op.get("deprecated"):
        DEPRECATED.add(endpoint)
    return endpoint, problems


# Endpoints the documents mark deprecated: they conform, and are listed apart (a site may
# stop answering them).
DEPRECATED = set()


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journal")
    parser.add_argument("openapi_dir")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    docs = load(args.openapi_dir)
    per_endpoint = Counter()
    bad_endpoint = Counter()
    reasons = defaultdict(Counter)
    total = conforming = app_transfers = 0
    with open(args.journal) as f:
        for line in f:
            if not line.strip():
                continue
            entry = json.loads(line)
            if entry["path"].startswith("/ferry/v1/review") or entry["path"].startswith("/ferry/v1/admin"):
                continue  # the staging site's own test and admin endpoints: not the migrator's
            if entry["path"].startswith("/apps/"):
                # App transfers to the stand-in cloud apps the staging site also plays:
                # vendors' endpoints (docs/cloud-app-guide.md), not the site's API.
                app_transfers += 1
                continue
            total += 1
            endpoint, problems = check(entry, docs)
            per_endpoint[endpoint] += 1
            if problems:
                bad_endpoint[endpoint] += 1
                for p in problems:
                    reasons[endpoint][p] += 1
            else:
                conforming += 1
    share = 100.0 * conforming / total if total else 0.0
    if args.json:
        out = {
            "requests": total,
            "conforming": conforming,
            "app_transfer_requests": app_transfers,
            "endpoints": [
                {"endpoint": e, "requests": n, "not_conforming": bad_endpoint[e], "deprecated": e in DEPRECATED, "reasons": dict(reasons[e])}
                for e, n in per_endpoint.most_common()
            ],
        }
        json.dump(out, sys.stdout, indent=2)
        print()
        return
    print(f"{conforming} of {total} requests conform ({share:.0f} %)")
    if app_transfers:
        print(f"(and {app_transfers} requests to the apps' cloud halves, not the site's API: not counted)")
    if DEPRECATED:
        print(f"deprecated endpoints used: {len(DEPRECATED)} (marked dep)")
    for endpoint, n in per_endpoint.most_common():
        mark = ("ok " if endpoint not in DEPRECATED else "dep") if not bad_endpoint[endpoint] else "NO "
        print(f"{mark}{n:6d}  {endpoint}")
        for reason, k in reasons[endpoint].most_common(4):
            print(f"            {k:6d}  {reason}")


if __name__ == "__main__":
    main()
