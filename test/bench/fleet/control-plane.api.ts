/** The benchmark's REST client for the control plane (bearer token, JSON or raw bodies). */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ControlPlaneApi {
  constructor(
    readonly base: string,
    private readonly token: string,
  ) {}

  async call<T>(method: string, path: string, body?: unknown, raw?: Buffer): Promise<T> {
    // A GET is retried when its pooled keep-alive socket was closed under it (ECONNRESET).
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(method, path, body, raw);
      } catch (err) {
        if (method !== 'GET' || err instanceof HttpError || attempt >= 3) throw err;
        await sleep(200);
      }
    }
  }

  private async once<T>(method: string, path: string, body?: unknown, raw?: Buffer): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.token}`,
        'Content-Type': raw ? 'application/octet-stream' : 'application/json',
      },
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await res.text();
    if (!res.ok) throw new HttpError(res.status, `${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  }
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
