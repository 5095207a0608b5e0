/**
 * HTTP(S) health check. Owns one GET per probe: 2xx and 3xx are healthy (redirects are not
 * followed: a redirect proves the server answers); with `expect` the first 64 KiB of the body must
 * contain the text. Invariants: one timer covers connect, headers and body; every outcome destroys
 * the request; no keep-alive agent (`agent: false`), so no socket outlives the probe.
 */
import http from 'node:http';
import https from 'node:https';

const MAX_BODY = 64 * 1024;
const SHOWN = 80;

export function httpProbe(url: string, expect: string | undefined, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const client = url.startsWith('https:') ? https : http;
    const finish = (ok: boolean, output: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy(); // also closes the socket: with agent false it belongs to this request alone
      resolve({ ok, output });
    };
    const options: https.RequestOptions = {
      agent: false,
      headers: { 'user-agent': 'upkeep-health', accept: '*/*' },
      // Like kubelet's httpGet probe: liveness asks whether the service answers, not who it is, and
      // a check of 127.0.0.1 rarely matches the certificate's name.
      rejectUnauthorized: false,
    };
    // Throws synchronously on a malformed URL or protocol: runProbe turns that into a failure.
    const req = client.get(url, options, (res) => {
      const code = res.statusCode ?? 0;
      const line = `HTTP ${code} ${res.statusMessage ?? ''}`.trim();
      if (code < 200 || code >= 400) return finish(false, line);
      if (expect === undefined) return finish(true, line);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        // Search only the new text plus an overlap, so a large body costs O(n), not O(n²).
        const from = Math.max(0, body.length - expect.length + 1);
        body += chunk;
        if (body.indexOf(expect, from) >= 0) finish(true, `${line}; body has ${JSON.stringify(expect)}`);
        else if (body.length >= MAX_BODY) finish(false, `${line}; no ${JSON.stringify(expect)} in the first 64 KiB`);
      });
      res.on('end', () => finish(false, `${line}; body lacks ${JSON.stringify(expect)}: ${JSON.stringify(body.slice(0, SHOWN))}`));
      res.on('error', (err) => finish(false, `${line}; ${err.message}`));
    });
    const timer = setTimeout(() => finish(false, `timed out after ${timeoutMs}ms`), timeoutMs);
    // err.message reads like `connect ECONNREFUSED 127.0.0.1:9`; after finish() it is ignored.
    req.on('error', (err) => finish(false, err.message));
  });
}
