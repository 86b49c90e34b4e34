/* xmltext.h -- the little XML the write ops send and read: S3's
 * CompleteMultipartUpload, InitiateMultipartUpload, ListMultipartUploads
 * and DeleteObjects bodies. Only flat elements with text are read (the
 * answers are small and their shape is fixed), so no parser: listing.c
 * parses the large listings with expat. */
#ifndef HAUL_XMLTEXT_H
#define HAUL_XMLTEXT_H

#include <stddef.h>

#include "buf.h"

/* Append s with & < > " escaped. */
void xmltext_escape(haul_buf *b, const char *s);
/* The text of the first <tag>...</tag> in [p, end), its five predefined
 * entities undone, into out (reset first). Returns where the element ends,
 * or NULL when there is none. */
const char *xmltext_field(const char *p, const char *end, const char *tag, haul_buf *out);

#endif
