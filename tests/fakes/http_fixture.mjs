// http_fixture.mjs: scripted HTTP/1.1 answers over http and https on
// loopback, for the unit tests of lib/core/http_client.c.
//
//   node tests/fakes/http_fixture.mjs DIR
// makes a throwaway CA and two server certificates in DIR with the openssl
// command (good: localhost, 127.0.0.1, ::1; wrong: wrong.example only),
// listens on free ports, then writes DIR/env (shell exports):
//   HTTP_FIXTURE_URL         http://127.0.0.1:P
//   HTTP_FIXTURE_URL6        http://[::1]:P (only when ::1 is usable)
//   HTTPS_FIXTURE_URL        https://127.0.0.1:Q (the good certificate)
//   HTTPS_FIXTURE_WRONG_URL  https://127.0.0.1:R (the wrong one)
//   HTTP_FIXTURE_CA          DIR/ca.pem
//   HTTP_FIXTURE_PROXY       http://127.0.0.1:S (a forward proxy)
//   HTTP_FIXTURE_PROXY_AUTH  http://127.0.0.1:T (the same, wanting Basic
//                            credentials HTTP_FIXTURE_PROXY_CRED, user:pass)
//
// Every server reads one request (head, then Content-Length bytes) and
// answers by path with the raw bytes below; ?dribble=1 sends them one byte
// at a time. /echo answers with the request exactly as received.
import crypto from 'node:crypto';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: http_fixture.mjs DIR');
  process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });

// ---- certificates ---------------------------------------------------------

const file = (name) => path.join(dir, name);
const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'inherit'] });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

openssl('req', '-x509', ...EC, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2',
  '-subj', '/CN=ticketing http_fixture CA', '-addext', 'basicConstraints=critical,CA:TRUE',
  '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
function serverCert(name, san) {
  fs.writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n` +
    'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  openssl('req', '-new', ...EC, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`),
    '-subj', `/CN=${name}`);
  openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-set_serial', '0x' + crypto.randomBytes(8).toString('hex'), '-days', '2',
    '-extfile', file(`${name}.ext`), '-out', file(`${name}.pem`));
  return tls.createSecureContext({ key: fs.readFileSync(file(`${name}.key`)), cert: fs.readFileSync(file(`${name}.pem`)) });
}
const good = serverCert('localhost', 'DNS:localhost,IP:127.0.0.1,IP:::1');
const wrong = serverCert('wrong.example', 'DNS:wrong.example');

// ---- the scripted answers ---------------------------------------------------

const big = 'x'.repeat(300000);
const answers = {
  '/cl': 'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nhello, world',
  '/status-404': 'HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found',
  '/chunked': 'HTTP/1.1 200 OK\r\ntransfer-ENCODING: Chunked\r\n\r\n' +
    '5;name=value\r\nhello\r\n7 \r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n',
  '/eof': 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nread until the end',
  '/continue': 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  '/big': `HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n${big}`,
  '/big-chunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
    `${(big.length / 3).toString(16)}\r\n${big.slice(0, big.length / 3)}\r\n`.repeat(3) + '0\r\n\r\n',
  '/big-eof': `HTTP/1.1 200 OK\r\n\r\n${big}`,
  '/truncated-cl': 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this',
  '/truncated-chunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
  '/truncated-head': 'HTTP/1.1 200 OK\r\nContent-Le',
  '/garbage': 'SSH-2.0-OpenSSH_9.2\r\n\r\n',
  '/bad-chunk': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
  '/two-lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  '/huge-header': `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20000)}\r\nContent-Length: 0\r\n\r\n`,
  '/gzip': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
};
// Answers that end differently from "write the bytes, then close cleanly".
const special = {
  '/silent': () => {}, // never answers, keeps the connection
  '/no-content': (c) => c.write('HTTP/1.1 204 No Content\r\n\r\n'), // and stays open
  '/slow-body': (c) => { // 20 bytes, one every 100 ms
    c.write('HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n');
    let n = 0;
    const t = setInterval(() => { if (c.destroyed || ++n > 20) clearInterval(t); else c.write('s'); }, 100);
  },
  '/eof-unclean': (c, raw) => { // https: TCP closed without TLS close_notify
    c.write(answers['/eof'], () => setTimeout(() => raw.destroy(), 50));
  },
};

function answer(c, raw, head, body) {
  const target = head.split(' ')[1] || '/';
  const [p, query] = target.split('?');
  if (special[p]) return special[p](c, raw);
  let out = p === '/echo'
    ? Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${head.length + body.length}\r\n\r\n`), Buffer.from(head, 'latin1'), body])
    : Buffer.from(answers[p] || 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', 'latin1');
  if (query !== 'dribble=1') return c.end(out);
  let i = 0;
  const t = setInterval(() => {
    if (c.destroyed) return clearInterval(t);
    c.write(out.subarray(i, i + 1));
    if (++i === out.length) { clearInterval(t); c.end(); }
  }, 1);
}

// Read one request from c (head up to CRLF CRLF, then Content-Length bytes).
function serve(c, raw) {
  let buf = Buffer.alloc(0);
  let done = false;
  c.on('error', () => {});
  raw.on('error', () => {});
  raw.setNoDelay(true);
  c.on('data', (d) => {
    if (done) return;
    buf = Buffer.concat([buf, d]);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = buf.subarray(0, end + 4).toString('latin1');
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    const body = buf.subarray(end + 4);
    if (m && body.length < Number(m[1])) return;
    done = true;
    answer(c, raw, head, body);
  });
}

// ---- listening ----------------------------------------------------------------

function listen(ctx) {
  const onConn = ctx
    ? (raw) => serve(new tls.TLSSocket(raw, { isServer: true, secureContext: ctx }), raw)
    : (raw) => serve(raw, raw);
  return new Promise((resolve, reject) => {
    const s4 = net.createServer(onConn);
    s4.on('error', reject);
    s4.listen(0, '127.0.0.1', () => {
      const port = s4.address().port;
      const s6 = net.createServer(onConn);
      s6.on('error', () => resolve({ port, v6: false }));
      s6.listen(port, '::1', () => resolve({ port, v6: true }));
    });
  });
}

// ---- the forward proxies ---------------------------------------------------------
// CONNECT host:port -> a TCP tunnel; an absolute-URI request -> forwarded.
// Every request is logged as "NAME METHOD TARGET STATUS"; GET /log on
// either proxy answers the log so far and empties it. Names the proxy maps
// itself: wrong.example and good.example are 127.0.0.1 (so a test can
// name the target differently from the proxy's address); CONNECT to
// silent.invalid is never answered; to extra.invalid it answers 200 with
// bytes after the head.
const cred = 'proxyuser:p@ss w:rd';
let proxyLog = [];
const alias = { 'wrong.example': '127.0.0.1', 'good.example': '127.0.0.1' };
const hostOf = (h) => alias[h] || h.replace(/^\[(.*)\]$/, '$1');

function proxy(name, wantAuth) {
  const authorized = (req) => !wantAuth ||
    req.headers['proxy-authorization'] === 'Basic ' + Buffer.from(cred).toString('base64');
  const s = http.createServer((req, res) => {
    if (req.url === '/log') {
      const body = proxyLog.join('\n');
      proxyLog = [];
      return res.end(body);
    }
    const log = (status) => proxyLog.push(`${name} ${req.method} ${req.url} ${status}`);
    if (!authorized(req)) {
      log(407);
      res.writeHead(407, { 'Proxy-Authenticate': 'Basic realm="fixture"' });
      return res.end('proxy auth needed');
    }
    let u;
    try { u = new URL(req.url); } catch { log(400); res.writeHead(400); return res.end(); }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const fwd = http.request({ host: hostOf(u.hostname), port: u.port || 80, method: req.method,
      path: u.pathname + u.search, headers, agent: false }, (r) => {
      log(r.statusCode);
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    fwd.on('error', () => { log(502); res.writeHead(502); res.end(); });
    req.pipe(fwd);
  });
  s.on('connect', (req, sock, head) => {
    const log = (status) => proxyLog.push(`${name} CONNECT ${req.url} ${status}`);
    sock.on('error', () => {});
    if (!authorized(req)) {
      log(407);
      return sock.end('HTTP/1.1 407 Proxy Authentication Required\r\n' +
        'Proxy-Authenticate: Basic realm="fixture"\r\nContent-Length: 0\r\n\r\n');
    }
    const i = req.url.lastIndexOf(':');
    const host = req.url.slice(0, i), port = Number(req.url.slice(i + 1));
    if (host === 'silent.invalid') return log('silent');
    if (host === 'extra.invalid') {
      log(200);
      return sock.write('HTTP/1.1 200 Connection established\r\n\r\nEXTRA');
    }
    let open = false;
    const up = net.connect(port, hostOf(host), () => {
      open = true;
      log(200);
      sock.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(sock);
      sock.pipe(up);
    });
    up.on('error', () => {
      if (open) return sock.destroy();
      log(502);
      sock.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    });
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s.address().port)));
}

const plain = await listen(null);
const https = await listen(good);
const wrongHttps = await listen(wrong);
const env = [
  `export HTTP_FIXTURE_URL=http://127.0.0.1:${plain.port}`,
  plain.v6 ? `export HTTP_FIXTURE_URL6=http://[::1]:${plain.port}` : '',
  `export HTTPS_FIXTURE_URL=https://127.0.0.1:${https.port}`,
  `export HTTPS_FIXTURE_WRONG_URL=https://127.0.0.1:${wrongHttps.port}`,
  `export HTTP_FIXTURE_CA=${file('ca.pem')}`,
  `export HTTP_FIXTURE_PROXY=http://127.0.0.1:${await proxy('open', false)}`,
  `export HTTP_FIXTURE_PROXY_AUTH=http://127.0.0.1:${await proxy('auth', true)}`,
  `export HTTP_FIXTURE_PROXY_CRED='${cred}'`,
].filter(Boolean).join('\n') + '\n';
fs.writeFileSync(file('env.tmp'), env);
fs.renameSync(file('env.tmp'), file('env'));
console.log(env.trim());
