/**
 * A loopback HTTP proxy in front of a test registry (or standing alone) that misbehaves
 * on request: per path, answer a status, stall, send an oversized, altered, truncated,
 * endless or reset body or a Content-Length beyond any cap, redirect to a second origin,
 * or answer a canned response (e.g. a referrers API the registry lacks). It can point
 * the registry's token challenges at another realm. It records every request, with the
 * Authorization header it carried, on itself and on the second origin, so tests can
 * check where credentials went. Loopback only; stop() ends every stalled answer.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export type FaultAction =
  /** answer this status (and body) instead of the registry */
  | { type: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /** a canned answer: the registry is not asked */
  | { type: 'respond'; status?: number; headers?: Record<string, string>; body: string | Buffer }
  /** wait ms before forwarding (the client's timeout should fire first) */
  | { type: 'delay'; ms: number }
  /** 200 with `bytes` bytes; declareLength: send Content-Length (default) or stream chunked */
  | { type: 'oversize'; bytes: number; declareLength?: boolean; contentType?: string }
  /** send the headers and the first bytes of the registry's answer, then nothing more */
  | { type: 'stall-body'; afterBytes?: number }
  /** forward, then change the body (a trailing space: still JSON, different digest) */
  | { type: 'alter' }
  /** forward, keep the answer (altered if asked), and redirect the client to fetch it from another origin or this one */
  | { type: 'redirect'; to: 'cross-origin' | 'same-origin'; status?: number; alter?: boolean }
  /** send the headers (full Content-Length) and the first bytes, then reset the connection */
  | { type: 'reset-body'; afterBytes?: number }
  /** forward the first half of the body without Content-Length and end cleanly: a short but "complete" answer */
  | { type: 'truncate' }
  /** 200, then one byte every intervalMs, never ending (until the client or stop() closes it) */
  | { type: 'trickle'; intervalMs?: number }
  /** 200 declaring a Content-Length far beyond any cap, then nothing */
  | { type: 'huge-length'; bytes?: number };

export interface FaultRule {
  path: RegExp;
  method?: string;
  /** how many matching requests this rule handles; default: every one */
  times?: number;
  action: FaultAction;
}

export interface RecordedRequest {
  server: 'proxy' | 'other';
  method: string;
  path: string;
  authorization?: string;
}

export interface FaultProxy {
  /** '127.0.0.1:PORT' — use as the registry host (mark it insecure) */
  host: string;
  /** 'http://127.0.0.1:PORT' */
  origin: string;
  /** the second origin that cross-origin redirects point at */
  otherOrigin: string;
  /** replace the rules (the first matching rule acts) */
  setRules(rules: FaultRule[]): void;
  /** rules for the other origin: only 'status' and 'respond' actions apply there */
  setOtherRules(rules: FaultRule[]): void;
  requests: RecordedRequest[];
  /** requests that reached the proxy (not the other origin), optionally only matching paths */
  count(path?: RegExp): number;
  reset(): void;
  stop(): Promise<void>;
}

const MAX_STORED = 64;
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
]);

export interface FaultProxyOptions {
  /**
   * Rewrite the realm of every forwarded WWW-Authenticate challenge to this URL (e.g. a
   * second proxy in front of the registry's token server, which then records what the
   * realm receives).
   */
  realm?: string;
}

/** target: the registry's 'host:port'; without it, unmatched requests get 404. */
export async function startFaultProxy(target?: string, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  let rules: (FaultRule & { used: number })[] = [];
  let otherRules: FaultRule[] = [];
  const requests: RecordedRequest[] = [];
  const stored = new Map<string, Upstream>();
  const timers = new Set<NodeJS.Timeout>();

  const record = (server: RecordedRequest['server'], req: IncomingMessage) => {
    requests.push({
      server,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
  };

  const serveStored = (req: IncomingMessage, res: ServerResponse): boolean => {
    const m = /^\/__redirected\/([a-f0-9]+)$/.exec(req.url ?? '');
    if (!m) return false;
    const answer = stored.get(m[1]!);
    if (!answer) {
      res.writeHead(404).end();
      return true;
    }
    res.writeHead(answer.status, answer.headers);
    res.end(req.method === 'HEAD' ? undefined : answer.body);
    return true;
  };

  const other = createServer((req, res) => {
    record('other', req);
    if (serveStored(req, res)) return;
    const rule = otherRules.find((r) => r.path.test(req.url ?? '/') && (!r.method || r.method === req.method));
    const action = rule?.action;
    if (action?.type === 'status' || action?.type === 'respond') {
      res.writeHead(action.status ?? 200, action.headers ?? {});
      res.end(action.body ?? '');
      return;
    }
    res.writeHead(404).end();
  });
  const proxy = createServer((req, res) => {
    record('proxy', req);
    if (serveStored(req, res)) return;
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = req.url ?? '/';
    const rule = rules.find(
      (r) => r.path.test(path) && (!r.method || r.method === req.method) && (r.times === undefined || r.used < r.times),
    );
    if (rule) rule.used++;
    const action = rule?.action;
    switch (action?.type) {
      case 'status':
        res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
        res.end(action.body ?? JSON.stringify({ errors: [{ code: 'FAULT', message: `injected ${action.status}` }] }));
        return;
      case 'respond':
        res.writeHead(action.status ?? 200, action.headers ?? {});
        res.end(req.method === 'HEAD' ? undefined : action.body);
        return;
      case 'delay':
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            timers.delete(t);
            resolve();
          }, action.ms);
          timers.add(t);
        });
        if (res.destroyed || req.destroyed) return;
        return pipeUpstream(req, res);
      case 'oversize':
        return sendOversized(res, action);
      case 'stall-body': {
        const up = await fetchUpstream(req);
        res.writeHead(up.status, { ...up.headers, 'content-length': String(up.body.length) });
        res.write(up.body.subarray(0, action.afterBytes ?? 1));
        return; // the connection stays open until the client gives up or stop() closes it
      }
      case 'alter': {
        const up = await fetchUpstream(req);
        const body = up.status === 200 ? Buffer.concat([up.body, Buffer.from(' ')]) : up.body;
        res.writeHead(up.status, { ...up.headers, 'content-length': String(body.length) });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      case 'redirect': {
        const up = await fetchUpstream(req);
        if (action.alter && up.status === 200) up.body = Buffer.concat([up.body, Buffer.from(' ')]);
        const key = randomBytes(8).toString('hex');
        if (stored.size >= MAX_STORED) stored.delete(stored.keys().next().value!);
        stored.set(key, up);
        const base = action.to === 'cross-origin' ? otherOrigin : proxyOrigin;
        res.writeHead(action.status ?? 307, { location: `${base}/__redirected/${key}` });
        res.end();
        return;
      }
      case 'reset-body': {
        const up = await fetchUpstream(req);
        res.writeHead(up.status, { ...up.headers, 'content-length': String(up.body.length) });
        res.write(up.body.subarray(0, action.afterBytes ?? Math.floor(up.body.length / 2)), () => res.destroy());
        return;
      }
      case 'truncate': {
        const up = await fetchUpstream(req);
        res.writeHead(up.status, up.headers); // no Content-Length: chunked, so ending early is not an error
        res.end(req.method === 'HEAD' ? undefined : up.body.subarray(0, Math.floor(up.body.length / 2)));
        return;
      }
      case 'trickle': {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
        const t = setInterval(() => {
          if (res.destroyed) {
            clearInterval(t);
            timers.delete(t);
          } else res.write(' ');
        }, action.intervalMs ?? 50);
        timers.add(t);
        res.on('close', () => {
          clearInterval(t);
          timers.delete(t);
        });
        return;
      }
      case 'huge-length':
        res.writeHead(200, {
          'content-type': 'application/vnd.oci.image.manifest.v1+json',
          'content-length': String(action.bytes ?? 2 ** 40),
        });
        res.write('{'); // and nothing more: the client must refuse by the declared length
        return;
      default:
        return pipeUpstream(req, res);
    }
  };

  const pipeUpstream = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!target) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    await new Promise<void>((resolve) => {
      const up = httpRequest(
        `http://${target}${req.url ?? '/'}`,
        { method: req.method, headers: forwardHeaders(req) },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, withRealm(stripHopByHop(upRes.headers), options.realm));
          upRes.pipe(res);
          upRes.on('end', resolve);
          upRes.on('error', resolve);
        },
      );
      up.on('error', (err) => {
        if (!res.headersSent) res.writeHead(502);
        res.end(String(err));
        resolve();
      });
      req.pipe(up);
    });
  };

  const fetchUpstream = async (req: IncomingMessage): Promise<Upstream> => {
    if (!target)
      return { status: 404, headers: { 'content-type': 'text/plain' }, body: Buffer.from('404 page not found\n') };
    // redirected answers are replayed as GETs; ask the registry with GET so the body exists
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    return new Promise<Upstream>((resolve, reject) => {
      const up = httpRequest(`http://${target}${req.url ?? '/'}`, { method, headers: forwardHeaders(req) }, (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const headers = withRealm(stripHopByHop(upRes.headers), options.realm);
          delete headers['content-length'];
          resolve({ status: upRes.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
        });
        upRes.on('error', reject);
      });
      up.on('error', reject);
      req.pipe(up);
    });
  };

  for (const s of [proxy, other]) {
    s.keepAliveTimeout = 1000;
    s.requestTimeout = 30_000;
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  }
  const host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const proxyOrigin = `http://${host}`;
  const otherOrigin = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;

  return {
    host,
    origin: proxyOrigin,
    otherOrigin,
    setRules(next) {
      rules = next.map((r) => ({ ...r, used: 0 }));
    },
    setOtherRules(next) {
      otherRules = next;
    },
    requests,
    count: (path?: RegExp) => requests.filter((r) => r.server === 'proxy' && (!path || path.test(r.path))).length,
    reset() {
      requests.length = 0;
      rules = [];
      otherRules = [];
      stored.clear();
    },
    async stop() {
      for (const t of timers) clearTimeout(t); // clears intervals too
      timers.clear();
      await Promise.all([proxy, other].map((s) => closeServer(s)));
    },
  };
}

interface Upstream {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

function sendOversized(res: ServerResponse, action: Extract<FaultAction, { type: 'oversize' }>): void {
  const headers: Record<string, string> = {
    'content-type': action.contentType ?? 'application/vnd.oci.image.manifest.v1+json',
  };
  if (action.declareLength !== false) headers['content-length'] = String(action.bytes);
  res.writeHead(200, headers);
  const chunk = Buffer.alloc(64 * 1024, 0x20); // spaces: "valid" JSON padding, so only the cap can stop it
  let left = action.bytes;
  const writeMore = (): void => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(chunk.subarray(0, n))) {
        res.once('drain', writeMore);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => {
    left = 0;
  });
  writeMore();
}

function withRealm(
  headers: Record<string, string | string[]>,
  realm: string | undefined,
): Record<string, string | string[]> {
  const challenge = headers['www-authenticate'];
  if (!realm || typeof challenge !== 'string') return headers;
  return { ...headers, 'www-authenticate': challenge.replace(/realm="[^"]*"/i, `realm="${realm}"`) };
}

function forwardHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const headers = stripHopByHop(req.headers);
  delete headers.host;
  return headers;
}

function stripHopByHop(headers: IncomingMessage['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
