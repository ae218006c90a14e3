/**
 * A fake Hugging Face hub on 127.0.0.1:0 for the real transformers.js download code (env.remoteHost =
 * `${hub.url}/`, as HF_ENDPOINT sets it). Routes, shaped like huggingface.co:
 *   GET /<owner>/<name>/resolve/<revision>/<file>   → the file (200, Content-Length), or 206 for `Range: bytes=a-b`;
 *                                                     *.onnx answers 302 to /lfs/… like the hub's CDN redirect
 *   GET /lfs/<owner>/<name>/<file>                   → the file
 *   anything else                                    → 404 "Entry not found"
 * Every request is recorded. `fault` turns files (all, or those matching `fault.files`) into:
 *   'missing'    → 404 for everything about them
 *   'hang'       → never answers (no headers)
 *   'stall-body' → headers and the first half of the body, then silence (ranged metadata reads still answer)
 * `chunks`/`chunkDelayMs` send bodies in pieces, so a download reports progress in several steps.
 */
import http from 'node:http';
import { closeServer, listenOnLoopback } from './loopback';
import { buildTinyClipOnnx, tinyClipConfig, tinyClipPreprocessorConfig } from '../fixtures/tiny-clip';

export interface HubRequest {
  method: string;
  path: string;
  range: string | undefined;
  userAgent: string | undefined;
}

export interface HubFault {
  kind: 'missing' | 'hang' | 'stall-body';
  /** Only files whose path (e.g. "onnx/vision_model.onnx") matches; default every file. */
  files?: RegExp;
}

export class FakeHfHub {
  readonly requests: HubRequest[] = [];
  fault: HubFault | null = null;
  chunks = 1;
  chunkDelayMs = 0;
  private readonly files = new Map<string, Uint8Array>();
  private readonly held = new Set<http.ServerResponse>();
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private port = 0;

  static async start(): Promise<FakeHfHub> {
    const hub = new FakeHfHub();
    hub.port = await listenOnLoopback(hub.server);
    return hub;
  }

  /** Base URL without a trailing slash, as people write HF_ENDPOINT. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Serves `files` (path → content) for `modelId`. */
  addModel(modelId: string, files: Record<string, Uint8Array | string>): void {
    for (const [file, content] of Object.entries(files)) {
      this.files.set(`${modelId}/${file}`, typeof content === 'string' ? new TextEncoder().encode(content) : content);
    }
  }

  /** Serves the tiny CLIP-shaped model of tests/fixtures/tiny-clip.ts; returns its files. */
  addTinyClip(modelId: string, dim = 8): Record<string, Uint8Array> {
    const files: Record<string, Uint8Array> = {
      'config.json': new TextEncoder().encode(JSON.stringify(tinyClipConfig(dim), null, 2)),
      'preprocessor_config.json': new TextEncoder().encode(JSON.stringify(tinyClipPreprocessorConfig(), null, 2)),
      'onnx/vision_model.onnx': buildTinyClipOnnx(dim),
    };
    this.addModel(modelId, files);
    return files;
  }

  /** Requests that concern one model (resolve and lfs paths). */
  requestsFor(modelId: string): HubRequest[] {
    return this.requests.filter((r) => r.path.startsWith(`/${modelId}/`) || r.path.startsWith(`/lfs/${modelId}/`));
  }

  async close(): Promise<void> {
    await closeServer(this.server, this.held);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const range = typeof req.headers.range === 'string' ? req.headers.range : undefined;
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, range, userAgent: req.headers['user-agent'] });
    const route = parseRoute(decodeURIComponent(url.pathname));
    const content = route ? this.files.get(`${route.model}/${route.file}`) : undefined;
    const fault = route && this.fault && (this.fault.files?.test(route.file) ?? true) ? this.fault.kind : null;
    if (!route || !content || fault === 'missing') return notFound(res);
    if (fault === 'hang') {
      this.held.add(res);
      return;
    }
    if (route.kind === 'resolve' && route.file.endsWith('.onnx')) {
      // Large files live on the CDN; fetch follows the redirect.
      res.writeHead(302, { location: `/lfs/${route.model}/${route.file}` }).end();
      return;
    }
    const ranged = range ? parseRange(range, content.byteLength) : null;
    if (ranged) {
      const [start, end] = ranged;
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${content.byteLength}`, 'content-length': String(end - start + 1) });
      res.end(content.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { 'content-length': String(content.byteLength), 'content-type': 'application/octet-stream' });
    if (fault === 'stall-body') {
      this.held.add(res);
      res.write(content.subarray(0, Math.floor(content.byteLength / 2)));
      return;
    }
    await this.sendInPieces(res, content);
  }

  private async sendInPieces(res: http.ServerResponse, content: Uint8Array): Promise<void> {
    const size = Math.ceil(content.byteLength / Math.max(1, this.chunks));
    for (let at = 0; at < content.byteLength; at += size) {
      if (at > 0 && this.chunkDelayMs > 0) await new Promise((r) => setTimeout(r, this.chunkDelayMs));
      if (res.destroyed) return;
      res.write(content.subarray(at, at + size));
    }
    res.end();
  }
}

function parseRoute(pathname: string): { kind: 'resolve' | 'lfs'; model: string; file: string } | null {
  const resolve = /^\/([^/]+\/[^/]+)\/resolve\/[^/]+\/(.+)$/.exec(pathname);
  if (resolve) return { kind: 'resolve', model: resolve[1]!, file: resolve[2]! };
  const lfs = /^\/lfs\/([^/]+\/[^/]+)\/(.+)$/.exec(pathname);
  if (lfs) return { kind: 'lfs', model: lfs[1]!, file: lfs[2]! };
  return null;
}

function parseRange(header: string, size: number): [number, number] | null {
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const start = Number(m[1]);
  const end = Math.min(m[2] ? Number(m[2]) : size - 1, size - 1);
  return start <= end ? [start, end] : null;
}

function notFound(res: http.ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain', 'x-error-code': 'EntryNotFound' }).end('Entry not found');
}
