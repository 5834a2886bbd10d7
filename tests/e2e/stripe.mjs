// stripe.mjs: the Stripe Elements checkout in headless Chromium, against a
// stack started in Stripe mode (PAYMENT_PROVIDER=stripe, a publishable key,
// STRIPE_API_BASE at tests/fakes/fake_stripe.mjs; scripts/test.sh does it).
//
// Run with `node --test stripe.mjs` (tests/e2e/run.sh stripe.mjs). There is
// no internet here, so https://js.stripe.com/v3/ is answered by
// fake_stripe_js.js through page.route; the page's own Content-Security-
// Policy still decides whether that script may load. The card typed into the
// stand-in becomes a Stripe test token, app.js posts it, the payments
// program charges it at the fake Stripe API, and the worker completes the
// order. Steps run in order and share one buyer's browser.
//
// Environment:
//   BASE_URL                the stack's nginx (default http://127.0.0.1:8080)
//   STRIPE_PUBLISHABLE_KEY  the key the stack runs with (it must reach Stripe())
//   FAKE_STRIPE_URL         the fake Stripe API, to check the charge (optional)
//   CHROMIUM, SCREENSHOT_DIR as for journey.mjs
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const BASE = (process.env.BASE_URL || process.env.TEST_BASE_URL ||
	'http://127.0.0.1:8080').replace(/\/$/, '');
const KEY = process.env.STRIPE_PUBLISHABLE_KEY || '';
const FAKE_API = (process.env.FAKE_STRIPE_URL || '').replace(/\/$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = resolve(process.env.SCREENSHOT_DIR || join(HERE, '..', 'screenshots'));
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];
const STRIPE_JS = 'https://js.stripe.com/v3/';
const FAKE_STRIPE_JS = readFileSync(join(HERE, 'fake_stripe_js.js'), 'utf8');
const RUN = Date.now().toString(36);
const PASSWORD = 'password1';
const TITLE = `Stripe concert ${RUN}`;

let browser;
let buyer; // { ctx, page }
const st = {};
// Seen on every page, asserted by the last step.
const cspMessages = [];
const pageErrors = [];
const stripeJsLoads = []; // pages that fetched https://js.stripe.com/v3/
const otherStripe = []; // any other request to a stripe.com host
const payPosts = []; // every POST to /orders/:id/pay, with its form body
// Every form.submit() a page called (app.js posts the token that way),
// counted in the page: an aborted POST may leave no request event.
const formSubmits = [];

before(async () => {
	assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found`);
	assert.match(KEY, /^pk_test_/, 'STRIPE_PUBLISHABLE_KEY must be the stack\'s pk_test_ key');
	mkdirSync(SHOTS, { recursive: true });
	browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

after(async () => {
	if (browser)
		await browser.close();
});

function test(name, fn) {
	return nodeTest(name, { timeout: 60_000 }, fn);
}

function need(value, what) {
	if (!value)
		throw new Error(`not run: needs ${what} from an earlier step`);
	return value;
}

async function newContext(label) {
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	ctx.setDefaultTimeout(10_000);
	ctx.setDefaultNavigationTimeout(15_000);
	await ctx.route(/^https:\/\/([a-z0-9-]+\.)*stripe\.com\//, (route) => {
		const url = route.request().url();
		if (url === STRIPE_JS) {
			stripeJsLoads.push(`${label} ${route.request().frame().url()}`);
			return route.fulfill({ status: 200, contentType: 'application/javascript', body: FAKE_STRIPE_JS });
		}
		otherStripe.push(`${label}: ${url}`);
		return route.abort();
	});
	await ctx.exposeFunction('__e2eFormSubmitted', (action) => { formSubmits.push(action); });
	await ctx.addInitScript(() => {
		const submit = HTMLFormElement.prototype.submit;
		HTMLFormElement.prototype.submit = function () {
			window.__e2eFormSubmitted(this.action);
			return submit.call(this);
		};
	});
	const page = await ctx.newPage();
	page.on('console', (m) => {
		if (/Content[- ]Security[- ]Policy/i.test(m.text()))
			cspMessages.push(`${label} ${page.url()}: ${m.text()}`);
	});
	page.on('pageerror', (e) => pageErrors.push(`${label} ${page.url()}: ${e.message}`));
	page.on('request', (r) => {
		if (r.method() === 'POST' && /\/orders\/[^/]+\/pay$/.test(new URL(r.url()).pathname))
			payPosts.push(new URLSearchParams(r.postData() || ''));
	});
	return { ctx, page };
}

async function snap(page, name) {
	await page.screenshot({ path: join(SHOTS, `stripe-${name}.desktop.png`), fullPage: true });
}

// Submit by clicking, and wait for the page that answers.
async function submit(page, selector) {
	const [resp] = await Promise.all([
		page.waitForNavigation({ waitUntil: 'load' }),
		page.click(selector),
	]);
	return resp;
}

async function signUp(page, email) {
	await page.goto(`${BASE}/auth/signup`);
	await page.fill('#email', email);
	await page.fill('#password', PASSWORD);
	await submit(page, 'form button[type=submit]');
	assert.equal(new URL(page.url()).pathname, '/', `sign-up ended on ${page.url()}`);
}

// The directives of a Content-Security-Policy header, by name.
function cspDirectives(header) {
	const out = {};
	for (const part of (header || '').split(';')) {
		const [name, ...values] = part.trim().split(/\s+/);
		if (name)
			out[name] = values;
	}
	return out;
}

// The card element as app.js mounted it, and what the stand-in recorded.
async function cardState(page) {
	return page.evaluate(() => ({
		keys: window.__fakeStripe ? window.__fakeStripe.keys : null,
		mounts: window.__fakeStripe ? window.__fakeStripe.mounts : 0,
		inputs: document.querySelectorAll('#card-element input[data-fake-stripe=card]').length,
		dataKey: document.getElementById('card-element')?.getAttribute('data-stripe-key') ?? null,
		selects: document.querySelectorAll('select[name=token]').length,
		hiddenTokens: [...document.querySelectorAll('form.pay input[name=token]')].map((e) => `${e.type}=${e.value}`),
	}));
}

async function assertCardMounted(page, where) {
	await page.locator('#card-element input[data-fake-stripe=card]').waitFor({ state: 'visible' });
	const s = await cardState(page);
	assert.deepEqual(s.keys, [KEY], `${where}: app.js gave Stripe() the publishable key`);
	assert.equal(s.dataKey, KEY, `${where}: data-stripe-key`);
	assert.equal(s.mounts, 1, `${where}: the card is mounted once`);
	assert.equal(s.inputs, 1, `${where}: the card input is inside #card-element`);
	assert.equal(s.selects, 0, `${where}: no test-card <select name=token> in Stripe mode`);
	assert.deepEqual(s.hiddenTokens, ['hidden='], `${where}: one empty hidden token input`);
}

// Reload /orders until the order's line reads "<title> - <status>".
async function waitOrderStatus(page, orderId, status, ms) {
	const end = Date.now() + ms;
	let text = '';
	for (;;) {
		await page.goto(`${BASE}/orders`);
		const link = page.locator(`ul.orders a[href="/orders/${orderId}"]`);
		text = (await link.count()) ? (await link.textContent()).replace(/\s+/g, ' ').trim() : '(not listed)';
		if (text.endsWith(` - ${status}`) || Date.now() > end)
			return text;
		await page.waitForTimeout(300);
	}
}

async function fakeApi(path) {
	const r = await fetch(`${FAKE_API}${path}`);
	assert.equal(r.status, 200, `fake Stripe ${path}`);
	return r.json();
}

// ---- the scenario -----------------------------------------------------------

test('stripe: a seller sells a ticket; a buyer purchases it', async () => {
	const seller = await newContext('seller');
	try {
		await signUp(seller.page, `seller-stripe-${RUN}@example.com`);
		await seller.page.goto(`${BASE}/tickets/new`);
		await seller.page.fill('#title', TITLE);
		await seller.page.fill('#price', '20');
		await submit(seller.page, 'form button[type=submit]');
		assert.equal(seller.page.url(), `${BASE}/`, 'selling goes back to /');
		const href = await seller.page.locator('table tbody tr', { hasText: TITLE })
			.locator('a[href^="/tickets/"]').first().getAttribute('href');
		st.ticketId = href.split('/').pop();
	} finally {
		await seller.ctx.close();
	}
	buyer = await newContext('buyer');
	const { page } = buyer;
	await signUp(page, `buyer-stripe-${RUN}@example.com`);
	await page.goto(`${BASE}/tickets/${st.ticketId}`);
	await submit(page, 'main form button:has-text("Purchase")');
	const m = /\/orders\/([0-9a-f-]{36})$/.exec(page.url());
	assert.ok(m, `purchase went to ${page.url()}`);
	st.orderId = m[1];
});

test('stripe: the checkout mounts the card element with the publishable key; the CSP admits Stripe', async () => {
	need(st.orderId, 'the buyer\'s order');
	const { page } = need(buyer, 'the buyer\'s browser');
	const resp = await page.goto(`${BASE}/orders/${st.orderId}`);
	assert.equal(resp.status(), 200);
	const csp = cspDirectives(resp.headers()['content-security-policy']);
	assert.ok(csp['script-src']?.includes('https://js.stripe.com'), `script-src admits js.stripe.com: ${csp['script-src']}`);
	assert.ok(!csp['script-src'].some((v) => /unsafe/.test(v)), `script-src stays strict: ${csp['script-src']}`);
	assert.ok(csp['frame-src']?.includes('https://js.stripe.com'), `frame-src admits js.stripe.com: ${csp['frame-src']}`);
	assert.ok(csp['connect-src']?.includes('https://api.stripe.com'), `connect-src admits api.stripe.com: ${csp['connect-src']}`);
	assert.deepEqual(csp['frame-ancestors'], ["'none'"]);
	assert.ok(stripeJsLoads.some((l) => l.endsWith(`/orders/${st.orderId}`)), `Stripe.js was fetched: ${stripeJsLoads}`);
	await assertCardMounted(page, 'checkout');
	await snap(page, 'checkout');
});

test('stripe: a bad number is refused in the page, and nothing is posted', async () => {
	need(st.orderId, 'the buyer\'s order');
	const { page } = need(buyer, 'the buyer\'s browser');
	const card = page.locator('#card-element input[data-fake-stripe=card]');
	const errors = page.locator('#card-errors');
	// Stripe's change events: an invalid number is said as it is typed...
	await card.fill('4242 42x');
	await assert.doesNotReject(errors.filter({ hasText: 'Your card number is invalid.' }).waitFor(), 'the change event\'s error');
	await card.fill('4242 4242');
	await page.waitForFunction(() => document.getElementById('card-errors').textContent === '');
	// ...and an incomplete one when the form is submitted.
	const url = page.url();
	await page.click('form.pay button[type=submit]');
	await assert.doesNotReject(errors.filter({ hasText: 'Your card number is incomplete.' }).waitFor(), 'createToken\'s error');
	await page.waitForTimeout(300);
	assert.equal(page.url(), url, 'still on the checkout');
	assert.deepEqual([formSubmits.length, payPosts.length], [0, 0], 'nothing was posted');
	assert.equal(await page.inputValue('form.pay input[name=token]'), '');
	await snap(page, 'incomplete');
});

test('stripe: a declined card shows Stripe\'s reason inline, with the card form again', async () => {
	need(st.orderId, 'the buyer\'s order');
	const { page } = need(buyer, 'the buyer\'s browser');
	await page.fill('#card-element input[data-fake-stripe=card]', '4000 0000 0000 0002');
	const r = await submit(page, 'form.pay button[type=submit]');
	assert.deepEqual([formSubmits.length, payPosts.length], [1, 1], 'one POST');
	assert.equal(payPosts[0].get('token'), 'tok_chargeDeclined', 'the token from Stripe.js was posted');
	assert.equal(r.status(), 400);
	assert.equal(new URL(page.url()).pathname, `/orders/${st.orderId}/pay`);
	assert.match(await page.textContent('main .errors'), /Your card was declined\./);
	// The retry page (pay.tpl) has the Stripe card field too.
	await assertCardMounted(page, 'retry page');
	assert.equal(await page.textContent('#card-errors'), '', 'no stale card error');
	if (FAKE_API) {
		const { requests } = await fakeApi('/_control/requests');
		assert.ok(requests.some((q) => q.form?.source === 'tok_chargeDeclined' &&
			q.form?.['metadata[orderId]'] === st.orderId), 'the declined charge reached the Stripe API');
	}
	await snap(page, 'declined');
});

test('stripe: the good card pays once, even clicked twice; the order is complete', async () => {
	need(st.orderId, 'the buyer\'s order');
	const { page } = need(buyer, 'the buyer\'s browser');
	await page.fill('#card-element input[data-fake-stripe=card]', '4242 4242 4242 4242');
	// An impatient buyer clicks Pay again while the first POST is on its
	// way (held here for a second, as a real charge takes): a second POST
	// would cancel the first page load and come back "Order has already
	// been paid" after the first one charged.
	const held = /\/orders\/[^/]+\/pay$/;
	const submitted = formSubmits.length;
	await page.route(held, async (route) => {
		await new Promise((r) => setTimeout(r, 1000));
		await route.continue().catch(() => {}); // the browser gave it up
	});
	const landed = page.waitForURL(`${BASE}/orders`, { waitUntil: 'load' }).then(() => null, (e) => e.message);
	await page.evaluate(() => {
		const pay = document.querySelector('form.pay button[type=submit]');
		pay.click();
		setTimeout(() => pay.click(), 300);
	});
	const navError = await landed;
	await page.unroute(held);
	assert.equal(formSubmits.length - submitted, 1, 'one POST, however many clicks');
	assert.equal(navError, null, `paying lands on /orders (at ${page.url()})`);
	assert.equal(payPosts.at(-1).get('token'), 'tok_visa');
	assert.equal(await page.locator('main .errors').count(), 0, 'no error on /orders');
	const loads = stripeJsLoads.length;
	// payment:created reaches orders through the worker.
	assert.equal(await waitOrderStatus(page, st.orderId, 'complete', 10_000), `${TITLE} - complete`);
	await snap(page, 'orders-complete');
	if (FAKE_API) {
		const { charges } = await fakeApi('/_control/charges');
		const mine = charges.filter((c) => c.metadata.orderId === st.orderId);
		assert.equal(mine.length, 1, 'one charge for the order');
		assert.equal(mine[0].source, 'tok_visa');
		assert.equal(mine[0].amount, 2000);
		assert.equal(mine[0].refunded, false);
	}
	await page.goto(`${BASE}/orders/${st.orderId}`);
	assert.equal(await page.locator('form.pay').count(), 0, 'a paid order has no pay form');
	assert.equal(stripeJsLoads.length, loads, 'Stripe.js is loaded only where a card is taken');
	await buyer.ctx.close();
	buyer = null;
});

test('stripe: no CSP violation, no script error, no other request to Stripe', () => {
	assert.deepEqual(cspMessages, []);
	assert.deepEqual(pageErrors, []);
	assert.deepEqual(otherStripe, []);
});
