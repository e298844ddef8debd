#!/usr/bin/env python3
"""The benchmark: the service against ceilings measured in the same run.

Run through `bash tests/bench/run.sh` (it builds the release binary and
installs wrk). Everything runs on a PostgreSQL cluster of its own, kept
under target/bench so that a second run reuses the generated data.

Prints one table and writes it to target/bench/results.{json,md}.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LMS = ROOT / "target" / "release" / "lms"
OUT = ROOT / "target" / "bench"
BASE = "bench.test"
PASSWORD = "generated-password"
SCALES = {
    "full": dict(tenants=1000, users=100_000, courses=20_000, progress=5_000_000),
    "quick": dict(tenants=100, users=10_000, courses=2_000, progress=500_000),
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin():
    for cand in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (cand / "postgres").exists():
            return cand
    sys.exit("no PostgreSQL binaries under /usr/lib/postgresql")


class Cluster:
    """A PostgreSQL cluster of the benchmark's own, run as `postgres` when root."""

    def __init__(self, folder: Path):
        self.bin = pg_bin()
        self.dir = folder
        self.log = folder.parent / (folder.name + ".log")
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def run(self, *cmd, **kw):
        if self.as_postgres:
            cmd = ("runuser", "-u", "postgres", "--") + cmd
        return subprocess.run(cmd, check=True, **kw)

    def start(self):
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            shutil.chown(self.dir.parent, "postgres")
        if not (self.dir / "PG_VERSION").exists():
            self.run(str(self.bin / "initdb"), "-D", str(self.dir), "-U", "postgres",
                     "--auth=trust", "-E", "UTF8", stdout=subprocess.DEVNULL)
        opts = (f"-p {self.port} -h 127.0.0.1 -k /tmp -c max_connections=200 "
                "-c shared_buffers=1GB -c work_mem=16MB -c synchronous_commit=off "
                "-c shared_preload_libraries=pg_stat_statements "
                "-c log_line_prefix='%m [%p] %u@%d ' -c log_parameter_max_length=-1")
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-l", str(self.log),
                 "-o", opts, "-w", "start", stdout=subprocess.DEVNULL)

    def stop(self):
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", "fast", "stop",
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def url(self, db="lms", user="postgres"):
        return f"postgres://{user}@127.0.0.1:{self.port}/{db}"

    def psql(self, sql, db="lms", user="postgres"):
        out = subprocess.run([str(self.bin / "psql"), "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1",
                              self.url(db, user), "-c", sql],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()


def ensure_data(cluster, db, scale, seed):
    """Generates `scale` into `db` once; a later run with the same scale reuses it."""
    marker = json.dumps({"scale": scale, "seed": seed}, sort_keys=True)
    exists = cluster.psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'", db="postgres")
    if exists:
        try:
            if cluster.psql("SELECT marker FROM bench_marker", db=db) == marker:
                log(f"reusing the data in {db}")
                return
        except subprocess.CalledProcessError:
            pass
        cluster.psql(f"DROP DATABASE {db} WITH (FORCE)", db="postgres")
    cluster.psql(f"CREATE DATABASE {db}", db="postgres")
    env = dict(os.environ, DATABASE_URL=cluster.url(db))
    log(f"generating {scale} into {db} …")
    t = time.time()
    subprocess.run([str(LMS), "generate", "--seed", str(seed),
                    *[a for k, v in scale.items() for a in (f"--{k}", str(v))]],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    log(f"generated in {time.time() - t:.0f} s")
    cluster.psql("VACUUM ANALYZE", db=db)
    cluster.psql(f"CREATE TABLE bench_marker AS SELECT '{marker}'::text AS marker", db=db)


class Server:
    def __init__(self, args, env, port, probe="/healthz"):
        self.port = port
        self.log = open(OUT / f"server-{port}.log", "w")
        self.proc = subprocess.Popen([str(LMS), *args], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=1)
                return
            except Exception:
                time.sleep(0.1)
        sys.exit(f"{args} did not start: see {self.log.name}")

    def peak_rss_mb(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def serve(cluster, db, port, cache_bytes):
    env = dict(os.environ, DATABASE_URL=cluster.url(db), LMS_LISTEN=f"127.0.0.1:{port}",
               LMS_BASE_DOMAIN=BASE, LMS_JWT_SECRET="bench-secret-bench-secret-bench-secret!",
               LMS_CATALOG_CACHE_BYTES=str(cache_bytes), LMS_LOG_FORMAT="json",
               LMS_LOGIN_ATTEMPTS_PER_CLIENT="1000000", LMS_LOGIN_FAILURES_PER_ADDRESS="1000000")
    # The default log filter: one JSON access line per request, as deployed.
    env.pop("RUST_LOG", None)
    env.pop("LMS_DATA_DIR", None)
    return Server(["serve"], env, port)


def request(port, method, host, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Host", host)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read(), dict(r.headers)


def answers(port, requests):
    """How many of `requests` get each answer (status, and the error code of
    a refusal), each sent once."""
    seen = {}
    for r in requests:
        try:
            status, _, _ = request(port, *r)
            key = str(status)
        except urllib.error.HTTPError as e:
            try:
                key = f"{e.code} {json.loads(e.read())['code']}"
            except Exception:
                key = str(e.code)
        seen[key] = seen.get(key, 0) + 1
    return seen


def lua_list(requests, once=False):
    """A wrk script sending `requests` (method, host, path, token, body) at
    random, or each once in turn (`once`: the two threads take alternate ones)."""
    def q(s):
        return json.dumps(s)
    rows = ",\n".join(
        "{" + ", ".join([q(m), q(h), q(p), q(t or ""), q(json.dumps(b) if b is not None else "")]) + "}"
        for m, h, p, t, b in requests)
    return f"""
local reqs = {{
{rows}
}}
math.randomseed(os.time() + (tonumber(tostring({{}}):sub(8), 16) or 0))
local once = {"true" if once else "false"}
local counter = 0
local threads = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
request = function()
  local r
  if once then
    r = reqs[((counter * 2 + (offset or 0)) % #reqs) + 1]
    counter = counter + 1
  else
    r = reqs[math.random(#reqs)]
  end
  local headers = {{ ["Host"] = r[2] }}
  if r[4] ~= "" then headers["Authorization"] = "Bearer " .. r[4] end
  local body = nil
  if r[5] ~= "" then body = r[5]; headers["Content-Type"] = "application/json" end
  return wrk.format(r[1], r[3], headers, body)
end
"""


def wrk(port, requests, seconds, connections, once=False):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua_list(requests, once))
        script = f.name
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script,
                          f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\b", out)
        if not m:
            return None
        v = float(m.group(1))
        return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": ms("50"), "p99_ms": ms("99"), "errors": int(bad.group(1)) if bad else 0}


def pgbench(cluster, db, user, script, mode, seconds, connections):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
        path = f.name
    os.chmod(path, 0o644)
    out = subprocess.run([str(cluster.bin / "pgbench"), "-n", "-M", mode, "-c", str(connections), "-j", "2",
                          "-T", str(seconds), "-f", path, cluster.url(db, user)],
                         capture_output=True, text=True)
    os.unlink(path)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))


def capture(cluster, db, port, method, host, path, token, body=None):
    """The statements one request sends, with their parameter values, read off
    the server log (every statement of `lms_app` is logged while capturing)."""
    cluster.psql("ALTER SYSTEM SET log_min_duration_statement = 0", db=db)
    cluster.psql("SELECT pg_reload_conf()", db=db)
    time.sleep(0.5)
    start = cluster.log.stat().st_size
    request(port, method, host, path, token, body)
    time.sleep(0.5)
    with open(cluster.log, "rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    cluster.psql("ALTER SYSTEM RESET log_min_duration_statement", db=db)
    cluster.psql("SELECT pg_reload_conf()", db=db)
    time.sleep(0.5)
    return parse_log(text)


def parse_log(text):
    statements = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.search(r"lms_app@\S+ LOG:\s+duration: [\d.]+ ms\s+(statement|execute [^:]*): (.*)", line)
        i += 1
        if not m:
            continue
        sql = m.group(2)
        while i < len(lines) and lines[i].startswith(("\t", " ")) and "LOG:" not in lines[i]:
            sql += " " + lines[i].strip()
            i += 1
        params = {}
        if i < len(lines) and "DETAIL:  parameters:" in lines[i]:
            for n, v in re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", lines[i]):
                params[int(n)] = v
            i += 1
        for n in sorted(params, reverse=True):
            sql = re.sub(rf"\${n}(?!\d)", lambda _m, v=params[n]: v, sql)
        statements.append(sql)
    return statements


def script(statements):
    """The captured request as a pgbench script, one statement per command:
    its `BEGIN; set_config(…)` (one round trip from the service) as two, since
    pgbench cannot prepare a compound statement."""
    lines = []
    for s in statements:
        if s.upper().startswith("BEGIN;"):
            lines += ["BEGIN;", s[len("BEGIN;"):].strip().rstrip(";") + ";"]
        else:
            lines.append(s.rstrip(";") + ";")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a tenth of the data, shorter runs")
    ap.add_argument("--seconds", type=int, default=None)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    scale = SCALES["quick" if args.quick else "full"]
    secs = args.seconds or (5 if args.quick else 10)
    conns = args.connections
    OUT.mkdir(parents=True, exist_ok=True)
    # Where the `postgres` user can reach it when run as root.
    home = Path("/var/tmp/tenantry-lms-bench") if os.geteuid() == 0 else OUT
    cluster = Cluster(home / ("pg-quick" if args.quick else "pg-full"))
    cluster.start()
    servers = []
    try:
        run(cluster, scale, secs, conns, args.seed, servers, args.quick)
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception:
                s.proc.kill()
        cluster.stop()


def run(cluster, scale, secs, conns, seed, servers, quick):
    random.seed(seed)
    ensure_data(cluster, "lms", scale, seed)
    # The same first ten tenants, alone: the tenant-scaling comparison.
    weights = [1 / (i + 1) ** 1.1 for i in range(scale["tenants"])]
    share = sum(weights[:10]) / sum(weights)
    small = {k: (10 if k == "tenants" else round(v * share)) for k, v in scale.items()}
    ensure_data(cluster, "lms_small", small, seed)
    # Ten times the tenants, the first ones of the same size: the added
    # tenants are the long tail (about a fifth more rows in all).
    many = 10 * scale["tenants"]
    grown = sum(1 / (i + 1) ** 1.1 for i in range(many)) / sum(weights)
    huge = {k: (many if k == "tenants" else round(v * grown)) for k, v in scale.items()}
    ensure_data(cluster, "lms_huge", huge, seed)

    cached = serve(cluster, "lms", free_port(), 256 << 20)
    uncached = serve(cluster, "lms", free_port(), 0)
    servers += [cached, uncached]
    # The ceilings log as the service does (one JSON access line per
    # request through its own stack).
    ceiling = Server(["ceiling", "--listen", f"127.0.0.1:{(cp := free_port())}"],
                     dict(os.environ, LMS_LOG_FORMAT="json"), cp, "/bytes/2")
    servers.append(ceiling)
    ceiling.port = cp

    # Tenants drawn at random across the dataset, one learner each.
    n = scale["tenants"]
    slugs = [f"t{i:04d}" for i in sorted(random.sample(range(1, n + 1), min(40, n)))]
    if "t0001" not in slugs:
        slugs[0] = "t0001"
    sample = []
    for slug in slugs:
        host = f"{slug}.{BASE}"
        _, body, _ = request(cached.port, "POST", host, "/api/v1/auth/token", body={
            "email": f"learner0@{slug}.example.com", "password": PASSWORD})
        token = json.loads(body)["access_token"]
        rows = cluster.psql(
            "SELECT c.id, COALESCE(e.status::text, ''), (SELECT count(*) FROM lessons l JOIN sections s "
            "ON s.organization_id = l.organization_id AND s.lesson_id = l.id "
            "WHERE l.organization_id = c.organization_id AND l.course_id = c.id) "
            "FROM courses c JOIN organizations o ON o.id = c.organization_id "
            "JOIN users u ON u.organization_id = o.id AND u.email = 'learner0@' || o.slug || '.example.com' "
            "LEFT JOIN enrollments e ON e.organization_id = c.organization_id AND e.user_id = u.id AND e.course_id = c.id "
            f"WHERE o.slug = '{slug}' AND c.is_published").splitlines()
        # (course, enrolled and active, sections, not enrolled at all)
        courses = [(r.split("|")[0], r.split("|")[1] == "ACTIVE", int(r.split("|")[2]), r.split("|")[1] == "")
                   for r in rows]
        sample.append({"slug": slug, "host": host, "token": token, "courses": courses})
    big = sample[0] if sample[0]["slug"] == "t0001" else next(s for s in sample if s["slug"] == "t0001")
    large = max(big["courses"], key=lambda c: c[2])
    small_course = min(big["courses"], key=lambda c: c[2])
    enrolled = [(s, c) for s in sample for c in s["courses"] if c[1]]
    sections = []
    for s, c in enrolled[:200]:
        ids = cluster.psql(
            "SELECT s.id FROM lessons l JOIN sections s ON s.organization_id = l.organization_id "
            f"AND s.lesson_id = l.id WHERE l.course_id = '{c[0]}' ORDER BY l.position, s.position LIMIT 1")
        if ids:
            sections.append((s, c[0], ids))

    def get(s, path):
        return ("GET", s["host"], path, s["token"], None)

    scenarios = {
        "catalog list": [get(s, "/api/v1/courses") for s in sample],
        "course detail, large": [get(big, f"/api/v1/courses/{large[0]}")],
        "course detail, small": [get(big, f"/api/v1/courses/{small_course[0]}")],
        "course detail, random": [get(s, f"/api/v1/courses/{c[0]}") for s in sample for c in s["courses"][:20]],
    }
    results = {"scale": scale, "seconds": secs, "connections": conns, "rows": []}

    def record(name, res, **extra):
        res.update(extra)
        res["name"] = name
        results["rows"].append(res)
        log(f"{name:45s} {res['rps']:>10.0f} req/s  p50 {res.get('p50_ms') or 0:.2f} ms  "
            + " ".join(f"{k}={v}" for k, v in extra.items()))

    record("GET /healthz", wrk(cached.port, [("GET", "x", "/healthz", None, None)], secs, conns))

    # Cached reads against a static body of the same size.
    for name, reqs in scenarios.items():
        sizes = []
        for r in reqs:
            request(cached.port, *r)  # warm
            _, body, _ = request(cached.port, *r)
            sizes.append(len(body))
        size = round(sum(sizes) / len(sizes))
        static = wrk(ceiling.port, [("GET", "x", f"/bytes/{size}", None, None)], secs, conns)
        record(f"static body of {size} B", static)
        # The same body behind the service's per-request stack (request id,
        # time limit, headers, access line): what is left is the read itself.
        scoped = wrk(ceiling.port, [("GET", "x", f"/api/bytes/{size}", None, None)], secs, conns)
        record(f"static body of {size} B, service stack", scoped)
        res = wrk(cached.port, reqs, secs, conns)
        record(f"cached {name}", res, bytes=size, ratio_to_static=round(res["rps"] / static["rps"], 3),
               ratio_to_stack=round(res["rps"] / scoped["rps"], 3))

    # Uncached reads against pgbench running their own statements.
    uncached_cases = {
        "course detail, large": get(big, f"/api/v1/courses/{large[0]}"),
        "course detail, small": get(big, f"/api/v1/courses/{small_course[0]}"),
        "catalog list": get(big, "/api/v1/courses"),
    }
    if enrolled:
        s, c = enrolled[0]
        uncached_cases["course with my progress"] = get(s, f"/api/v1/courses/{c[0]}/my-progress")
        uncached_cases["dashboard"] = get(s, "/api/v1/me/dashboard")
    for name, r in uncached_cases.items():
        request(uncached.port, *r)
        request(uncached.port, *r)
        statements = capture(cluster, "lms", uncached.port, *r)
        sql = script(statements)
        (OUT / f"{re.sub(r'[^a-z]+', '-', name)}.sql").write_text(sql)
        res = wrk(uncached.port, [r], secs, conns)
        prepared = pgbench(cluster, "lms", "lms_app", sql, "prepared", secs, conns)
        simple = pgbench(cluster, "lms", "lms_app", sql, "simple", secs, conns)
        record(f"uncached {name}", res, statements=len(statements),
               pgbench_prepared_tps=prepared, pgbench_naive_tps=simple,
               ratio_to_prepared=round(res["rps"] / prepared, 3), ratio_to_naive=round(res["rps"] / simple, 3))
        # RLS cost: the endpoint's main query with the tenant set, as lms_app
        # and as a role that bypasses RLS (the query keeps its own filter).
        main = max((st for st in statements if not st.upper().startswith(("BEGIN", "COMMIT"))), key=len)
        setting = next((st[len("BEGIN;"):].strip() for st in statements if st.upper().startswith("BEGIN;")), "")
        one = f"BEGIN;\n{setting.rstrip(';')};\n{main.rstrip(';')};\nCOMMIT;\n"
        with_rls = pgbench(cluster, "lms", "lms_app", one, "prepared", secs, conns)
        without = pgbench(cluster, "lms", "postgres", one, "prepared", secs, conns)
        results["rows"].append({"name": f"RLS cost, {name}", "lms_app_tps": with_rls, "bypass_tps": without,
                                "cost": round(1 - with_rls / without, 3)})
        log(f"RLS cost, {name}: {with_rls:.0f} vs {without:.0f} TPS → {1 - with_rls / without:.1%}")

    # Learner-specific and write paths.
    if sections:
        writes = [("PUT", s["host"], f"/api/v1/courses/{c}/sections/{sec}/progress", s["token"], {"time_spent_seconds": 30})
                  for s, c, sec in sections]
        res = wrk(cached.port, writes, secs, conns)
        # What the refused writes were: each write once more, by its answer.
        res["answers"] = answers(cached.port, writes)
        record("record progress", res)
    # Enrollments: each (learner, course) pair once, none enrolled before.
    # Ten learners of each of the five largest tenants, with every
    # published course none of them has an enrollment in.
    pairs = []
    for i in range(1, 6):
        slug = f"t{i:04d}"
        host = f"{slug}.{BASE}"
        for n in range(10):
            email = f"learner{n}@{slug}.example.com"
            _, body, _ = request(cached.port, "POST", host, "/api/v1/auth/token",
                                 body={"email": email, "password": PASSWORD})
            tok = json.loads(body)["access_token"]
            for cid in cluster.psql(
                    "SELECT c.id FROM courses c JOIN organizations o ON o.id = c.organization_id "
                    "JOIN users u ON u.organization_id = o.id "
                    f"WHERE o.slug = '{slug}' AND u.email = '{email}' AND c.is_published "
                    "AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.organization_id = c.organization_id "
                    "AND e.user_id = u.id AND e.course_id = c.id)").splitlines():
                pairs.append(("POST", host, f"/api/v1/courses/{cid}/enrollment", tok, None))
    random.shuffle(pairs)
    res = wrk(cached.port, pairs, secs, conns, once=True)
    record("enrollment", res, distinct_pairs=len(pairs))
    record("login", wrk(cached.port, [
        ("POST", s["host"], "/api/v1/auth/token", None, {"email": f"learner0@{s['slug']}.example.com", "password": PASSWORD})
        for s in sample], secs, conns))
    results["rows"].append({"name": "peak RSS, cached server (MB)", "rss_mb": cached.peak_rss_mb()})

    # Tenant scaling: the same tenants' uncached detail, in the full
    # database, in one with ten times the tenants, and alone, alternated over
    # several rounds.
    alone = serve(cluster, "lms_small", free_port(), 0)
    crowd = serve(cluster, "lms_huge", free_port(), 0)
    servers += [alone, crowd]

    def scaling_requests(server, db):
        """The uncached details of tenants t0002–t0010 (same size in both
        databases), with tokens of this server's database."""
        reqs = []
        for slug in [f"t{i:04d}" for i in range(2, 11)]:
            host = f"{slug}.{BASE}"
            _, body, _ = request(server.port, "POST", host, "/api/v1/auth/token", body={
                "email": f"learner0@{slug}.example.com", "password": PASSWORD})
            tok = json.loads(body)["access_token"]
            for cid in cluster.psql("SELECT c.id FROM courses c JOIN organizations o ON o.id = c.organization_id "
                                    f"WHERE o.slug = '{slug}' AND c.is_published ORDER BY c.id LIMIT 20",
                                    db=db).splitlines():
                reqs.append(("GET", host, f"/api/v1/courses/{cid}", tok, None))
        return reqs
    cases = {
        scale["tenants"]: (uncached, scaling_requests(uncached, "lms"), []),
        many: (crowd, scaling_requests(crowd, "lms_huge"), []),
        10: (alone, scaling_requests(alone, "lms_small"), []),
    }
    for _ in range(3):
        for n, (server, reqs, p50s) in cases.items():
            res = wrk(server.port, reqs, secs, conns)
            if res["errors"]:
                raise RuntimeError(f"tenant scaling: requests failed at {n} tenants ({res})")
            p50s.append(res["p50_ms"])
    mid = lambda v: sorted(v)[len(v) // 2]
    ten = mid(cases[10][2])
    for n in (scale["tenants"], many):
        p50s = cases[n][2]
        results["rows"].append({"name": f"tenant scaling, uncached detail p50, {n} vs 10 tenants",
                                "many_tenants_ms": mid(p50s), "ten_tenants_ms": ten,
                                "ratio": round(mid(p50s) / ten, 3),
                                "rounds": {"many": p50s, "ten": cases[10][2]}})
        log(f"tenant scaling: {n} tenants {mid(p50s):.2f} ms vs 10 tenants {ten:.2f} ms")

    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    (OUT / "results.md").write_text(markdown(results))
    print(markdown(results))


def markdown(results):
    s = results["scale"]
    out = [f"Scale: {s['tenants']} tenants, {s['users']} users, {s['courses']} courses, "
           f"{s['progress']} progress rows; {results['connections']} connections, {results['seconds']} s per run.", "",
           "| what | req/s or TPS | p50 ms | p99 ms | ratio |", "|---|---|---|---|---|"]
    for r in results["rows"]:
        if "rps" in r:
            ratio = r.get("ratio_to_static")
            if ratio is not None:
                ratio = f"{ratio} of static, {r['ratio_to_stack']} of static through the service stack"
            elif "ratio_to_prepared" in r:
                ratio = (f"{r['ratio_to_prepared']} of pgbench ({r['pgbench_prepared_tps']:.0f}), "
                         f"{r['ratio_to_naive']} of naive ({r['pgbench_naive_tps']:.0f})")
            err = f" ({r['errors']} errors)" if r.get("errors") else ""
            if r.get("answers"):
                err += " (answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(r["answers"].items())) + ")"
            out.append(f"| {r['name']}{err} | {r['rps']:.0f} | {r['p50_ms'] or 0:.2f} | {r['p99_ms'] or 0:.2f} | {ratio or ''} |")
        elif "cost" in r:
            out.append(f"| {r['name']} | {r['lms_app_tps']:.0f} vs {r['bypass_tps']:.0f} | | | {r['cost']:.1%} |")
        elif "rss_mb" in r:
            out.append(f"| {r['name']} | {r['rss_mb']:.0f} | | | |")
        elif "ratio" in r:
            out.append(f"| {r['name']} | | {r['many_tenants_ms']:.2f} vs {r['ten_tenants_ms']:.2f} | | {r['ratio']}× |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
