/**
 * The bytes of recently downloaded small artifacts, shared by every request for them. A
 * rollout has thousands of devices fetch the same file within seconds: from memory each
 * response is one socket write of a buffer everyone shares, instead of a file stream per
 * request (a threadpool read and a stream tick per 64 KiB). Files are content-addressed and
 * never change under their hash, so an entry cannot go stale; the caller checks the artifact
 * still exists (and may be read) before asking. Bounded in total bytes, least recently used out.
 */
export class HotArtifactsCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

  constructor(
    private readonly load: (sha256: string) => Buffer,
    private readonly limits: { maxFileBytes: number; maxTotalBytes: number },
  ) {}

  get totalBytes(): number {
    return this.bytes;
  }

  /** The file's bytes when it is small enough to keep, else undefined (stream it instead). */
  get(sha256: string, size: number): Buffer | undefined {
    const hit = this.entries.get(sha256);
    if (hit) {
      this.entries.delete(sha256);
      this.entries.set(sha256, hit);
      return hit;
    }
    if (size > this.limits.maxFileBytes || size > this.limits.maxTotalBytes) return undefined;
    const data = this.load(sha256);
    if (data.byteLength !== size) return undefined;
    this.entries.set(sha256, data);
    this.bytes += data.byteLength;
    for (const [key, value] of this.entries) {
      if (this.bytes <= this.limits.maxTotalBytes) break;
      this.entries.delete(key);
      this.bytes -= value.byteLength;
    }
    return data;
  }

  /** Forgets a file (deleted by garbage collection). */
  drop(sha256: string): void {
    const hit = this.entries.get(sha256);
    if (!hit) return;
    this.entries.delete(sha256);
    this.bytes -= hit.byteLength;
  }
}
