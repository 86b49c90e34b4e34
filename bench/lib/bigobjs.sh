#!/usr/bin/env bash
# bench/lib/bigobjs.sh -- the objects of workload 4: a few large files for a static server.
#
#   bench/lib/bigobjs.sh DATA_ROOT BUCKET SIZES
#
# SIZES is a comma-separated list of sizes in MiB (run.sh: 1024,1024,1024,1024,4096).  Writes
#
#   DATA_ROOT/BUCKET/big/obj-<i>-<MiB>m.bin   one per size, i from 0
#   DATA_ROOT/keys.txt                        their keys, in order
#   DATA_ROOT/expected.tsv                    key <TAB> size <TAB> md5hex (bench/lib/smallobjs.py's form)
#
# with build/bench/bigobj (make bench-tools): each file is an AES-128-CTR keystream seeded by
# its index (the same sizes give the same bytes), its MD5 computed as it is written, two files
# at a time (the MD5 is the slow part: about 0.6 GB/s a core).  Put DATA_ROOT on tmpfs.  Prints
# one summary line on stderr.
set -u
cd "$(dirname "$0")/../.." || exit 2
BIGOBJ=${BENCH_BIGOBJ:-$PWD/build/bench/bigobj}
if [ $# -ne 3 ]; then echo "usage: bench/lib/bigobjs.sh DATA_ROOT BUCKET SIZES_MIB" >&2; exit 2; fi
root=$1 bucket=$2 sizes=$3
[ -x "$BIGOBJ" ] || { echo "bigobjs.sh: $BIGOBJ is missing (make bench-tools)" >&2; exit 2; }
case $bucket in ''|*/*|.|..) echo "bigobjs.sh: BUCKET must be one path segment" >&2; exit 2 ;; esac
mkdir -p "$root/$bucket/big" || exit 2

t0=$SECONDS
IFS=, read -r -a mib <<<"$sizes"
total=0
for i in "${!mib[@]}"; do
    case ${mib[$i]} in ''|*[!0-9]*) echo "bigobjs.sh: '${mib[$i]}' is not a size in MiB" >&2; exit 2 ;; esac
    total=$((total + mib[i]))
done
free=$(df -Pk "$root" | awk 'NR == 2 { print int($4 / 1024) }')
if [ "$free" -lt "$total" ]; then
    echo "bigobjs.sh: $root has $free MiB free; the objects need $total MiB" >&2
    exit 2
fi

# Two at a time, the largest first (so that the 4 GiB one does not finish last alone).
order=$(for i in "${!mib[@]}"; do echo "${mib[$i]} $i"; done | sort -rn | awk '{ print $2 }')
pids=() rc=0
for i in $order; do
    key=big/obj-$i-${mib[$i]}m.bin
    "$BIGOBJ" "$root/$bucket/$key" $((mib[i] * 1048576)) "$i" >"$root/.md5.$i" &
    pids+=($!)
    if [ ${#pids[@]} -ge 2 ]; then
        wait "${pids[0]}" || rc=1
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do wait "$p" || rc=1; done
[ $rc -eq 0 ] || { echo "bigobjs.sh: writing the objects failed" >&2; exit 1; }

: >"$root/keys.txt.tmp"
: >"$root/expected.tsv.tmp"
for i in "${!mib[@]}"; do
    key=big/obj-$i-${mib[$i]}m.bin
    echo "$key" >>"$root/keys.txt.tmp"
    printf '%s\t%d\t%s\n' "$key" $((mib[i] * 1048576)) "$(cat "$root/.md5.$i")" >>"$root/expected.tsv.tmp"
    rm -f "$root/.md5.$i"
done
mv "$root/keys.txt.tmp" "$root/keys.txt" && mv "$root/expected.tsv.tmp" "$root/expected.tsv" || exit 1
echo "bigobjs.sh: ${#mib[@]} objects, $total MiB, in $root/$bucket in $((SECONDS - t0)) s" >&2
