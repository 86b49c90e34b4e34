#!/bin/sh
# haul-job [OPTIONS] -- compose's scheduler: `haul-scheduler run [OPTIONS]`,
# then a short report of the output file.
#
# The job is configured like haul-scheduler itself: HAUL_... variables (and
# ST_*, AWS_*, OS_*), with any OPTIONS given here winning.  compose.yaml sets
# the notebook's job against the demo store; .env.example lists every variable.
#
# After a run that got to its end (exit 0 or 1) it prints the number of rows
# and where they are, the first rows, and the distinct rows that have a value
# or an error (for the sidecar op: one line per zip with its sidecar's text),
# at most HAUL_JOB_SHOW (20).
# Exit status: haul-scheduler's (0 every key ok, 1 some failed, 2 could not run).
set -u

haul-scheduler run "$@"
rc=$?

# Where the rows went: the last --out on the command line, else HAUL_OUT.
out=${HAUL_OUT:-}
prev=""
for a in "$@"; do
    case $prev in --out) out=$a ;; esac
    case $a in --out=*) out=${a#--out=} ;; esac
    prev=$a
done
show=${HAUL_JOB_SHOW:-20}

# Exit 2: the job did not run to its end, and the file (a volume) may still
# hold an earlier job's rows: say nothing about it.
if [ $rc -le 1 ] && [ -n "$out" ] && [ "$out" != - ] && [ -f "$out" ]; then
    rows=$(($(wc -l <"$out") - 1))
    echo "haul-job: $rows rows in $out; the first ones:"
    head -n 4 "$out" | sed 's/^/  /'
    case ${HAUL_FORMAT:-csv} in
        csv)
            # A row without a value is "key,ok,HTTP,"",BYTES,,VERIFIED" (see
            # README). Whole lines are compared, so a key repeated with the
            # same answer shows once.
            echo "haul-job: distinct rows with a value or an error (at most $show):"
            awk -v max="$show" 'NR > 1 && !/,ok,[0-9]*,"",[-0-9]*,,[a-z]*$/ && !seen[$0]++ {
                print "  " $0; if (++n >= max) exit }' "$out"
            ;;
    esac
fi
exit $rc
