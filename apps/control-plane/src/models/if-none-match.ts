/**
 * True when an `If-None-Match` header (RFC 9110 §13.1.2) names the entity tag, so the answer is
 * 304 Not Modified. The comparison is weak, as the RFC asks for this header: `W/"x"` matches `"x"`.
 */
export function ifNoneMatch(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const tags = (Array.isArray(header) ? header.join(',') : header).split(',');
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return tags.some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag));
}
