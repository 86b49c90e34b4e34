#!/usr/bin/python3
"""Check haul-scheduler output against expected values.

usage: check_results.py RESULTS(.csv|.jsonl) EXPECTED.tsv REPEAT

EXPECTED.tsv holds "key<TAB>value" lines; the results must hold exactly
REPEAT copies of that list, in order, every row status ok with that value.
Prints one line per problem (at most 10) and exits 1 if there is any.
"""
import csv
import json
import sys


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        if path.endswith(".jsonl"):
            for line in f:
                yield json.loads(line)
        else:
            for r in csv.DictReader(f):
                yield r


def main():
    path, expected_path, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
    expected = []
    with open(expected_path, encoding="utf-8") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            expected.append((k, v))
    expected = expected * repeat
    got = list(rows(path))
    problems = []
    if len(got) != len(expected):
        problems.append("%d rows, expected %d" % (len(got), len(expected)))
    for n, (r, (k, v)) in enumerate(zip(got, expected)):
        if r.get("key") != k:
            problems.append("row %d: key %r, expected %r" % (n, r.get("key"), k))
        elif r.get("status") != "ok":
            problems.append("row %d (%s): status %r error %r" % (n, k, r.get("status"), r.get("error")))
        elif (r.get("value") or "") != v:
            problems.append("row %d (%s): value %r, expected %r" % (n, k, r.get("value"), v))
    for p in problems[:10]:
        print("  " + p)
    if problems:
        sys.exit(1)
    print("  %d rows match" % len(got))


main()
