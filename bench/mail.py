#!/usr/bin/env python3
"""Messages per second through Roster's mail doors.

For each backend (SQLite; PostgreSQL with --postgres URL or
ROSTER_BENCH_POSTGRES_URL), on a fresh database with one mailbox:

- LMTP, 1 connection: one session, MAIL/RCPT/DATA per message (pipelined);
- LMTP, 8 connections: 8 client processes at once, one session each;
- the pipe: one `roster mail deliver` process per message, one after another.

Each message is a typical one: about 20 KB (a quoted thread in the body) with
3 addresses (From, the mailbox in To, one Cc), so each captures 2 new contacts.
Every message has its own Message-ID and people, so every capture writes.
The script checks the contacts count at the end.

Usage: python3 bench/mail.py [--messages N] [--pipe-messages N]
                             [--postgres URL] [--no-build]
"""
import argparse
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "roster")

BODY_LINE = "> Thanks for getting back to me. I tried the steps you described and the export still stops half way.\r\n"


def message(i, tag):
    body = "Hello,\r\n\r\nHere is more detail.\r\n\r\n" + BODY_LINE * 190
    head = (
        "From: Person %(i)d Sender <p%(i)d.%(t)s@example.com>\r\n"
        "To: Support <support@example.com>\r\n"
        "Cc: Colleague %(i)d <c%(i)d.%(t)s@example.org>\r\n"
        "Subject: Re: export stops half way (ticket %(i)d)\r\n"
        "Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
        "Message-ID: <m%(i)d.%(t)s@mail.example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
    ) % {"i": i, "t": tag}
    return (head + body).encode()


class Lmtp:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port))
        self.f = self.s.makefile("rb")
        self.reply()
        self.s.sendall(b"LHLO bench.example.net\r\n")
        self.reply()

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError("the server closed the connection")
            lines.append(line)
            if line[3:4] != b"-":
                return lines[0][:3], b"".join(lines)

    def send(self, data):
        self.s.sendall(b"MAIL FROM:<sender@example.net>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n")
        for expected in (b"250", b"250", b"354"):
            code, text = self.reply()
            if code != expected:
                raise RuntimeError("unexpected reply %r" % text)
        stuffed = data.replace(b"\r\n.", b"\r\n..")
        self.s.sendall(stuffed + b".\r\n")
        code, text = self.reply()
        if code != b"250":
            raise RuntimeError("not delivered: %r" % text)

    def quit(self):
        self.s.sendall(b"QUIT\r\n")
        self.reply()
        self.s.close()


def lmtp_worker(args):
    host, port, start, count, tag = args
    c = Lmtp(host, port)
    for i in range(start, start + count):
        c.send(message(i, tag))
    c.quit()


def run_lmtp(host, port, total, connections, tag):
    per = total // connections
    jobs = [(host, port, k * per, per, tag) for k in range(connections)]
    t0 = time.perf_counter()
    if connections == 1:
        lmtp_worker(jobs[0])
    else:
        with multiprocessing.Pool(connections) as pool:
            pool.map(lmtp_worker, jobs)
    return per * connections, time.perf_counter() - t0


def run_pipe(url, total, tag):
    env = dict(os.environ, ROSTER_DATABASE_URL=url)
    t0 = time.perf_counter()
    for i in range(total):
        r = subprocess.run(
            [BIN, "mail", "deliver", "--mailbox", "support"],
            input=message(i, tag),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if r.returncode != 0:
            raise RuntimeError("mail deliver exited %d: %s" % (r.returncode, r.stderr.decode()))
    return total, time.perf_counter() - t0


def roster(url, *args, stdin=None):
    env = dict(os.environ, ROSTER_DATABASE_URL=url)
    return subprocess.run([BIN, *args], env=env, input=stdin, capture_output=True, check=True).stdout.decode()


def bench_backend(name, url, workdir, n, pipe_n):
    roster(url, "init")
    roster(url, "mailboxes", "add", "support", "--address", "support@example.com")
    log = open(os.path.join(workdir, "serve-%s.log" % name), "wb")
    serve = subprocess.Popen(
        [BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(workdir, "data-" + name),
         "--lmtp", "127.0.0.1:0", "--db-connections", "8"],
        env=dict(os.environ, ROSTER_DATABASE_URL=url, ROSTER_LOG="warn"),
        stdout=subprocess.PIPE, stderr=log, cwd=workdir,
    )
    try:
        lmtp = None
        while True:
            line = serve.stdout.readline().decode()
            if not line:
                raise RuntimeError("roster serve did not start; see %s" % log.name)
            if line.startswith("roster LMTP listening on "):
                lmtp = line.split()[-1]
            if line.startswith("roster listening on "):
                break
        host, port = lmtp.rsplit(":", 1)
        port = int(port)
        rows = []
        done, secs = run_lmtp(host, port, n, 1, "one")
        rows.append(("LMTP, 1 connection", done, secs))
        done, secs = run_lmtp(host, port, n, 8, "eight")
        rows.append(("LMTP, 8 connections", done, secs))
    finally:
        serve.terminate()
        serve.wait()
    done, secs = run_pipe(url, pipe_n, "pipe")
    rows.append(("pipe (`mail deliver`, one process per message)", done, secs))
    contacts = roster(url, "export", "contacts").count("\n") - 1
    expected = 2 * sum(r[1] for r in rows)
    if contacts != expected:
        raise RuntimeError("%s: %d contacts, expected %d" % (name, contacts, expected))
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--messages", type=int, default=4000)
    p.add_argument("--pipe-messages", type=int, default=300)
    p.add_argument("--postgres", default=os.environ.get("ROSTER_BENCH_POSTGRES_URL"))
    p.add_argument("--no-build", action="store_true")
    a = p.parse_args()
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    size = len(message(0, "x"))
    workdir = tempfile.mkdtemp(prefix="roster-mail-bench-")
    results = []
    try:
        results.append(("SQLite", bench_backend("sqlite", "sqlite://" + os.path.join(workdir, "roster.db"),
                                                workdir, a.messages, a.pipe_messages)))
        if a.postgres:
            schema = "bench_mail_%d" % os.getpid()
            sep = "&" if "?" in a.postgres else "?"
            url = "%s%sschema=%s" % (a.postgres, sep, schema)
            try:
                results.append(("PostgreSQL", bench_backend("postgres", url, workdir, a.messages, a.pipe_messages)))
            finally:
                subprocess.run(["psql", a.postgres, "-qc", 'DROP SCHEMA IF EXISTS "%s" CASCADE' % schema],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            print("PostgreSQL skipped: give --postgres URL or ROSTER_BENCH_POSTGRES_URL", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("Message: %d bytes, 3 addresses (2 new contacts each). Load average at the end: %s. CPUs: %d."
          % (size, " ".join("%.2f" % x for x in os.getloadavg()), os.cpu_count()))
    print()
    print("| backend | door | messages | seconds | messages/s |")
    print("|---|---|---:|---:|---:|")
    for backend, rows in results:
        for door, done, secs in rows:
            print("| %s | %s | %d | %.2f | %.0f |" % (backend, door, done, secs, done / secs))


if __name__ == "__main__":
    main()
