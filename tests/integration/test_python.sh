#!/usr/bin/env bash
# The Python client (python/haul) against real servers: redis-server and Swift
# (tempauth + s3api), the C workers, and haul-scheduler on the other side.
# pytest runs python/tests (the conformance vectors, and test_live.py against
# these servers); then the users' notebook, examples/notebook.ipynb, runs
# under `jupyter nbconvert --execute` and its output cells are checked.
#
# Workers: two with the key (queue default: sealed tasks only) and one
# without (queue clear: tasks in the clear only). HAUL_PY_HOLD=FILE keeps the
# servers up after setting them up, their variables in FILE, until FILE is
# removed (to work on the tests by hand).
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

WPIDS=()
test_stop() {
    [ ${#WPIDS[@]} -gt 0 ] && haul_stop "${WPIDS[@]}"
}
haul_test_begin python --seed
"$SCHED" keygen "$T/haul.key" >/dev/null
"$SCHED" keygen "$T/other.key" >/dev/null

env -u HAUL_KEY_FILE -u HAUL_QUEUE "$WORKER" --redis "$HAUL_TEST_REDIS_URL" --key-file "$T/haul.key" \
    --concurrency 16 --out-root "$T" >>"$T/worker1.log" 2>&1 &
WPIDS+=($!)
env -u HAUL_KEY_FILE -u HAUL_QUEUE "$WORKER" --redis "$HAUL_TEST_REDIS_URL" --key-file "$T/haul.key" \
    --concurrency 16 --out-root "$T" >>"$T/worker2.log" 2>&1 &
WPIDS+=($!)
env -u HAUL_KEY_FILE -u HAUL_QUEUE "$WORKER" --redis "$HAUL_TEST_REDIS_URL" --queue clear \
    --concurrency 16 --out-root "$T" >>"$T/worker3.log" 2>&1 &
WPIDS+=($!)

export HAUL_TEST_KEY_FILE=$T/haul.key HAUL_TEST_OTHER_KEY_FILE=$T/other.key HAUL_TEST_BUCKET=$BUCKET
export HAUL_TEST_EXPECTED=$T/data/notebook-expected.tsv HAUL_TEST_SCHED=$SCHED HAUL_TEST_TMP=$T
export HAUL_TEST_REDIS_URL HAUL_TEST_S3 HAUL_TEST_ST_AUTH

if [ -n "${HAUL_PY_HOLD:-}" ]; then
    env | grep -E '^HAUL_TEST_' | sed 's/^/export /' >"$HAUL_PY_HOLD"
    echo "servers up; variables in $HAUL_PY_HOLD; remove it to stop"
    while [ -e "$HAUL_PY_HOLD" ]; do sleep 1; done
    exit 0
fi

# 0. The package installs with pip (offline: Debian's setuptools, no index) and imports from there;
# from a copy, as pip builds in the source tree.
cp -r "$TOP/python" "$T/pysrc" && rm -rf "$T/pysrc/build" "$T/pysrc/"*.egg-info
$PY -m venv --system-site-packages "$T/venv" >"$T/pip.log" 2>&1 &&
    (cd "$T" && "$T/venv/bin/pip" install --no-build-isolation --no-index "$T/pysrc") >>"$T/pip.log" 2>&1
where=$(cd "$T" && "$T/venv/bin/python" -c 'import haul; print(haul.__file__)' 2>>"$T/pip.log")
case $where in
    "$T/venv/"*) ok "pip install ./python: haul imports from the venv ($where)" ;;
    *) fail "pip install ./python (haul from '$where')" "$T/pip.log" ;;
esac

# 1. pytest: its own closing line is printed; its counts join this test's.
PYTHONPATH=$TOP/python $PY -m pytest -q -p no:cacheprovider python/tests >"$T/pytest.log" 2>&1
prc=$?
cat "$T/pytest.log" | sed 's/^/  /'
line=$(grep -E '^=* ?[0-9]+ (passed|failed)' "$T/pytest.log" | tail -1)
[ -z "$line" ] && line=$(grep -E '[0-9]+ (passed|failed).* in [0-9.]+s' "$T/pytest.log" | tail -1)
pp=$(echo "$line" | grep -oE '[0-9]+ passed' | awk '{print $1}')
pf=$(echo "$line" | grep -oE '[0-9]+ (failed|error)' | awk '{s += $1} END {print s + 0}')
passed=$((passed + ${pp:-0})); failed=$((failed + ${pf:-0}))
if [ $prc -ne 0 ] && [ "${pf:-0}" -eq 0 ]; then fail "pytest exited $prc" "$T/pytest.log"; fi

# 2. The notebook, executed as a user would, against the test store over Swift.
if command -v jupyter >/dev/null && jupyter nbconvert --version >/dev/null 2>&1; then
    cp examples/notebook.ipynb "$T/notebook.ipynb"
    (cd "$T" && env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY PYTHONPATH="$TOP/python" \
        HAUL_REDIS_URL="$HAUL_TEST_REDIS_URL" HAUL_KEY_FILE="$T/haul.key" \
        ST_AUTH="$HAUL_TEST_ST_AUTH" ST_USER=test:tester ST_KEY=testing HAUL_BUCKET="$BUCKET" \
        timeout 120 jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=90 \
        --output executed.ipynb notebook.ipynb) >"$T/nbconvert.log" 2>&1
    nrc=$?
    if [ $nrc -eq 0 ] && $PY - "$T/executed.ipynb" "$T/data/notebook-expected.tsv" >"$T/nbcheck.log" 2>&1 <<'PYEOF'
import json, sys
nb = json.load(open(sys.argv[1]))
exp = dict(l.rstrip("\n").split("\t", 1) for l in open(sys.argv[2], encoding="utf-8"))
text = {}
for c in nb["cells"]:
    for o in c.get("outputs", []):
        t = o.get("text") or o.get("data", {}).get("text/plain") or ""
        t = "".join(t) if isinstance(t, list) else t
        for line in t.splitlines():
            if line.startswith("CHECK "):
                k, _, v = line[6:].partition("=")
                text[k] = v
import hashlib
rows = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[2], encoding="utf-8")] * 10
digest = hashlib.sha256("".join("%s\t%s\n" % (k, v) for k, v in rows).encode()).hexdigest()
zips = sorted(k for k in exp if k.endswith(".zip"))
want = {"keys": "80", "rows": "800", "zip_rows": str(10 * len(zips)),
        "collated_7": exp["dummy/collated_7.zip"], "digest": digest}
bad = [(k, v, text.get(k)) for k, v in want.items() if text.get(k) != v]
for k, v, got in bad:
    print("  %s: expected %r, the notebook said %r" % (k, v, got))
sys.exit(1 if bad else 0)
PYEOF
    then
        ok "examples/notebook.ipynb under jupyter nbconvert --execute: 80 keys listed, 800 sidecars equal the expected, collated_7 '$(grep -P '^dummy/collated_7.zip\t' "$T/data/notebook-expected.tsv" | cut -f2)'"
    else
        fail "examples/notebook.ipynb (nbconvert exit $nrc)" "$T/nbconvert.log"; cat "$T/nbcheck.log" 2>/dev/null
    fi
else
    fail "jupyter nbconvert is not installed (make deps installs jupyter-nbconvert)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
