#!/usr/bin/env python3
"""soak.py - a soak of the production path on loopback (issue 21).

    python3 bench/soak.py [--seconds 600] [--bin build/offerq] [--users 20000]

Starts a redis-server and `offerq serve --redis` in a scratch folder, then for
--seconds keeps up mixed load:
  - 4 threads asking /v1/recommend for users of the live list (keep-alive);
  - 1 thread asking /v1/dashboard.json every second;
  - slow clients (tests/cli/slowloris.py: 100 connections from 127.0.0.2, one
    header line a second, never finishing a request);
  - `offerq publish` every 30 s, alternating two runs whose lists differ in
    size and content;
  - redis-server saved and restarted twice (at 1/3 and 2/3 of the time).
A "hollow" answer is a 404 for a user of the version the answer names (the
version went live without its rows): counted, and must be 0. Answers while
Redis restarts are served from the held table (X-Offerq-Stale: 1) and
counted apart. Prints the figures and writes bench/results/soak.md.
"""
import argparse
import http.client
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "offerq"))
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "soak.md"))
    a = ap.parse_args()
    b = os.path.abspath(a.bin)
    tmp = tempfile.mkdtemp(prefix="offerq-soak-")
    procs = []
    try:
        run(a, b, tmp, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def run(a, b, tmp, procs):
    q = ["--quiet"]
    # two runs of different lists: A (users customers), B (half as many)
    users = {}
    for name, n, seed in (("A", a.users, 1), ("B", a.users // 2, 2)):
        log = os.path.join(tmp, name + ".csv")
        subprocess.run([b, "gen", "--customers", str(n), "--seed", str(seed), "--out", log] + q,
                       check=True, stderr=subprocess.DEVNULL)
        subprocess.run([b, "run", "--log", log, "--out-dir", os.path.join(tmp, "run" + name)] + q,
                       check=True, stderr=subprocess.DEVNULL)
        with open(os.path.join(tmp, "run" + name, "recommendations.csv")) as f:
            next(f)
            users[name] = [int(l.split(",", 1)[0]) for l in f]
    rport, port = free_port(), free_port()
    rdir = os.path.join(tmp, "redis")
    os.makedirs(rdir)

    def redis_start():
        p = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", rdir,
                              "--dbfilename", "dump.rdb"], stdout=subprocess.DEVNULL)
        procs.append(p)
        for _ in range(200):
            if subprocess.run(["redis-cli", "-p", str(rport), "ping"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                return p
            time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    redis = redis_start()
    url = "redis://127.0.0.1:%d" % rport

    def publish(name):
        r = subprocess.run([b, "publish", "--redis", url, os.path.join(tmp, "run" + name)],
                           capture_output=True, text=True)
        return r.returncode

    live = {}  # version -> the run's users (what a non-hollow version answers for)
    lock = threading.Lock()
    seq = ["A", "B"]
    if publish("A"):
        raise SystemExit("first publish failed")
    live_version = [int(subprocess.run(["redis-cli", "-p", str(rport), "--raw", "GET",
                                        "offerq:current"], capture_output=True,
                                       text=True).stdout)]
    live[live_version[0]] = set(users["A"])
    serve_log = open(os.path.join(tmp, "serve.log"), "w")
    serve = subprocess.Popen([b, "serve", "--port", str(port), "--redis", url],
                             stderr=serve_log)
    procs.append(serve)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    stop = threading.Event()
    stats = {"requests": 0, "errors": 0, "stale": 0, "hollow": 0, "dash": 0, "dash_errors": 0,
             "publishes": 0, "publish_failures": 0, "restarts": 0}
    lat = []

    def bump(k, n=1):
        with lock:
            stats[k] += n

    def recommender(seed):
        rng = random.Random(seed)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            name = rng.choice(("A", "B"))
            u = rng.choice(users[name])
            t0 = time.monotonic()
            try:
                c.request("GET", "/v1/recommend/%d" % u)
                r = c.getresponse()
                r.read()
            except (OSError, http.client.HTTPException):
                bump("errors")
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            dt = time.monotonic() - t0
            v = r.getheader("X-Offerq-Version")
            with lock:
                stats["requests"] += 1
                lat.append(dt)
                if r.getheader("X-Offerq-Stale"):
                    stats["stale"] += 1
                if r.status == 404 and v and int(v) in live and u in live[int(v)]:
                    stats["hollow"] += 1
                elif r.status not in (200, 404):
                    stats["errors"] += 1

    def dashboarder():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.wait(1.0):
            try:
                c.request("GET", "/v1/dashboard.json")
                r = c.getresponse()
                r.read()
                bump("dash")
                if r.status != 200:
                    bump("dash_errors")
            except (OSError, http.client.HTTPException):
                bump("dash_errors")
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    peak = [0]

    def sampler():
        while not stop.wait(0.5):
            try:
                with open("/proc/%d/status" % serve.pid) as f:
                    for l in f:
                        if l.startswith("VmRSS:"):
                            peak[0] = max(peak[0], int(l.split()[1]) // 1024)
            except OSError:
                pass

    slow = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "cli", "slowloris.py"),
                             str(port), "100", str(a.seconds), "127.0.0.2"],
                            stdout=subprocess.DEVNULL)
    procs.append(slow)
    threads = [threading.Thread(target=recommender, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=dashboarder), threading.Thread(target=sampler)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    next_pub, k = t0 + 30, 1
    restarts_at = [t0 + a.seconds / 3, t0 + 2 * a.seconds / 3]
    while time.monotonic() - t0 < a.seconds:
        now = time.monotonic()
        if restarts_at and now >= restarts_at[0]:
            restarts_at.pop(0)
            subprocess.run(["redis-cli", "-p", str(rport), "SAVE"], capture_output=True)
            subprocess.run(["redis-cli", "-p", str(rport), "SHUTDOWN", "NOSAVE"],
                           capture_output=True)
            redis.wait(10)
            time.sleep(2)
            redis = redis_start()
            bump("restarts")
        if now >= next_pub:
            next_pub += 30
            name = seq[k % 2]
            k += 1
            rc = publish(name)
            bump("publishes")
            if rc:
                bump("publish_failures")
            else:
                v = int(subprocess.run(["redis-cli", "-p", str(rport), "--raw", "GET",
                                        "offerq:current"], capture_output=True,
                                       text=True).stdout)
                with lock:
                    live[v] = set(users[name])
            elapsed = int(time.monotonic() - t0)
            print("soak: %d s, %d requests, %d errors, %d hollow, %d publishes" %
                  (elapsed, stats["requests"], stats["errors"], stats["hollow"],
                   stats["publishes"]), file=sys.stderr, flush=True)
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    lat.sort()
    p = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000 if lat else float("nan")
    ver = subprocess.run([b, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    rows = [
        ("duration (s)", "%.0f" % a.seconds),
        ("lists (users)", "%d and %d, alternating" % (len(users["A"]), len(users["B"]))),
        ("/v1/recommend requests", stats["requests"]),
        ("  per second", "%.0f" % (stats["requests"] / a.seconds)),
        ("  errors (no answer, or not 200/404)", stats["errors"]),
        ("  answered from the held table (stale)", stats["stale"]),
        ("  hollow (404 for a user of the version named)", stats["hollow"]),
        ("  latency p50 / p99 / max (ms)", "%.1f / %.1f / %.1f" % (p(0.5), p(0.99), p(1.0))),
        ("/v1/dashboard.json requests / errors", "%d / %d" % (stats["dash"], stats["dash_errors"])),
        ("slow clients", "100 connections from 127.0.0.2 throughout"),
        ("publishes / failed", "%d / %d" % (stats["publishes"], stats["publish_failures"])),
        ("Redis restarts", stats["restarts"]),
        ("serve peak RSS (MB)", peak[0]),
    ]
    out = ["# Soak: mixed load on loopback (python3 bench/soak.py --seconds %.0f)" % a.seconds, "",
           "%s, %s, %d cores, load average at the end %.2f." %
           (time.strftime("%Y-%m-%d", time.gmtime()), ver, os.cpu_count(), os.getloadavg()[0]),
           "", "| figure | value |", "|---|---:|"]
    out += ["| %s | %s |" % r for r in rows]
    text = "\n".join(out) + "\n"
    print(text)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    if stats["hollow"] or stats["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
