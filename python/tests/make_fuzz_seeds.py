#!/usr/bin/python3
"""Write fuzz_task seeds made by the Python codec into tests/fuzz/corpus/fuzz_task/,
as py-<vector name> (one byte: 0 no key, 1 the fuzzing key; then the task):

    PYTHONPATH=python python3 python/tests/make_fuzz_seeds.py tests/fuzz/corpus/fuzz_task

The clear vectors are written as they are; the sealed ones are sealed again
with tests/fuzz/fuzz.h's FUZZ_TASK_KEY (and the vectors' fixed nonce, so the
files do not change when made again)."""
import json
import os
import sys

from haul import task as T

FUZZ_TASK_KEY = b"haul-fuzz-key-01" + bytes.fromhex("00112233445566778899aabbccddeeff")
HERE = os.path.dirname(os.path.abspath(__file__))


def main(outdir):
    v = json.load(open(os.path.join(HERE, "..", "..", "tests", "vectors", "vectors.json")))
    nonce = bytes.fromhex(v["nonce"])
    n = 0
    for t in v["tasks"]:
        if t["sealed"]:
            data = b"\x01" + T.encode(T.Task(**t["fields"]), key=FUZZ_TASK_KEY, nonce=nonce)
        else:
            data = b"\x00" + bytes.fromhex(t["hex"])
        with open(os.path.join(outdir, "py-" + t["name"].replace("_", "-")), "wb") as f:
            f.write(data)
        n += 1
    print("%d seeds written to %s" % (n, outdir))


if __name__ == "__main__":
    main(sys.argv[1])
