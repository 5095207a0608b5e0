/**
 * HTTP health check: a GET; 2xx and 3xx are healthy (redirects are not followed); with `expect`
 * the first 64 KiB of the body must contain the text. No keep-alive agent: nothing lingers.
 */
import http from 'node:http';
import https from 'node:https';

const MAX_BODY = 64 * 1024;

export function httpProbe(url: string, expect: string | undefined, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const client = url.startsWith('https:') ? https : http;
    const finish = (ok: boolean, output: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ok, output });
    };
    const req = client.get(url, { agent: false }, (res) => {
      const code = res.statusCode ?? 0;
      const line = `HTTP ${code} ${res.statusMessage ?? ''}`.trim();
      if (code < 200 || code >= 400) return finish(false, line);
      if (expect === undefined) return finish(true, line);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.includes(expect)) finish(true, `${line}; body has "${expect}"`);
        else if (body.length > MAX_BODY) finish(false, `${line}; no "${expect}" in the first 64 KiB`);
      });
      res.on('end', () => finish(false, `${line}; body lacks "${expect}": ${JSON.stringify(body.slice(0, 80))}`));
      res.on('error', (err) => finish(false, `${line}; ${err.message}`));
    });
    const timer = setTimeout(() => finish(false, `timed out after ${timeoutMs}ms`), timeoutMs);
    req.on('error', (err) => finish(false, `GET ${url}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
  });
}
