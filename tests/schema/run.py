#!/usr/bin/python3
"""The profile schema (profiles/profile.schema.json) against the profile parser, in TAP.

  - the schema is a valid JSON Schema (draft 2020-12);
  - every stock, golden, example and test profile the parser accepts, the schema accepts too;
  - the schema has exactly the keys the parser accepts (build/helpers/profile-keys), each missing one named;
  - key by key, the schema and the parser give the same verdict on the same values: values of every JSON type (so
    the types agree), the schema's enums, defaults and examples, each integer bound and one past it (so the ranges
    agree), a nonsense string, and every value the parser's own refusal offers ('expected "kvm" or "tcg"': so a value
    the parser gains shows up as one the schema refuses).

The parser's verdict on a key is whether its error names that key (or a key inside it): build/helpers/profile-verdict
parses each probe in one process. A probe sets one key in a small valid profile; a few keys need another one set to be
accepted at all (CONTEXT below), which is the parser's rule across keys, not a disagreement.

Usage: tests/schema/run.py [BUILD]   (BUILD defaults to $BUILD or build; needs python3-jsonschema)
"""
import copy
import glob
import json
import os
import re
import subprocess
import sys

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.path.join(TOP, sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BUILD", "build"))
SCHEMA = os.path.join(TOP, "profiles", "profile.schema.json")

# The profile every probe starts from: valid, with a vGPU, so that the vgpu and display keys are in play.
BASE = {"memory": "1G", "accel": "tcg", "vgpu": {"type": "mdpy-vga"}, "disks": [{"file": "/var/lib/probe.img"}]}
# Keys the parser accepts only beside another key: what each probe of that key also sets.
CONTEXT = {
    "display.listen": {"display": {"type": "vnc"}},
    "display.rendernode": {"display": {"type": "egl-headless"}},
    # SPICE over TCP: the password file goes with a listen address.
    "display.password_file": {"display": {"type": "spice", "listen": "127.0.0.1:5930"}},
    "display.type": {"sandbox": {"spawn": "allow"}},  # spice-app needs it
    "vgpu.opregion": {"vgpu": {"type": "i915-GVTg_V5_4"}},  # Intel types only
    "sandbox.spawn": {"display": {"type": "gtk"}},
    # A key inside a list's first item needs that item; a forward's host and guest are required.
    **{f"net[].{k}": {"net": [{}]} for k in ("type", "model", "mac", "bridge", "tap", "forward")},
    **{f"net[].forward[].{k}": {"net": [{"forward": [{"host": 2222, "guest": 22}]}]}
       for k in ("proto", "address", "host", "guest")},
    "usb[].id": {"usb": [{}]},
    "usb[].port": {"usb": [{}]},
    "usb[].serial": {"usb": [{"id": "046d:c52b"}]},  # a serial goes with an id
    "audio": {"display": {"type": "spice-app"}, "sandbox": {"spawn": "allow"}},  # "spice" needs a SPICE display
    "boot.initrd": {"boot": {"kernel": "/boot/vmlinuz"}},  # the initrd and the command line go with a kernel
    "boot.cmdline": {"boot": {"kernel": "/boot/vmlinuz"}},
    "boot.order": {"cdrom": "/var/lib/probe.iso", "net": [{}]},  # each device in the order must be there
    # A share's path and tag are required.
    **{f"shares[].{k}": {"shares": [{"path": "/srv/probe", "tag": "probe"}]} for k in ("path", "tag", "readonly")},
}
NONSENSE = "vgpuvm-probe-nonsense"
GENERIC = [NONSENSE, "", 0, 1, -1, 7, 65536, 1.5, True, False, None, {}, [], ["x"], [1]]

try:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
except ImportError:
    print("1..1")
    print("not ok 1 - python3-jsonschema is not installed (scripts/deps.sh test)")
    sys.exit(1)

n = 0
failed = 0


def test(desc, problems):
    """One TAP line; problems (a list of strings) are the diagnostics, and fail the test when there are any."""
    global n, failed
    n += 1
    if problems:
        failed += 1
        print(f"not ok {n} - {desc}")
        for p in problems[:40]:
            print("# " + p)
        if len(problems) > 40:
            print(f"# ... and {len(problems) - 40} more")
    else:
        print(f"ok {n} - {desc}")


with open(SCHEMA) as f:
    schema = json.load(f)


def resolve(s):
    """A subschema with its local $ref followed."""
    while isinstance(s, dict) and "$ref" in s:
        ref = s["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref: {ref}")
        t = schema
        for part in ref[2:].split("/"):
            t = t[part]
        s = {**t, **{k: v for k, v in s.items() if k != "$ref"}}
    return s


def branches(s):
    """The alternatives of a subschema: itself, or each of its anyOf/oneOf, resolved."""
    s = resolve(s)
    alts = s.get("anyOf", s.get("oneOf"))
    return [resolve(a) for a in alts] if alts else [s]


def properties(s):
    """The properties an object subschema names, its alternatives' included."""
    s = resolve(s)
    out = dict(s.get("properties", {}))
    # An alternative may restate a key only to narrow it ("required": ["uuid"] with uuid not "auto"): the key's own
    # definition is the object's.
    for a in s.get("anyOf", []) + s.get("oneOf", []):
        for k, v in properties(a).items():
            out.setdefault(k, v)
    return out


def schema_keys(s, prefix=""):
    """{key path: subschema} for every key the schema names: "memory", "vgpu.xres", "disks[].file"."""
    out = {}
    for k, sub in properties(s).items():
        path = prefix + k
        out[path] = sub
        out.update(schema_keys(sub, path + "."))
        for a in branches(sub):
            if "items" in a:
                out.update(schema_keys(a["items"], path + "[]."))
    return out


def validator_for(sub):
    """A validator of one key's subschema, its $ref into the schema's $defs resolved."""
    return Draft202012Validator({"$defs": schema.get("$defs", {}), **sub})


def set_key(profile, path, value):
    """Sets a key path in a profile, "disks[]" meaning the first disk."""
    parts = path.replace("[]", ".[0]").split(".")
    o = profile
    for p in parts[:-1]:
        if p == "[0]":
            o = o[0]
            continue
        if not isinstance(o.get(p), (dict, list)):
            o[p] = {}
        o = o[p]
    o[parts[-1]] = value


def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = copy.deepcopy(v)
    return a


def parser_verdicts(profiles):
    """The parser's answer to each profile: None when it accepts it, else its message."""
    helper = os.path.join(BUILD, "helpers", "profile-verdict")
    text = "".join(json.dumps(p) + "\n" for p in profiles)
    out = subprocess.run([helper], input=text, capture_output=True, text=True, check=True).stdout.splitlines()
    if len(out) != len(profiles):
        raise RuntimeError(f"{helper}: {len(out)} answers for {len(profiles)} profiles")
    return [None if line == "ok" else line.removeprefix("error: ") for line in out]


def field_of(message):
    """The key a parser message names: "probe.json: vgpu.xres: ..." gives "vgpu.xres"; None for the whole file."""
    m = re.match(r"probe\.json: ([A-Za-z0-9_$.\[\]-]+): ", message or "")
    return m.group(1) if m else None


def names(field, key):
    """Whether the parser's field is the key, or inside it ("disks[0].file" for the key "disks[].file")."""
    if field is None:
        return False
    key = key.replace("[]", "[0]")
    return field == key or field.startswith(key + ".") or field.startswith(key + "[")


def quoted(message):
    """The values a refusal offers: the quoted words before ', got'."""
    head = message.split(", got", 1)[0] if message else ""
    return re.findall(r'"([^"]*)"', head)


def probes_for(sub):
    """The values to try on a key: generic ones of every type, and what the schema says of it."""
    vals = list(GENERIC)
    for b in branches(sub):
        for k in ("enum", "examples"):
            vals += b.get(k, [])
        for k in ("const", "default"):
            if k in b:
                vals.append(b[k])
        if "minimum" in b:
            vals += [b["minimum"] - 1, b["minimum"]]
        if "maximum" in b:
            vals += [b["maximum"], b["maximum"] + 1]
    for k in ("examples", "enum"):
        vals += resolve(sub).get(k, [])
    if "default" in resolve(sub):
        vals.append(resolve(sub)["default"])
    seen, out = set(), []
    for v in vals:
        key = json.dumps(v, sort_keys=True) + type(v).__name__
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def profile_with(key, value):
    p = merge(copy.deepcopy(BASE), CONTEXT.get(key, {}))
    set_key(p, key, value)
    return p


def compare(keys, probes):
    """Parser and schema verdicts on each (key, value); returns the disagreements and the parser's refusals."""
    cases = [(k, v) for k in keys for v in probes[k]]
    verdicts = parser_verdicts([profile_with(k, v) for k, v in cases])
    problems, refusals = [], {}
    for (k, v), msg in zip(cases, verdicts):
        parser_ok = not names(field_of(msg), k)
        schema_ok = validator_for(keys[k]).is_valid(v)
        if not parser_ok:
            refusals.setdefault(k, []).append((v, msg))
        if parser_ok != schema_ok:
            problems.append(f"{k} = {json.dumps(v)}: the parser {'accepts' if parser_ok else 'refuses'} it"
                            f"{'' if parser_ok else ' (' + msg + ')'}, the schema {'accepts' if schema_ok else 'refuses'} it")
    return problems, refusals


print("1..6")

problems = []
try:
    Draft202012Validator.check_schema(schema)
except SchemaError as e:
    problems.append(str(e).splitlines()[0])
if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
    problems.append("$schema is not draft 2020-12")
test("profiles/profile.schema.json is a valid JSON Schema, draft 2020-12", problems)

# Every profile in the tree that the parser accepts: stock, golden, examples, the test layers'.
files = sorted(glob.glob(os.path.join(TOP, "profiles/stock/*.json")) + glob.glob(os.path.join(TOP, "tests/golden/argv/*.json"))
               + glob.glob(os.path.join(TOP, "examples/*/*.json")) + glob.glob(os.path.join(TOP, "tests/e2e/profiles/*.json"))
               + glob.glob(os.path.join(TOP, "tests/bench/*.json")))
docs = []
for path in files:
    with open(path) as f:
        docs.append(json.load(f))
validator = Draft202012Validator(schema)
verdicts = parser_verdicts(docs)
problems, stock, accepted = [], 0, 0
for path, doc, msg in zip(files, docs, verdicts):
    rel = os.path.relpath(path, TOP)
    if msg is not None:
        if "/stock/" in rel:
            problems.append(f"{rel}: the parser refuses a stock profile: {msg}")
        continue
    accepted += 1
    stock += "/stock/" in rel
    for e in validator.iter_errors(doc):
        problems.append(f"{rel}: {'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}")
if stock < 4:
    problems.append(f"only {stock} stock profiles found")
test(f"the schema accepts each of the {accepted} profiles in the tree the parser accepts ({stock} stock)", problems)

keys = schema_keys(schema)
parser_keys = subprocess.run([os.path.join(BUILD, "helpers", "profile-keys")], capture_output=True, text=True,
                             check=True).stdout.split()
problems = [f"the schema lacks {k}, which the parser accepts" for k in parser_keys if k not in keys]
problems += [f"the schema has {k}, which the parser does not accept" for k in keys if k not in parser_keys]
if not parser_keys:
    problems.append("profile-keys printed no key")
test(f"the schema has the parser's {len(parser_keys)} keys, no more, no fewer", problems)

# The keys both know; a key only one side knows is the test above's failure, not these.
common = {k: v for k, v in keys.items() if k in parser_keys}
probes = {k: probes_for(v) for k, v in common.items()}
problems, refusals = compare(common, probes)
test(f"key by key, the parser and the schema agree on {sum(len(p) for p in probes.values())} values "
     "(types, enums, ranges, defaults, examples)", problems)

# What the parser offers in its refusals: each must be a value it and the schema accept.
offered = {}
for k, rs in refusals.items():
    for v, msg in rs:
        for word in quoted(msg):
            if word != v and word not in offered.get(k, []):
                offered.setdefault(k, []).append(word)
problems, _ = compare({k: common[k] for k in offered}, offered)
test(f"the values the parser's refusals offer ({sum(len(v) for v in offered.values())}, e.g. accel's "
     f"{', '.join(offered.get('accel', []))}) are ones both accept", problems)

# A "$schema" key is allowed, so that editors find the schema.
doc = {"$schema": "file:///usr/share/vgpuvm/profile.schema.json", "memory": "1G"}
problems = []
if parser_verdicts([doc])[0] is not None:
    problems.append("the parser refuses a profile with \"$schema\"")
if not validator.is_valid(doc):
    problems.append("the schema refuses a profile with \"$schema\"")
if validator.is_valid({"memory": "1G", "vgpu": {"xres": 1}}):
    problems.append("the schema accepts a vgpu without type or uuid, and xres without yres")
test("a profile may name its schema with \"$schema\"; the schema knows the vgpu's required keys", problems)

sys.exit(1 if failed else 0)
