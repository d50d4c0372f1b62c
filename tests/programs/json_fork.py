# A json round-trip of 200k dicts, then os.fork and subprocess.
import hashlib, json, os, subprocess, sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
d = [{"id": i, "name": "n%d" % i, "tags": [i % 7, i % 11], "v": i * 0.5}
     for i in range(n)]
s = json.dumps(d)
e = json.loads(s)
assert e == d
print(n, len(s), hashlib.sha256(s.encode()).hexdigest())
pid = os.fork()
if pid == 0:
    x = [str(i) * 3 for i in range(20000)]
    ok = e[n // 2]["id"] == n // 2 and len(x) == 20000
    os._exit(0 if ok else 1)
_, st = os.waitpid(pid, 0)
print("fork child status", st)
out = subprocess.run(["/bin/echo", "from subprocess"], capture_output=True,
                     text=True).stdout
print(out.strip())
