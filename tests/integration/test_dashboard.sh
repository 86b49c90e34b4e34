#!/usr/bin/env bash
# The dashboard in a real browser: redis-server, an OpenStack Swift single node,
# two workers, haul-scheduler serve, and Debian's headless Chromium loading
# http://127.0.0.1:PORT/. A job of the notebook's 800 keys runs while the page is
# loaded again and again (each load polls /api/status.json as a person's page
# would) until its row says 100%; then the page's text is checked against the
# job, a job with a missing key shows in the errors, and screenshots at a
# laptop's and a phone's width are saved under the test's directory
# (dashboard.png, dashboard-phone.png; kept when the rest is removed).
# HAUL_DASHBOARD_SHOT=FILE also copies the laptop one there (docs/dashboard.png
# in README was made so).
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/seed.sh
. tests/lib/testlib.sh

PY=/usr/bin/python3
BUCKET=LSST-IR-FUSION-testfromopenstack
SCHED=$TOP/bin/haul-scheduler
WORKER=$TOP/bin/haul-worker
CHROMIUM=$(command -v chromium || command -v chromium-browser || echo /usr/bin/chromium)

if [ ! -x "$CHROMIUM" ]; then
    # make test installs it (Makefile DEB_PKGS, tests/lib/deps.sh); run by hand without it:
    echo "skipped: Debian's chromium is not installed (apt-get install chromium, or make deps)"
    echo "0 passed, 0 failed"
    exit 0
fi

PIDS=()
test_stop() { [ ${#PIDS[@]} -gt 0 ] && haul_stop "${PIDS[@]}" 2>/dev/null; }
# The screenshots stay (the point of taking them); the rest goes unless kept.
HAUL_TEST_KEEP_GLOB='dashboard*.png'
haul_test_begin dashboard --seed
R=$HAUL_TEST_REDIS_URL
PS=$(haul_free_port "$HAUL_TEST_SWIFT_PORT" "$HAUL_TEST_REDIS_PORT")
URL="http://127.0.0.1:$PS/"

# browser ARGS... URL: headless Chromium, a profile of its own under $T, at most 60 s.
# --virtual-time-budget lets the page's script run (and poll) for that long before
# the DOM is dumped or the screenshot taken.
browser() {
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --user-data-dir="$T/chromium" --hide-scrollbars "$@" 2>>"$T/chromium.log"
}
# page_text: the page's text after its script ran (tags stripped, one line per cell).
page_text() {
    browser --virtual-time-budget=3000 --dump-dom "$URL" >"$T/dom.html"
    $PY - "$T/dom.html" <<'PYEOF'
import html.parser, sys
class P(html.parser.HTMLParser):
    skip = 0
    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"): self.skip += 1
    def handle_endtag(self, tag):
        if tag in ("script", "style"): self.skip -= 1
        if tag in ("td", "th", "div", "li", "h2", "span", "b"): print()
    def handle_data(self, data):
        if not self.skip and data.strip(): print(data.strip(), end=" ")
P().feed(open(sys.argv[1], encoding="utf-8").read())
PYEOF
}

for i in 1 2; do
    "$WORKER" --redis "$R" --name "dash-w$i" --concurrency 8 --out-root "$T" >>"$T/worker$i.log" 2>&1 &
    PIDS+=($!)
done
"$SCHED" serve --redis "$R" --listen "127.0.0.1:$PS" >>"$T/serve.log" 2>&1 &
PIDS+=($!)
d=$((SECONDS + 15))
until curl -fsS -o /dev/null "$URL" 2>/dev/null || [ $SECONDS -ge $d ]; do sleep 0.1; done
ctype=$(curl -fsS -o "$T/index.html" -w '%{content_type}' "$URL")
if [ "$ctype" = "text/html; charset=utf-8" ] && grep -q "api/status.json" "$T/index.html" &&
   ! grep -Eiq '(src|href)="(https?:)?//' "$T/index.html"; then
    ok "serve answers / with the dashboard: HTML, polling api/status.json, nothing from another origin"
else
    fail "the dashboard page ($ctype)" "$T/serve.log"
fi
csp=$(curl -fsS -D - -o /dev/null "$URL" | tr -d '\r' | grep -i '^content-security-policy:')
case "$csp" in *"default-src 'self'"*) ok "its Content-Security-Policy allows only its own origin" ;;
                *) fail "no Content-Security-Policy on /: '$csp'" ;; esac

# The job, in the background; the browser watches it. --progress-interval 1 in its log.
swiftenv "$SCHED" run --redis "$R" --swift --container "$BUCKET" --prefix dummy --op sidecar \
    --repeat 10 --no-coalesce --progress-interval 1 --out "$T/job.csv" 2>"$T/job.err" &
jpid=$!
d=$((SECONDS + 10))
job=
while [ -z "$job" ] && [ $SECONDS -lt $d ]; do job=$(haul_redis_cli ZREVRANGE haul:jobs 0 0); sleep 0.1; done
loads=0 seen=
d=$((SECONDS + 60))
while [ $SECONDS -lt $d ]; do
    page_text >"$T/page.txt"
    loads=$((loads + 1))
    seen="$seen $(grep -m1 -o '[0-9]*%' "$T/page.txt" | head -1)"
    grep -q "data-job=\"$job\" data-pct=\"100\"" "$T/dom.html" && break
    sleep 0.5
done
wait $jpid
rc=$?
if grep -q "data-job=\"$job\" data-pct=\"100\"" "$T/dom.html"; then
    ok "the page showed job $job reach 100% (after $loads loads; progress seen:$seen)"
else
    fail "the page never showed job $job at 100% (job exit $rc; progress seen:$seen)" "$T/page.txt"
fi
[ $rc -eq 0 ] && ok "the job itself ended well (exit 0)" || fail "the job (exit $rc)" "$T/job.err"

# The text a person reads, against the job's real figures.
if $PY - "$T/page.txt" "$job" >"$T/text.check" 2>&1 <<'PYEOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
job = sys.argv[2]
lines = [l.strip() for l in text.splitlines() if l.strip()]
def after(word, n=1):
    i = lines.index(word)
    return lines[i + 1:i + 1 + n]
assert job in lines, "job id not shown"
row = lines[lines.index(job):lines.index(job) + 9]
assert row[1] == "done", row
assert row[2] == "100%", row
assert row[3] == "800 / 800", row
assert row[4] == "0", row                       # failed
assert row[6] == "done", row                    # ETA
assert row[7] == "sidecar", row
assert row[8] == "swift / LSST-IR-FUSION-testfromopenstack", row
assert "dash-w1" in lines and "dash-w2" in lines, "workers not shown"
w = lines[lines.index("dash-w1"):lines.index("dash-w1") + 9]
assert w[1] == "default" and w[2] == "running", w
assert re.fullmatch(r"[0-9.]+ s ago", w[8]), w
assert "no errors" in lines, "errors table not empty"
for k in ("live workers", "requests in flight", "tasks queued", "dead letters", "keys/s (all workers)"):
    assert k in lines, k
assert lines[lines.index("live workers") - 1] == "2", lines[lines.index("live workers") - 1]
assert "testing" not in text
print("ok")
PYEOF
then ok "the page's text: job done, 100%, 800 / 800, 0 failed, ETA done, its op and bucket; workers dash-w1 and dash-w2 running, seen seconds ago; 2 live workers; no errors"
else fail "the page's text" "$T/text.check"; cat "$T/page.txt" | head -60 | sed 's/^/  | /'; fi

# A job with a missing key: the errors table names its status and code.
printf 'dummy/collated_7.zip\ndummy/no-such.zip\n' >"$T/missing.txt"
swiftenv "$SCHED" run --redis "$R" --swift --container "$BUCKET" --keys "$T/missing.txt" --op sidecar \
    --out "$T/missing.csv" 2>"$T/missing.err"
mjob=$(haul_redis_cli ZREVRANGE haul:jobs 0 0)
page_text >"$T/page2.txt"
if grep -q "$mjob" "$T/page2.txt" && $PY - "$T/page2.txt" "$mjob" <<'PYEOF'
import sys
lines = [l.strip() for l in open(sys.argv[1], encoding="utf-8").read().splitlines() if l.strip()]
i = [k for k, l in enumerate(lines) if l == sys.argv[2]]
# its job row (failed 1), and its row in the errors table: job, error, 404, 1
assert any(lines[k + 1:k + 4] == ["error", "404", "1"] for k in i), [lines[k:k + 5] for k in i]
PYEOF
then ok "a job with a missing key: the errors table shows it as error / 404 / 1 row"
else fail "errors by status and code on the page" "$T/page2.txt"; fi

# Screenshots, at a laptop's width and a phone's.
browser --virtual-time-budget=3000 --window-size=1280,900 --screenshot="$T/dashboard.png" "$URL" >/dev/null
browser --virtual-time-budget=3000 --window-size=390,844 --screenshot="$T/dashboard-phone.png" "$URL" >/dev/null
for f in dashboard.png dashboard-phone.png; do
    if [ -s "$T/$f" ] && [ "$(head -c 8 "$T/$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
       [ "$(stat -c %s "$T/$f")" -gt 20000 ]; then
        ok "screenshot $T/$f ($(stat -c %s "$T/$f") bytes)"
    else
        fail "screenshot $f" "$T/chromium.log"
    fi
done
[ -n "${HAUL_DASHBOARD_SHOT:-}" ] && cp "$T/dashboard.png" "$HAUL_DASHBOARD_SHOT" && echo "  (copied to $HAUL_DASHBOARD_SHOT)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
