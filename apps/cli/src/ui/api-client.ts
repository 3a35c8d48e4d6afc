/**
 * The CLI's REST client for the control plane. Every networked command (devices, jobs,
 * rollouts, reports) shares the same options (`--url`, `--token`; env EDGEC_URL / EDGEC_TOKEN,
 * or the older EC_API_URL / EC_API_TOKEN) and the same error wording: which URL could not be
 * reached and why, or the status and the server's own message for a 4xx/5xx.
 */
import type { Command } from 'commander';
import { parseSse, type SseEvent } from './sse-parser';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

export interface ApiOptions {
  url?: string;
  apiUrl?: string;
  token?: string;
}

/** A request the control plane answered with an error status; `body` is its parsed answer. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The connection failed before any answer (refused, unknown host, reset). */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreachableError';
  }
}

/** Adds the connection options to a command group; subcommands read them with optsWithGlobals. */
export function addApiOptions(command: Command): Command {
  return command
    .option('--url <url>', `control plane URL (EDGEC_URL, default ${DEFAULT_API_URL})`)
    .option('--api-url <url>', 'same as --url (EC_API_URL)')
    .option('--token <token>', 'API token (EDGEC_TOKEN or EC_API_TOKEN)');
}

export function apiClientFor(command: Command, env: NodeJS.ProcessEnv = process.env): ApiClient {
  return ApiClient.fromOptions(command.optsWithGlobals() as ApiOptions, env);
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  static fromOptions(opts: ApiOptions, env: NodeJS.ProcessEnv = process.env): ApiClient {
    // An empty variable counts as unset.
    const base = opts.url ?? opts.apiUrl ?? (env.EDGEC_URL || env.EC_API_URL || DEFAULT_API_URL);
    const token = opts.token ?? (env.EDGEC_TOKEN || env.EC_API_TOKEN);
    if (!token)
      throw new Error(
        'no API token: pass --token or set EDGEC_TOKEN (create one with `edgec tokens create`)',
      );
    return new ApiClient(base.replace(/\/+$/, ''), token);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body ?? {});
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  /** Uploads a file as the raw body (models, variants). */
  async upload<T>(path: string, bytes: Uint8Array): Promise<T> {
    const res = await this.send('POST', path, bytes, undefined, {
      'Content-Type': 'application/octet-stream',
    });
    const text = await res.text();
    if (!res.ok) throw errorFromAnswer('POST', path, res.status, text);
    return JSON.parse(text) as T;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const text = await this.requestText(method, path, body);
    if (!text) return null as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new Error(`${method} ${path}: the control plane answered with something not JSON`);
    }
  }

  /** The raw body of a successful answer (CSV reports, for instance). */
  async requestText(method: string, path: string, body?: unknown): Promise<string> {
    const res = await this.send(method, path, body);
    const text = await res.text();
    if (!res.ok) throw errorFromAnswer(method, path, res.status, text);
    return text;
  }

  /**
   * Server-sent events from `path`, until the server closes the stream or `signal` aborts.
   * An error status rejects like any request (so a caller can fall back to polling on 404).
   */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<SseEvent> {
    const res = await this.send('GET', path, undefined, signal, { Accept: 'text/event-stream' });
    if (!res.ok) throw errorFromAnswer('GET', path, res.status, await res.text());
    if (!res.body) return;
    const decoder = new TextDecoder();
    let pending = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        pending += decoder.decode(chunk, { stream: true });
        const parsed = parseSse(pending);
        pending = parsed.rest;
        for (const event of parsed.events) yield event;
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw new UnreachableError(
        `event stream ${this.baseUrl}${path} broke: ${(err as Error).message}`,
      );
    }
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    signal?: AbortSignal,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body !== undefined && !(body instanceof Uint8Array)
            ? { 'Content-Type': 'application/json' }
            : {}),
          ...headers,
        },
        body:
          body === undefined ? undefined : body instanceof Uint8Array ? body : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      // fetch hides the socket error (ECONNREFUSED, ENOTFOUND) in `cause`: name it and the URL.
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new UnreachableError(
        `cannot reach the control plane at ${this.baseUrl} (${cause?.code ?? cause?.message ?? (err as Error).message}); ` +
          'is `edgec server` running? (--url or EDGEC_URL)',
      );
    }
  }
}

function errorFromAnswer(method: string, path: string, status: number, text: string): ApiError {
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text as the message
  }
  const message = (body as { message?: unknown } | null)?.message;
  const detail = Array.isArray(message)
    ? message.join('; ')
    : typeof message === 'string'
      ? message
      : text.slice(0, 500) || '(no body)';
  const hint = status === 401 ? ' (check --token / EDGEC_TOKEN)' : '';
  return new ApiError(`${method} ${path}: ${status} ${detail}${hint}`, status, body);
}
