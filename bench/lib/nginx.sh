# bench/lib/nginx.sh -- nginx as a stand-in object store for workload 2.  Source it (bash).
#
#   . bench/lib/nginx.sh
#   bench_nginx_start DIR DATA_ROOT ADDR PORT || exit 1
#   ...   # S3 at $BENCH_NGINX_S3, Swift auth v1.0 at $BENCH_NGINX_ST_AUTH
#   bench_nginx_stop
#
# bench_nginx_start writes DIR/nginx.conf and runs nginx (not as a daemon: the master is a
# child of this shell, its pid in BENCH_NGINX_PID and DIR/nginx.pid) listening on ADDR:PORT,
# serving the files under DATA_ROOT as objects: DATA_ROOT/BUCKET/KEY is the object KEY of
# bucket BUCKET (bench/lib/smallobjs.py writes such a tree).  It returns once /healthcheck
# answers (or 1, with the error log's tail, when nginx does not come up), and exports
#   BENCH_NGINX_DIR, BENCH_NGINX_PID, BENCH_NGINX_URL=http://ADDR:PORT,
#   BENCH_NGINX_S3=http://ADDR:PORT, BENCH_NGINX_ST_AUTH=http://ADDR:PORT/auth/v1.0,
#   BENCH_NGINX_TOKEN (the static Swift token).
#
# Routes (GET and HEAD; nginx answers HEAD of a file itself):
#   /healthcheck                    200 "OK"
#   /auth/v1.0                      Swift auth v1.0: 200 with X-Storage-Url
#                                   http://ADDR:PORT/v1/AUTH_test and a static X-Auth-Token.
#                                   THE USER AND KEY ARE NOT CHECKED: any X-Auth-User /
#                                   X-Auth-Key (or none) gets the token.
#   /v1/AUTH_test/BUCKET/KEY        the file DATA_ROOT/BUCKET/KEY.  X-Auth-Token is not checked.
#   /BUCKET/KEY                     the same file (S3 path-style).  The Authorization header
#                                   (SigV4) is ignored: no signature check.
#   /v1/AUTH_test[/]                Swift account listing: always "[]" (200, JSON)
#   /v1/AUTH_test/BUCKET[/]         Swift container listing: "[]" (200, JSON) when
#                                   DATA_ROOT/BUCKET is a directory, else 404
#   /BUCKET[/]                      S3 ListObjectsV2: an empty ListBucketResult (KeyCount 0)
#                                   when DATA_ROOT/BUCKET is a directory, else 404 NoSuchBucket;
#                                   with BENCH_NGINX_LISTINGS, a static page when there is one
#                                   for the query's prefix and continuation-token (below)
# The listings are static and empty whatever the query (prefix, marker, ...): enough for
# haul-scheduler's credentials check (`--keys FILE` lists the bucket with max-keys/limit 1 and
# only looks at the answer's status), so haul needs no --no-check; they do not serve
# `--op list` or a job without --keys (which would list the bucket to find its keys).
# Except BENCH_NGINX_LISTINGS=DIR: DIR/BUCKET/<prefix>/first.xml and p<N>.xml, the pages
# bench/lib/s3listing.py writes, answer GET /BUCKET?list-type=2&prefix=<prefix>
# [&continuation-token=p<N>] (<prefix> as the client encoded it in the query: botocore's
# "small%2F000"; no prefix: "_"), whatever the other parameters -- what `aws s3 cp
# --recursive` needs to find its keys.  A prefix with no pages gets the empty listing.
#
# ETags: nginx's own ("<mtime hex>-<size hex>", 15-20 characters with a '-'), which haul's
# worker takes for a multipart ETag: its MD5 check on get (worker/ops.c, md5_check) is
# skipped -- the body's MD5 is still computed, only the comparison is left out.  With
# BENCH_NGINX_MD5_ETAG=1, each object gets instead its MD5 as ETag, from DATA_ROOT/expected.tsv
# (key TAB size TAB md5hex, keys relative to the bucket), as S3 and Swift give a single-part
# object, so haul's check runs and passes (costs nginx a 2-field map lookup per request).
#
# Settings (environment):
#   BENCH_NETNS=NAME         run nginx (and the readiness probe) in `ip netns exec NAME`
#   BENCH_NGINX_WORKERS=2    worker_processes (a number or auto)
#   BENCH_NGINX_FILES=262144 open_file_cache entries per worker (fds held open: for 200k files)
#   BENCH_NGINX_MD5_ETAG=1   MD5 ETags from DATA_ROOT/expected.tsv (see above)
#   BENCH_NGINX_LISTINGS=DIR static S3 listing pages (see above)
#   BENCH_NGINX_TIMEOUT=20   seconds for nginx to answer /healthcheck
#
# The performance settings are for one client making up to a few hundred persistent
# connections: access_log off; keepalive_requests 1e9 and keepalive_timeout 1 h (nginx's
# default of 1000 requests per connection would make every client reconnect every 1000
# requests); sendfile + tcp_nopush; open_file_cache for every file of a 200k-object tree, so
# after the first pass a GET is one fstat-free sendfile; worker_rlimit_nofile raised to match.

BENCH_NGINX_PID=""
BENCH_NGINX_DIR=""
BENCH_NGINX_TOKEN="AUTH_tk0123456789abcdef0123456789abcdef"

_bench_nginx_nsx() {
    if [ -n "${BENCH_NETNS:-}" ]; then ip netns exec "$BENCH_NETNS" "$@"; else "$@"; fi
}

_bench_nginx_err() { echo "nginx.sh: $*" >&2; }

# bench_nginx_start DIR DATA_ROOT ADDR PORT
bench_nginx_start() {
    if [ $# -ne 4 ]; then
        _bench_nginx_err "usage: bench_nginx_start DIR DATA_ROOT ADDR PORT"
        return 2
    fi
    local dir=$1 root=$2 addr=$3 port=$4
    local workers=${BENCH_NGINX_WORKERS:-2} files=${BENCH_NGINX_FILES:-262144}
    local timeout=${BENCH_NGINX_TIMEOUT:-20} md5=${BENCH_NGINX_MD5_ETAG:-0}
    local listings=${BENCH_NGINX_LISTINGS:-}
    if [ -n "$BENCH_NGINX_PID" ] && kill -0 "$BENCH_NGINX_PID" 2>/dev/null; then
        _bench_nginx_err "nginx is already running (pid $BENCH_NGINX_PID): bench_nginx_stop first"
        return 1
    fi
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || {
        _bench_nginx_err "nginx is not installed (apt-get install -y nginx-light)"; return 1; }
    local nginx_bin
    nginx_bin=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
    mkdir -p "$dir/tmp" || return 1
    dir=$(cd "$dir" && pwd) || return 1
    root=$(cd "$root" && pwd) || { _bench_nginx_err "no data directory $2"; return 1; }
    case $addr in *[!0-9.]* | '') _bench_nginx_err "ADDR must be an IPv4 address, not '$addr'"; return 1 ;; esac
    case $port in *[!0-9]* | '') _bench_nginx_err "PORT must be a number, not '$port'"; return 1 ;; esac

    # Every cached file is an open fd per worker: raise the limit.  Where it cannot be raised
    # (an unprivileged user, or a container without CAP_SYS_RESOURCE, whose hard limit is
    # often 20000), cache fewer files rather than fail with EMFILE: a cache smaller than the
    # tree misses on every request of a cyclic scan (open + fstat + close per GET, as with no
    # cache), which is still far from the clients' cost.
    local nofile=$((files + 16384)) hard
    if ! (ulimit -n "$nofile") 2>/dev/null; then
        hard=$(ulimit -Hn)
        nofile=$hard
        files=$((hard > 8192 ? hard - 4096 : hard / 2))
        _bench_nginx_err "open-file limit $hard cannot be raised: open_file_cache holds $files files per worker"
    fi
    # Workers run as the invoking user, so they can read a DATA_ROOT under a mode-0700
    # mktemp directory (as root, nginx's default would be nobody).
    local user
    user=$(id -un)

    local etag_conf="" map_conf=""
    if [ "$md5" = 1 ]; then
        [ -r "$root/expected.tsv" ] || { _bench_nginx_err "BENCH_NGINX_MD5_ETAG=1 needs $root/expected.tsv"; return 1; }
        # map KEY (relative to the bucket) -> "MD5", one line per object.  Keys are quoted
        # for nginx (backslash and double quote escaped).
        awk -F'\t' 'NF >= 3 { k = $1; gsub(/\\/, "\\\\", k); gsub(/"/, "\\\"", k);
                     printf "\"%s\" \"\\\"%s\\\"\";\n", k, $3 }' "$root/expected.tsv" >"$dir/md5map.conf" || return 1
        # The hash is sized from the objects, not from the file cache (which may have been
        # cut down to the open-file limit above).
        local nobj
        nobj=$(wc -l <"$dir/md5map.conf")
        map_conf="
    map_hash_max_size $((nobj * 4 + 1024));
    map_hash_bucket_size 128;
    map \$obj \$obj_etag {
        default \"\";
        include $dir/md5map.conf;
    }"
        etag_conf="etag off; add_header ETag \$obj_etag;"
    fi

    # S3 listings: static pages (bench/lib/s3listing.py) when there are some, else empty.
    local empty='return 200 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>$bkt</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>\n";'
    local list_conf="            $empty"
    if [ -n "$listings" ]; then
        listings=$(cd "$listings" && pwd) || { _bench_nginx_err "no listings directory $BENCH_NGINX_LISTINGS"; return 1; }
        # The prefix and the token select a file: only characters that cannot climb out of
        # the directory (no '/', no leading '.'); anything else gets the empty listing.
        map_conf="$map_conf
    map \$arg_prefix \$list_prefix {
        \"\" _;
        \"~^[A-Za-z0-9%_~-][A-Za-z0-9%._~-]*\$\" \$arg_prefix;
        default _invalid_;
    }
    # (\$arg_NAME cannot name an argument with a '-' in it.)
    map \$args \$list_page {
        \"~(^|&)continuation-token=(?<list_tok>p[0-9]+)(&|\$)\" \$list_tok;
        \"~(^|&)continuation-token=\" _invalid_;
        default first;
    }"
        list_conf="            root $listings;
            try_files /\$bkt/\$list_prefix/\$list_page.xml @empty_listing;"
    fi

    cat >"$dir/nginx.conf" <<EOF
# Written by bench/lib/nginx.sh: a stand-in object store (S3 path-style and Swift auth v1.0)
# serving $root.  NO AUTHENTICATION: credentials, tokens and signatures are not checked.
worker_processes $workers;
worker_rlimit_nofile $nofile;
user $user;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;

events {
    worker_connections 16384;
    multi_accept on;
}

http {
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000000;
    keepalive_timeout 3600s;
    open_file_cache max=$files inactive=3600s;
    open_file_cache_valid 3600s;
    open_file_cache_min_uses 1;
    open_file_cache_errors on;
    types { }
    default_type application/octet-stream;
    client_body_temp_path $dir/tmp/client_body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
$map_conf
    server {
        listen $addr:$port backlog=4096;
        root $root;

        location = /healthcheck {
            default_type text/plain;
            return 200 "OK\n";
        }

        # Swift auth v1.0.  The user and key (X-Auth-User, X-Auth-Key) are NOT checked:
        # everyone gets the same static token, and no route checks the token either.
        location = /auth/v1.0 {
            add_header X-Storage-Url http://$addr:$port/v1/AUTH_test;
            add_header X-Auth-Token $BENCH_NGINX_TOKEN;
            add_header X-Storage-Token $BENCH_NGINX_TOKEN;
            add_header X-Auth-Token-Expires 86400;
            return 200;
        }

        # Static, empty listings (for haul-scheduler's credentials check).
        location ~ ^/v1/AUTH_test/?$ {
            default_type "application/json; charset=utf-8";
            return 200 "[]";
        }
        location ~ ^/v1/AUTH_test/(?<bkt>[^/]+)/?$ {
            if (!-d $root/\$bkt) { return 404; }
            default_type "application/json; charset=utf-8";
            return 200 "[]";
        }

        # Swift objects: /v1/AUTH_test/BUCKET/KEY -> DATA_ROOT/BUCKET/KEY.
        location ~ ^/v1/AUTH_test/(?<bkt>[^/]+)/(?<obj>.+)$ {
            alias $root/\$bkt/\$obj;
            $etag_conf
        }

        location ~ ^/(?<bkt>[^/]+)/?$ {
            if (!-d $root/\$bkt) { return 404 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>\n"; }
            default_type application/xml;
$list_conf
        }
        location @empty_listing {
            default_type application/xml;
            $empty
        }

        # S3 path-style objects: /BUCKET/KEY -> DATA_ROOT/BUCKET/KEY (Authorization ignored).
        location ~ ^/(?<bkt>[^/]+)/(?<obj>.+)$ {
            $etag_conf
        }
    }
}
EOF

    _bench_nginx_nsx "$nginx_bin" -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" 2>"$dir/configtest.log" || {
        _bench_nginx_err "nginx -t refused $dir/nginx.conf:"; cat "$dir/configtest.log" >&2; return 1; }
    : >"$dir/error.log"
    if [ -n "${BENCH_NETNS:-}" ]; then
        # ip netns exec execs nginx in place: the pid is nginx's master.
        ip netns exec "$BENCH_NETNS" "$nginx_bin" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
            </dev/null >>"$dir/nginx.out" 2>&1 &
    else
        "$nginx_bin" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" </dev/null >>"$dir/nginx.out" 2>&1 &
    fi
    BENCH_NGINX_PID=$!
    BENCH_NGINX_DIR=$dir
    echo "$BENCH_NGINX_PID" >"$dir/nginx.master.pid"
    export BENCH_NGINX_PID BENCH_NGINX_DIR BENCH_NGINX_TOKEN
    export BENCH_NGINX_URL="http://$addr:$port"
    export BENCH_NGINX_S3="http://$addr:$port"
    export BENCH_NGINX_ST_AUTH="http://$addr:$port/auth/v1.0"

    local deadline=$((SECONDS + timeout))
    while :; do
        if ! kill -0 "$BENCH_NGINX_PID" 2>/dev/null; then
            _bench_nginx_err "nginx exited at start:"
            tail -n 20 "$dir/error.log" "$dir/nginx.out" >&2
            wait "$BENCH_NGINX_PID" 2>/dev/null
            BENCH_NGINX_PID=""
            return 1
        fi
        if _bench_nginx_nsx curl -fsS -o /dev/null --max-time 2 "http://$addr:$port/healthcheck" 2>/dev/null; then
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            _bench_nginx_err "nginx does not answer http://$addr:$port/healthcheck after ${timeout}s:"
            tail -n 20 "$dir/error.log" >&2
            bench_nginx_stop
            return 1
        fi
        sleep 0.1
    done
}

# bench_nginx_stop: stop the nginx started by bench_nginx_start (fast shutdown: TERM, then
# KILL of the master after 10 s) and wait for it.  Safe to call when none runs.
bench_nginx_stop() {
    local pid=$BENCH_NGINX_PID
    [ -n "$pid" ] || return 0
    BENCH_NGINX_PID=""
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        _bench_nginx_err "nginx (pid $pid) ignored TERM for 10 s: KILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}
