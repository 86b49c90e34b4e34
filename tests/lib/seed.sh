# seed.sh -- known datasets for the integration tests.  Source it (it sources servers.sh),
# after haul_servers_start.
#
# haul_seed_notebook CONTAINER OUTDIR
#   The seed notebook's bucket (/work/shared/seed-notebook.txt): 80 objects, namely
#   dummy-lsst-backup.csv, the 47 dummy/N/N_M.f keys the notebook lists, and 16 zips
#   dummy/collated_K.zip (K in 0..7 and 59..66), each with a sidecar
#   dummy/collated_K.zip.metadata holding 2 or 3 of the .f paths relative to dummy/, joined by
#   '|', no trailing newline.  The sidecar values the notebook shows are used verbatim; the
#   others (K = 5, 6, 59..62) are made up so that every .f file is in exactly one zip.  Each
#   zip really contains the .f files its sidecar names.
#   Writes OUTDIR/notebook-keys.txt (the 80 keys in Swift listing order, i.e. sorted by their
#   UTF-8 bytes), OUTDIR/notebook-expected.tsv ("key<TAB>sidecar text", empty for keys that
#   do not end in .zip, same order) and OUTDIR/objects/<key> (every object's bytes).
#
# haul_seed_special CONTAINER OUTDIR
#   Keys that break naive URL or path handling: a space, '+', '%', non-ASCII, a deep path,
#   and one 300000-byte object (special/big.bin).  The four .txt objects are one line of text
#   without a newline, like the sidecars, so "key<TAB>text" files can hold them.  Writes
#   OUTDIR/special-keys.txt (sorted the same way) and OUTDIR/objects/<key>.
#
# Every byte is deterministic: the same call always produces the same objects.  Both functions
# create CONTAINER (as test:tester unless USER KEY follow) and may be called again on it.

if ! declare -F haul_servers_start >/dev/null; then
    # shellcheck source=SCRIPTDIR/servers.sh
    . "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
fi

# _haul_seed_write KIND OUTDIR LIST: generate dataset KIND under OUTDIR and write the
# "key<TAB>file" upload list to LIST.
_haul_seed_write() {
    "$_HAUL_PY" - "$@" <<'EOF'
import hashlib, io, os, sys, zipfile

kind, outdir, listfile = sys.argv[1], os.fsencode(sys.argv[2]), sys.argv[3]

def blob(key, n):
    """n deterministic pseudo-random bytes for key."""
    return hashlib.shake_256(b'haul-seed:' + key.encode('utf-8')).digest(n)

objects = {}   # key -> bytes

if kind == 'notebook':
    numbers = {1: (1, 2), 14: (1, 2), 17: (2,), 18: (1, 2), 2: (1, 2), 21: (1, 2),
               30: (1, 2), 31: (1, 2), 36: (1, 2), 44: (1, 2), 46: (1,), 5: (1, 2),
               50: (1, 2), 52: (1, 2), 53: (1, 2), 60: (2,), 67: (1, 2), 7: (1, 2),
               72: (1, 2), 8: (1, 2), 81: (1, 2), 87: (1, 2), 88: (1, 2), 97: (1, 2),
               98: (1, 2)}
    for n, ms in numbers.items():
        for m in ms:
            key = 'dummy/%d/%d_%d.f' % (n, n, m)
            objects[key] = blob(key, 100 + (n * 37 + m * 211) % 900)
    assert len(objects) == 47
    sidecars = {
        # As shown in the notebook.
        0: '7/7_1.f|7/7_2.f|98/98_2.f',
        1: '98/98_1.f|53/53_2.f|53/53_1.f',
        2: '50/50_2.f|50/50_1.f|67/67_2.f',
        3: '67/67_1.f|2/2_2.f|2/2_1.f',
        4: '8/8_1.f|8/8_2.f|87/87_2.f',
        7: '18/18_1.f|44/44_1.f|44/44_2.f',
        63: '81/81_2.f|52/52_1.f|52/52_2.f',
        64: '31/31_1.f|31/31_2.f|30/30_2.f',
        65: '30/30_1.f|36/36_2.f|36/36_1.f',
        66: '14/14_2.f|14/14_1.f',
        # Made up, from the .f files left over.
        5: '87/87_1.f|1/1_1.f|1/1_2.f',
        6: '5/5_2.f|5/5_1.f|18/18_2.f',
        59: '97/97_1.f|97/97_2.f|72/72_1.f',
        60: '72/72_2.f|21/21_1.f|21/21_2.f',
        61: '88/88_2.f|88/88_1.f|17/17_2.f',
        62: '60/60_2.f|46/46_1.f|81/81_1.f',
    }
    members = [p for v in sidecars.values() for p in v.split('|')]
    assert sorted(members) == sorted(k[len('dummy/'):] for k in objects), 'sidecars'
    for k, text in sidecars.items():
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as z:
            for member in text.split('|'):
                info = zipfile.ZipInfo(member, date_time=(2022, 1, 1, 0, 0, 0))
                info.create_system = 3
                info.external_attr = 0o644 << 16
                z.writestr(info, objects['dummy/' + member])
        objects['dummy/collated_%d.zip' % k] = buf.getvalue()
        objects['dummy/collated_%d.zip.metadata' % k] = text.encode('ascii')
    lines = ['LOCAL_FOLDER,LOCAL_PATH,FILE_SIZE,BUCKET_NAME,DESTINATION_KEY,CHECKSUM,ZIP_CONTENTS']
    for k, text in sorted(sidecars.items()):
        zkey = 'dummy/collated_%d.zip' % k
        lines.append('/home/dummy,/home/dummy/collated_%d,%d,LSST-IR-FUSION-testfromopenstack,'
                     '%s,%s,"%s"' % (k, len(objects[zkey]), zkey,
                                     hashlib.md5(objects[zkey]).hexdigest(), text))
    objects['dummy-lsst-backup.csv'] = ('\n'.join(lines) + '\n').encode('ascii')
    assert len(objects) == 80, len(objects)
    order = sorted(objects, key=lambda k: k.encode('utf-8'))
    with open(os.path.join(outdir, b'notebook-keys.txt'), 'wb') as f:
        f.write(b''.join(k.encode('utf-8') + b'\n' for k in order))
    with open(os.path.join(outdir, b'notebook-expected.tsv'), 'wb') as f:
        for k in order:
            value = objects[k + '.metadata'] if k.endswith('.zip') else b''
            f.write(k.encode('utf-8') + b'\t' + value + b'\n')
elif kind == 'special':
    objects['special/a b.txt'] = b'a key with a space'
    objects['special/a+b.txt'] = b'a key with a plus: not a space'
    objects['special/100%.txt'] = b'a key with a percent sign'
    objects['special/\u00fcn\u00ef c\u00f8d\u00e9/\u65e5\u672c.txt'] = \
        '\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 (UTF-8)'.encode('utf-8')
    objects['special/d1/d2/d3/d4/d5/deep.bin'] = bytes(range(256)) * 4
    objects['special/big.bin'] = hashlib.shake_256(b'haul-big').digest(300000)
    order = sorted(objects, key=lambda k: k.encode('utf-8'))
    with open(os.path.join(outdir, b'special-keys.txt'), 'wb') as f:
        f.write(b''.join(k.encode('utf-8') + b'\n' for k in order))
else:
    sys.exit('unknown dataset ' + kind)

with open(listfile, 'wb') as lst:
    for k in sorted(objects, key=lambda k: k.encode('utf-8')):
        path = os.path.join(outdir, b'objects', k.encode('utf-8'))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(objects[k])
        lst.write(k.encode('utf-8') + b'\t' + path + b'\n')
EOF
}

_haul_seed() {
    local kind=$1 c=${2:-} out=${3:-} user=${4:-test:tester} key=${5:-testing} list rc
    if [ -z "$c" ] || [ -z "$out" ]; then
        _haul_err "usage: haul_seed_$kind CONTAINER OUTDIR [USER KEY]"
        return 1
    fi
    mkdir -p "$out/objects" && out=$(cd "$out" && pwd -P) || return 1
    list=$(_haul_mktemp seed) || return 1
    if _haul_seed_write "$kind" "$out" "$list" &&
        haul_swift_mkcontainer "$c" "$user" "$key" &&
        haul_swift_put_many "$c" "$list" "$user" "$key"; then
        rc=0
    else
        rc=1
    fi
    rm -f "$list"
    [ $rc -eq 0 ] || _haul_err "seeding the $kind dataset into $c failed"
    return $rc
}

# haul_seed_notebook CONTAINER OUTDIR [USER KEY]
haul_seed_notebook() { _haul_seed notebook "$@"; }

# haul_seed_special CONTAINER OUTDIR [USER KEY]
haul_seed_special() { _haul_seed special "$@"; }
