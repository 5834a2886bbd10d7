// http_fixture.mjs: TLS and forward proxies on loopback, in front of the
// fake Stripe, for the transport tests of the Stripe client
// (tests/unit/test_stripe_net.c: lib/payments/stripe.c over libcurl).
//
//   node tests/fakes/http_fixture.mjs DIR FAKE_STRIPE_URL
// makes a throwaway CA and two server certificates in DIR with the openssl
// command (good: localhost, 127.0.0.1, ::1; wrong: wrong.example only),
// listens on free ports, then writes DIR/env (shell exports):
//   STRIPE_TLS_URL           https://127.0.0.1:Q, the fake Stripe behind
//                            TLS with the good certificate
//   STRIPE_TLS_WRONG_URL     https://127.0.0.1:R, the same with the wrong one
//   HTTP_FIXTURE_CA          DIR/ca.pem
//   HTTP_FIXTURE_PROXY       http://127.0.0.1:S (a forward proxy)
//   HTTP_FIXTURE_PROXY_AUTH  http://127.0.0.1:T (the same, wanting Basic
//                            credentials HTTP_FIXTURE_PROXY_CRED, user:pass)
import crypto from 'node:crypto';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

const [dir, fakeUrl] = process.argv.slice(2);
if (!dir || !fakeUrl) {
  console.error('usage: http_fixture.mjs DIR FAKE_STRIPE_URL');
  process.exit(2);
}
const fake = new URL(fakeUrl);
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
  return { key: fs.readFileSync(file(`${name}.key`)), cert: fs.readFileSync(file(`${name}.pem`)) };
}
const good = serverCert('localhost', 'DNS:localhost,IP:127.0.0.1,IP:::1');
const wrong = serverCert('wrong.example', 'DNS:wrong.example');

// ---- TLS in front of the fake Stripe ------------------------------------------

function tlsFront(cert) {
  const s = tls.createServer(cert, (c) => {
    const up = net.connect(Number(fake.port), fake.hostname);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.pipe(up);
    up.pipe(c);
  });
  s.on('tlsClientError', () => {}); // a client that refused our certificate
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s.address().port)));
}

// ---- the forward proxies ---------------------------------------------------------
// CONNECT host:port -> a TCP tunnel; an absolute-URI request -> forwarded.
// Every request is logged as "NAME METHOD TARGET STATUS"; GET /log on
// either proxy answers the log so far and empties it. Names the proxy maps
// itself: wrong.example and good.example are 127.0.0.1 (so a test can
// name the target differently from the proxy's address); CONNECT to
// silent.invalid is never answered.
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

const env = [
  `export STRIPE_TLS_URL=https://127.0.0.1:${await tlsFront(good)}`,
  `export STRIPE_TLS_WRONG_URL=https://127.0.0.1:${await tlsFront(wrong)}`,
  `export HTTP_FIXTURE_CA=${file('ca.pem')}`,
  `export HTTP_FIXTURE_PROXY=http://127.0.0.1:${await proxy('open', false)}`,
  `export HTTP_FIXTURE_PROXY_AUTH=http://127.0.0.1:${await proxy('auth', true)}`,
  `export HTTP_FIXTURE_PROXY_CRED='${cred}'`,
].join('\n') + '\n';
fs.writeFileSync(file('env.tmp'), env);
fs.renameSync(file('env.tmp'), file('env'));
console.log(env.trim());
