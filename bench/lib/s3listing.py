#!/usr/bin/python3
"""s3listing.py -- static S3 ListObjectsV2 pages, for nginx to answer `aws s3 cp --recursive`.

    /usr/bin/python3 bench/lib/s3listing.py EXPECTED_TSV LIST_DIR BUCKET PREFIX...

reads EXPECTED_TSV (key <TAB> size <TAB> md5hex, keys relative to BUCKET, as
bench/lib/smallobjs.py and bench/lib/bigobjs.py write it) and writes, for each PREFIX, the
pages of a ListObjectsV2 of BUCKET with that prefix (no delimiter, 1000 keys a page, keys in
byte order, as S3 lists them):

    LIST_DIR/BUCKET/<prefix>/first.xml      the first page
    LIST_DIR/BUCKET/<prefix>/p<N>.xml       page N+1, named by the previous page's
                                            NextContinuationToken "p<N>"

<prefix> is the prefix as botocore puts it in the query string (urllib's quote with
safe="-_.~": "small/000" is "small%2F000"); the empty prefix is "_".  bench/lib/nginx.sh
(BENCH_NGINX_LISTINGS=LIST_DIR) serves these files for GET /BUCKET?list-type=2&prefix=...
[&continuation-token=pN], whatever the other parameters: max-keys, start-after, delimiter,
fetch-owner are not honoured (the AWS CLI's recursive copy sends none of them).  Keys are
URL-encoded with EncodingType url, as asked by the CLI (encoding-type=url).  ETag is the MD5,
LastModified the time this script ran.  Prints one summary line on stderr.
"""
import os
import sys
import time
from urllib.parse import quote
from xml.sax.saxutils import escape

PAGE = 1000


def qprefix(prefix):
    return quote(prefix, safe='-_.~') if prefix else '_'


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__.split('\n\n')[1])
    tsv, listdir, bucket, prefixes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    objs = []
    with open(tsv, encoding='utf-8') as f:
        for line in f:
            k, size, md5 = line.rstrip('\n').split('\t')[:3]
            objs.append((k.encode('utf-8'), k, int(size), md5))
    objs.sort()
    now = time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime())
    for prefix in prefixes:
        sel = [o for o in objs if o[1].startswith(prefix)]
        d = os.path.join(listdir, bucket, qprefix(prefix))
        os.makedirs(d, exist_ok=True)
        pages = [sel[i:i + PAGE] for i in range(0, len(sel), PAGE)] or [[]]
        for n, page in enumerate(pages):
            last = n == len(pages) - 1
            out = ['<?xml version="1.0" encoding="UTF-8"?>\n'
                   '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                   '<Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount><MaxKeys>%d</MaxKeys>'
                   '<EncodingType>url</EncodingType><IsTruncated>%s</IsTruncated>' % (
                       escape(bucket), escape(quote(prefix, safe='/')), len(page), PAGE,
                       'false' if last else 'true')]
            if n:
                out.append('<ContinuationToken>p%d</ContinuationToken>' % n)
            if not last:
                out.append('<NextContinuationToken>p%d</NextContinuationToken>' % (n + 1))
            for _, k, size, md5 in page:
                out.append('<Contents><Key>%s</Key><LastModified>%s</LastModified>'
                           '<ETag>&quot;%s&quot;</ETag><Size>%d</Size>'
                           '<StorageClass>STANDARD</StorageClass></Contents>' % (
                               escape(quote(k, safe='/')), now, md5, size))
            out.append('</ListBucketResult>\n')
            with open(os.path.join(d, 'first.xml' if n == 0 else 'p%d.xml' % n), 'w',
                      encoding='utf-8') as f:
                f.write(''.join(out))
        print('s3listing: %s/%s: %d keys, %d pages' % (bucket, prefix, len(sel), len(pages)),
              file=sys.stderr)


if __name__ == '__main__':
    main()
