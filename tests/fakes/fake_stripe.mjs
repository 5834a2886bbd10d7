// fake_stripe.mjs: a small fake of Stripe's Charges and Refunds API on
// loopback, so that the real Stripe client (lib/payments/stripe.c over
// libcurl) runs in `make test` (https and proxies in front of it:
// tests/fakes/http_fixture.mjs).
//
//   node tests/fakes/fake_stripe.mjs PORTFILE [KEY]
// listens on 127.0.0.1 (FAKE_STRIPE_HOST if set: an address the app hosts
// of scripts/failover.sh reach) on a free port, written to PORTFILE once
// listening; KEY (default sk_test_fake) is the only accepted secret key.
//
// It checks what Stripe checks: Authorization: Bearer KEY (401 otherwise),
// a form-encoded body, amount a positive integer (>= 50: amount_too_small),
// currency usd, source present, and it requires an Idempotency-Key on
// every POST (400 otherwise; Stripe would not, but our client must send
// one). Idempotency as Stripe: the first response for a key is saved,
// including 500s, and replayed with Idempotent-Replayed: true; the same key
// with other parameters is a 400 idempotency_error; the same key while the
// first request is still running is a 409.
//
// Tokens: tok_visa, tok_mastercard charge; tok_chargeDeclined*,
// Stripe's declines; anything else "No such token". Magic tokens for
// faults: tok_fake_500 (500 before charging), tok_fake_500_after_charge
// (charges, then 500), tok_fake_timeout (charges, then answers after
// 30 s: the client times out), tok_fake_delay_<ms> (charges after <ms>),
// tok_fake_redirect (a 302 to /v1/charges?followed=1, which a client must
// not follow), tok_fake_huge and tok_fake_huge_chunked (a 200 of 300 kB,
// with and without Content-Length, no charge).
//
// Control (no auth): GET /_control/charges -> {"charges":[...]} with id,
// amount, currency, source, description, metadata, idempotencyKey,
// refunded, refundIds; GET /_control/requests -> the last 200 requests
// (path, headers, form); POST /_control/reset forgets everything.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';

const portFile = process.argv[2];
const KEY = process.argv[3] || 'sk_test_fake';
let charges = [];
let requests = [];
let idem = new Map(); // key -> {params, done, status, body}

const declines = {
  tok_chargeDeclined: ['card_declined', 'generic_decline', 'Your card was declined.'],
  tok_chargeDeclinedInsufficientFunds: ['card_declined', 'insufficient_funds', 'Your card has insufficient funds.'],
  tok_chargeDeclinedExpiredCard: ['expired_card', undefined, 'Your card has expired.'],
  tok_chargeDeclinedIncorrectCvc: ['incorrect_cvc', undefined, "Your card's security code is incorrect."],
};

const rid = (p) => p + '_' + crypto.randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 24).padEnd(24, 'x');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const err = (status, type, message, extra = {}) => ({ status, body: { error: { type, message, ...extra } } });

function send(res, { status, body, headers = {}, chunked = false }, replayed) {
  const text = JSON.stringify(body);
  const h = { 'Content-Type': 'application/json', ...headers };
  if (!chunked) h['Content-Length'] = Buffer.byteLength(text);
  if (replayed) h['Idempotent-Replayed'] = 'true';
  try {
    res.writeHead(status, h);
    if (!chunked) return res.end(text);
    for (let i = 0; i < text.length; i += 16384) res.write(text.slice(i, i + 16384));
    res.end();
  } catch { /* the client left */ }
}

function newCharge(f, key) {
  const c = {
    id: rid('ch'), object: 'charge', amount: Number(f.amount), currency: f.currency,
    source: f.source, description: f.description || null, metadata: {},
    idempotencyKey: key, refunded: false, refundIds: [], status: 'succeeded', paid: true, captured: true,
  };
  for (const [k, v] of Object.entries(f)) {
    const m = /^metadata\[(.+)\]$/.exec(k);
    if (m) c.metadata[m[1]] = v;
  }
  charges.push(c);
  return c;
}

async function charge(f, key) {
  if (!/^[1-9][0-9]{0,7}$/.test(f.amount || '')) return err(400, 'invalid_request_error', 'Invalid integer: ' + f.amount, { param: 'amount' });
  if (Number(f.amount) < 50) return err(400, 'invalid_request_error', 'Amount must be at least $0.50 usd', { code: 'amount_too_small', param: 'amount' });
  if (f.currency !== 'usd') return err(400, 'invalid_request_error', 'Invalid currency: ' + f.currency, { param: 'currency' });
  const src = f.source || '';
  if (!src) return err(400, 'invalid_request_error', 'You must supply either a card, customer, PII data, bank account, or account legal entity to create a token.', { param: 'source' });
  if (src === 'tok_fake_500') return err(500, 'api_error', 'An unknown error occurred');
  if (src === 'tok_fake_redirect')
    return { status: 302, headers: { Location: '/v1/charges?followed=1' }, body: { moved: true } };
  if (src === 'tok_fake_huge' || src === 'tok_fake_huge_chunked')
    return { status: 200, chunked: src === 'tok_fake_huge_chunked',
      body: { id: rid('ch'), object: 'charge', padding: 'x'.repeat(300000) } };
  if (declines[src]) {
    const [code, decline_code, message] = declines[src];
    return err(402, 'card_error', message, { code, decline_code, charge: rid('ch') });
  }
  const delay = /^tok_fake_delay_([0-9]{1,6})$/.exec(src);
  if (src === 'tok_fake_timeout' || src === 'tok_fake_500_after_charge' || delay ||
      src === 'tok_visa' || src === 'tok_mastercard') {
    if (delay) await sleep(Number(delay[1]));
    const c = newCharge(f, key);
    if (src === 'tok_fake_500_after_charge') return err(500, 'api_error', 'An unknown error occurred');
    if (src === 'tok_fake_timeout') await sleep(30000);
    return { status: 200, body: c };
  }
  return err(400, 'invalid_request_error', `No such token: '${src}'`, { code: 'resource_missing', param: 'source' });
}

async function refund(f) {
  const c = charges.find((x) => x.id === f.charge);
  if (!c) return err(400, 'invalid_request_error', `No such charge: '${f.charge}'`, { code: 'resource_missing', param: 'charge' });
  if (c.refunded) return err(400, 'invalid_request_error', `Charge ${c.id} has already been refunded.`, { code: 'charge_already_refunded' });
  const r = { id: rid('re'), object: 'refund', amount: c.amount, charge: c.id, status: 'succeeded' };
  c.refunded = true;
  c.refundIds.push(r.id);
  return { status: 200, body: r };
}

async function api(req, res, f) {
  if (req.headers.authorization !== 'Bearer ' + KEY)
    return send(res, err(401, 'invalid_request_error', 'Invalid API Key provided'));
  if (!(req.headers['content-type'] || '').startsWith('application/x-www-form-urlencoded'))
    return send(res, err(400, 'invalid_request_error', 'Invalid request: not form-encoded'));
  const key = req.headers['idempotency-key'];
  if (!key) return send(res, err(400, 'invalid_request_error', 'fake: Idempotency-Key required'));
  const params = req.url + '?' + JSON.stringify(f);
  const seen = idem.get(key);
  if (seen && seen.params !== params)
    return send(res, err(400, 'idempotency_error', 'Keys for idempotent requests can only be used with the same parameters they were first used with.'));
  if (seen && !seen.done)
    return send(res, err(409, 'idempotency_error', 'There is currently another in-progress request using this Stripe API key and idempotency key.'));
  if (seen) return send(res, seen.answer, true);
  const entry = { params, done: false };
  idem.set(key, entry);
  const answer = req.url === '/v1/charges' ? await charge(f, key) : await refund(f);
  entry.done = true;
  entry.answer = answer;
  send(res, answer, false);
}

const server = http.createServer((req, res) => {
  let data = '';
  req.setEncoding('utf8');
  req.on('data', (d) => { data += d; if (data.length > 65536) req.destroy(); });
  req.on('end', () => {
    const f = Object.fromEntries(new URLSearchParams(data));
    if (req.url.startsWith('/v1/')) {
      requests.push({ method: req.method, path: req.url, headers: req.headers, form: f });
      if (requests.length > 200) requests.shift();
    }
    if (req.method === 'GET' && req.url === '/_control/charges') return send(res, { status: 200, body: { charges } });
    if (req.method === 'GET' && req.url === '/_control/requests') return send(res, { status: 200, body: { requests } });
    if (req.method === 'POST' && req.url === '/_control/reset') {
      charges = []; requests = []; idem = new Map();
      return send(res, { status: 200, body: { ok: true } });
    }
    if (req.method === 'POST' && (req.url === '/v1/charges' || req.url === '/v1/refunds'))
      return api(req, res, f).catch((e) => send(res, err(500, 'api_error', String(e))));
    send(res, err(404, 'invalid_request_error', 'Unrecognized request URL'));
  });
});

server.listen(0, process.env.FAKE_STRIPE_HOST || '127.0.0.1', () => {
  const { port } = server.address();
  if (portFile) fs.writeFileSync(portFile + '.tmp', String(port)), fs.renameSync(portFile + '.tmp', portFile);
  else console.log(port);
});
process.on('SIGTERM', () => { server.close(); process.exit(0); });
