# seed_segmented.sh -- segmented objects for the integration tests.  Source it (it sources
# servers.sh), after haul_servers_start.  Facts behind it: docs/notes-swift-segmented.md.
#
# haul_seed_segmented BUCKET OUTDIR [USER KEY]
#   Creates the container/bucket BUCKET (as test:tester unless USER KEY follow; the S3 access
#   key is USER, the secret KEY) holding one object of each kind a worker must download whole:
#     dlo.bin        2621447 bytes  a DLO (X-Object-Manifest) as `swift upload -S 1048576`
#                                   makes it: 3 segments in BUCKET_segments
#     multipart.bin 11534336 bytes  an S3 multipart upload (boto3, 5 MiB parts: 5+5+1 MiB),
#                                   i.e. an SLO whose segments are in BUCKET+segments
#     plain.bin      100003 bytes   a plain object
#     slo.bin        2621443 bytes  an SLO as `swift upload --use-slo -S 1048576` makes it:
#                                   3 segments in BUCKET_segments
#   The SLO and DLO are uploaded with python-swiftclient's SwiftService, the code behind the
#   `swift` CLI, so their manifests and segment names are exactly the CLI's.  Each object is
#   then checked over the Swift API (its kind's header, its size and the MD5 of its body).
#   BUCKET's listing holds just these four keys; the segments live in the other containers.
#   Writes OUTDIR/objects/<key> (every object's bytes) and OUTDIR/segmented-expected.tsv:
#   "key<TAB>size<TAB>md5-of-body<TAB>kind" per object, kind one of dlo, mpu, plain, slo,
#   in listing order (the keys' UTF-8 bytes).  The size is the body's: the listings give 0
#   for the DLO (its manifest object is empty), over both APIs.
#   Every byte is deterministic (seeded), and so are the segment names (the files' mtime is
#   fixed); only the multipart upload id in the segment names differs between runs.  It may
#   be called again on the same BUCKET.  About 2 s.  Returns 1 with a message on failure.
#
# Settings (environment):
#   HAUL_SEED_MPU_PART=5242880   the multipart part size.  s3api refuses parts below its
#                                min_segment_size (default 5242880: EntityTooSmall at
#                                CompleteMultipartUpload); a smaller one works only with e.g.
#                                `min_segment_size = 1048576` in the proxy's [filter:s3api].

if ! declare -F haul_servers_start >/dev/null; then
    # shellcheck source=SCRIPTDIR/servers.sh
    . "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
fi

# _haul_seed_segmented_run BUCKET OUTDIR USER KEY: everything, in one Python process.
_haul_seed_segmented_run() {
    _haul_nsx env HAUL_TEST_ST_AUTH="${HAUL_TEST_ST_AUTH:-}" HAUL_TEST_S3="${HAUL_TEST_S3:-}" \
        "$_HAUL_PY" - "$@" <<'EOF'
import hashlib, os, sys, warnings
warnings.simplefilter('ignore')

bucket, outdir, user, key = sys.argv[1:5]
auth, s3_url = os.environ.get('HAUL_TEST_ST_AUTH'), os.environ.get('HAUL_TEST_S3')
part = int(os.environ.get('HAUL_SEED_MPU_PART') or 5242880)
MiB = 1 << 20
MTIME = 1600000000.0          # fixed mtime: the CLI puts it in segment names and metadata

def fail(msg):
    sys.exit('seed_segmented.sh: %s' % msg)

if not auth or not s3_url:
    fail('HAUL_TEST_ST_AUTH / HAUL_TEST_S3 are not set (haul_servers_start first)')

try:
    import boto3, botocore.config
    from swiftclient.client import Connection
    from swiftclient.service import SwiftService, SwiftUploadObject
except ImportError as e:
    fail('%s: needs python3-boto3 and python3-swiftclient' % e)

# key -> (size, kind)
objects = {'dlo.bin': (2 * MiB + MiB // 2 + 7, 'dlo'),
           'multipart.bin': (11 * MiB, 'mpu'),
           'plain.bin': (100003, 'plain'),
           'slo.bin': (2 * MiB + MiB // 2 + 3, 'slo')}
paths, md5s = {}, {}
for k, (size, kind) in objects.items():
    data = hashlib.shake_256(b'haul-seed-segmented:' + k.encode()).digest(size)
    paths[k] = os.path.join(outdir, 'objects', k)
    os.makedirs(os.path.dirname(paths[k]), exist_ok=True)
    with open(paths[k], 'wb') as f:
        f.write(data)
    os.utime(paths[k], (MTIME, MTIME))
    md5s[k] = hashlib.md5(data).hexdigest()

# SLO, DLO and the plain object: as `swift upload [--use-slo] -S 1048576` does it.
opts = {'auth': auth, 'user': user, 'key': key, 'auth_version': '1.0', 'retries': 1}
with SwiftService(options=opts) as svc:
    for k, kind in (('plain.bin', 'plain'), ('slo.bin', 'slo'), ('dlo.bin', 'dlo')):
        o = {} if kind == 'plain' else {'segment_size': MiB, 'use_slo': kind == 'slo'}
        for r in svc.upload(bucket, [SwiftUploadObject(paths[k], object_name=k)], options=o):
            if not r.get('success'):
                fail('swift upload %s/%s (%s): %s' % (
                    bucket, k, r.get('action'), r.get('error') or r))

# S3 multipart upload, part by part (s3transfer would raise a part size below 5 MiB to 5 MiB).
s3 = boto3.client('s3', endpoint_url=s3_url, aws_access_key_id=user,
                  aws_secret_access_key=key, region_name='us-east-1',
                  config=botocore.config.Config(s3={'addressing_style': 'path'},
                                                retries={'max_attempts': 2}))
k = 'multipart.bin'
upload_id = None
try:
    # Deleting the old one first (s3api deletes its segments too) keeps a re-run from
    # leaving the old upload's segments behind in BUCKET+segments.
    s3.delete_object(Bucket=bucket, Key=k)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=k)['UploadId']
    parts = []
    with open(paths[k], 'rb') as f:
        while True:
            chunk = f.read(part)
            if not chunk:
                break
            n = len(parts) + 1
            r = s3.upload_part(Bucket=bucket, Key=k, UploadId=upload_id, PartNumber=n,
                               Body=chunk)
            parts.append({'PartNumber': n, 'ETag': r['ETag']})
    s3.complete_multipart_upload(Bucket=bucket, Key=k, UploadId=upload_id,
                                 MultipartUpload={'Parts': parts})
except Exception as e:
    if upload_id:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=upload_id)
        except Exception:
            pass
    fail('S3 multipart upload %s/%s with %d-byte parts: %s' % (bucket, k, part, e))

# Check each object over the Swift API.
conn = Connection(authurl=auth, user=user, key=key, auth_version='1.0', retries=1)
try:
    for k, (size, kind) in objects.items():
        h, body = conn.get_object(bucket, k, resp_chunk_size=MiB)
        got = hashlib.md5()
        n = 0
        for chunk in body:
            got.update(chunk)
            n += len(chunk)
        is_slo = h.get('x-static-large-object', '').lower() == 'true'
        is_dlo = 'x-object-manifest' in h
        seen = 'slo' if is_slo else 'dlo' if is_dlo else 'plain'
        if seen != {'mpu': 'slo'}.get(kind, kind):
            fail('%s/%s: expected a %s, the store serves a %s' % (bucket, k, kind, seen))
        if n != size or got.hexdigest() != md5s[k]:
            fail('%s/%s: GET gave %d bytes md5 %s, expected %d bytes md5 %s' % (
                bucket, k, n, got.hexdigest(), size, md5s[k]))
except Exception as e:
    fail('checking %s over the Swift API: %s' % (bucket, e))

with open(os.path.join(outdir, 'segmented-expected.tsv'), 'w') as f:
    for k in sorted(objects, key=lambda s: s.encode('utf-8')):
        f.write('%s\t%d\t%s\t%s\n' % (k, objects[k][0], md5s[k], objects[k][1]))
EOF
}

# haul_seed_segmented BUCKET OUTDIR [USER KEY]: see the top of this file.
haul_seed_segmented() {
    local c=${1:-} out=${2:-} user=${3:-test:tester} key=${4:-testing}
    if [ -z "$c" ] || [ -z "$out" ]; then
        _haul_err "usage: haul_seed_segmented BUCKET OUTDIR [USER KEY]"
        return 1
    fi
    # s3api's rule with dns_compliant_bucket_names = false (servers.sh): 3-255 of these
    # characters, starting with a letter or digit, not ending with '.'.
    if ! [[ $c =~ ^[a-zA-Z0-9][-.a-zA-Z0-9_]{2,254}$ ]] || [[ $c == *. ]]; then
        _haul_err "haul_seed_segmented: $c is not a bucket name s3api accepts"
        return 1
    fi
    mkdir -p "$out/objects" && out=$(cd "$out" && pwd -P) || return 1
    if ! haul_swift_mkcontainer "$c" "$user" "$key" ||
        ! _haul_seed_segmented_run "$c" "$out" "$user" "$key"; then
        _haul_err "seeding the segmented objects into $c failed"
        return 1
    fi
}
