// journey.mjs: the whole ticketing journey in headless Chromium, against a
// running stack (scripts/test.sh starts one; see tests/e2e/README.md).
//
// Run with `node --test journey.mjs`. The steps share one browser and run in
// order; a step that needs an earlier one's result says so when that result
// is missing, so one broken part (payments, the expiry scheduler) does not
// hide the state of the others. Every page visited is saved as a desktop and
// a phone screenshot under tests/screenshots/ (git-ignored).
//
// Environment:
//   BASE_URL                    the stack's nginx (default http://127.0.0.1:8080)
//   EXPIRATION_WINDOW_SECONDS   the window the stack runs with (default 900);
//                               the expiry step needs it <= 60
//   CHROMIUM                    the browser (default /usr/bin/chromium)
//   SCREENSHOT_DIR              default tests/screenshots
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const BASE = (process.env.BASE_URL || process.env.TEST_BASE_URL ||
	'http://127.0.0.1:8080').replace(/\/$/, '');
const WINDOW = Number(process.env.EXPIRATION_WINDOW_SECONDS || 900);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = resolve(process.env.SCREENSHOT_DIR || join(HERE, '..', 'screenshots'));
// deps.md section 11: the flags that work in this container.
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const XSS = '<img src=x onerror=alert(1)>';
const RUN = Date.now().toString(36);
const PASSWORD = 'password1';

let browser;
let shotNo = 0;
// Problems seen by the listeners on every page, asserted by the last steps.
const dialogs = [];
const cspMessages = [];
const pageErrors = [];
const headerProblems = [];
const unlabelled = [];
// What the steps hand on to each other, per journey.
const state = { js: {}, nojs: {} };

before(async () => {
	assert.ok(existsSync(CHROMIUM),
		`${CHROMIUM} not found: install Debian's chromium (scripts/deps.sh does, as root)`);
	mkdirSync(SHOTS, { recursive: true });
	for (const f of readdirSync(SHOTS))
		if (f.endsWith('.png'))
			rmSync(join(SHOTS, f), { force: true });
	browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

after(async () => {
	if (browser)
		await browser.close();
});

// ---- helpers -----------------------------------------------------------

// A step, with its own time limit (run.sh bounds the whole run).
function test(name, fn) {
	return nodeTest(name, { timeout: 120_000 }, fn);
}


function watch(page, label) {
	page.on('dialog', async (d) => {
		dialogs.push(`${label} ${page.url()}: ${d.type()} "${d.message()}"`);
		await d.dismiss().catch(() => {});
	});
	page.on('console', (m) => {
		if (/Content[- ]Security[- ]Policy/i.test(m.text()))
			cspMessages.push(`${label} ${page.url()}: ${m.text()}`);
	});
	page.on('pageerror', (e) => pageErrors.push(`${label} ${page.url()}: ${e.message}`));
	page.on('response', (r) => {
		if (!r.url().startsWith(BASE) || r.request().resourceType() !== 'document')
			return;
		const problem = securityHeaderProblem(r.headers());
		if (problem)
			headerProblems.push(`${r.status()} ${r.url()}: ${problem}`);
	});
}

// What is wrong with a page's security headers, or null.
function securityHeaderProblem(h) {
	const csp = h['content-security-policy'] || '';
	if (!csp)
		return 'no Content-Security-Policy';
	const script = /(?:^|;)\s*script-src ([^;]*)/.exec(csp) || /(?:^|;)\s*default-src ([^;]*)/.exec(csp);
	if (!script || /'unsafe-inline'|'unsafe-eval'/.test(script[1]))
		return `CSP allows inline script: ${csp}`;
	if (!/frame-ancestors 'none'/.test(csp))
		return `CSP without frame-ancestors 'none': ${csp}`;
	if ((h['x-content-type-options'] || '') !== 'nosniff')
		return 'no X-Content-Type-Options: nosniff';
	if (!h['referrer-policy'])
		return 'no Referrer-Policy';
	return null;
}

async function newContext(label, javaScriptEnabled) {
	const ctx = await browser.newContext({ viewport: DESKTOP, javaScriptEnabled });
	ctx.setDefaultTimeout(10_000);
	ctx.setDefaultNavigationTimeout(15_000);
	const page = await ctx.newPage();
	watch(page, label);
	return { ctx, page };
}

// A desktop and a phone screenshot of the page as it is now, and the check
// that every visible form control has a label.
async function snap(page, name) {
	const base = `${String(++shotNo).padStart(2, '0')}-${name}`;
	// The whole page, unless it is very long (a stack full of test tickets).
	const tall = () => page.evaluate(() => document.documentElement.scrollHeight > 6000);
	await page.screenshot({ path: join(SHOTS, `${base}.desktop.png`), fullPage: !(await tall()) });
	await page.setViewportSize(PHONE);
	await page.screenshot({ path: join(SHOTS, `${base}.phone.png`), fullPage: !(await tall()) });
	await page.setViewportSize(DESKTOP);
	const missing = await page.$$eval('input:not([type=hidden]), select, textarea',
		(els) => els.filter((e) => !e.labels || e.labels.length === 0).map((e) => e.name || e.id));
	if (missing.length)
		unlabelled.push(`${page.url()}: ${missing.join(', ')}`);
}

// Submit by clicking, and wait for the page that answers.
async function submit(page, selector) {
	const [resp] = await Promise.all([
		page.waitForNavigation({ waitUntil: 'load' }),
		page.click(selector),
	]);
	return resp;
}

async function signUp(page, email, shot) {
	await page.goto(`${BASE}/auth/signup`);
	await page.fill('#email', email);
	await page.fill('#password', PASSWORD);
	if (shot)
		await snap(page, shot);
	const resp = await submit(page, 'form button[type=submit]');
	assert.equal(new URL(page.url()).pathname, '/', `sign-up ended on ${page.url()} (${resp && resp.status()})`);
	await assertSignedIn(page, true);
}

async function signIn(page, email) {
	await page.goto(`${BASE}/auth/signin`);
	await page.fill('#email', email);
	await page.fill('#password', PASSWORD);
	await submit(page, 'form button[type=submit]');
	assert.equal(new URL(page.url()).pathname, '/', `sign-in ended on ${page.url()}`);
	await assertSignedIn(page, true);
}

async function assertSignedIn(page, yes) {
	const nav = page.locator('header nav');
	if (yes) {
		for (const t of ['Sell Tickets', 'My Tickets', 'My Orders', 'Sign Out'])
			await assert.doesNotReject(nav.getByRole('link', { name: t, exact: true }).waitFor(), t);
		assert.equal(await nav.getByRole('link', { name: 'Sign In', exact: true }).count(), 0);
	} else {
		for (const t of ['Sign Up', 'Sign In'])
			await assert.doesNotReject(nav.getByRole('link', { name: t, exact: true }).waitFor(), t);
		assert.equal(await nav.getByRole('link', { name: 'Sign Out', exact: true }).count(), 0);
	}
}

async function signOut(page, jsOn) {
	await page.click('header >> text=Sign Out');
	if (jsOn) {
		// app.js posts the sign-out form by itself, then the server sends us to /.
		await page.waitForURL(`${BASE}/`);
	} else {
		await page.waitForURL(`${BASE}/auth/signout`);
		assert.match(await page.textContent('main'), /Signing you out/);
		await snap(page, 'signout-nojs');
		await submit(page, 'main button[type=submit]');
		assert.equal(page.url(), `${BASE}/`);
	}
	await assertSignedIn(page, false);
}

// Sell a ticket from the form; returns its id, the one new in the list on /
// (other runs may have left tickets with the same title).
async function sell(page, title, price, checkBlur) {
	await page.goto(`${BASE}/`);
	const before = new Set(await ticketIdsOnIndex(page, title));
	await page.goto(`${BASE}/tickets/new`);
	assert.equal(await page.textContent('h1'), 'Create a Ticket');
	await page.fill('#title', title);
	await page.fill('#price', price);
	if (checkBlur) {
		await page.locator('#price').blur();
		assert.equal(await page.inputValue('#price'), Number(price).toFixed(2), 'price is formatted on leaving the field');
	}
	if (checkBlur)
		await snap(page, 'sell-filled');
	await submit(page, 'form button[type=submit]');
	assert.equal(page.url(), `${BASE}/`, 'selling goes back to /');
	const added = (await ticketIdsOnIndex(page, title)).filter((id) => !before.has(id));
	assert.equal(added.length, 1, `"${title}" is listed on /`);
	return added[0];
}

// The ids of the tickets titled `title` in the list on the current page,
// in one look at the page (the list may be long).
async function ticketIdsOnIndex(page, title) {
	return page.$$eval('table tbody tr', (rows, t) => rows
		.filter((row) => row.querySelector('td')?.textContent === t)
		.map((row) => row.querySelector('a[href^="/tickets/"]')?.getAttribute('href').split('/').pop())
		.filter(Boolean), title);
}

// The id of the ticket titled `title` on the current page, or null.
async function ticketIdOnIndex(page, title) {
	return (await ticketIdsOnIndex(page, title))[0] ?? null;
}

// Search / for the title until the ticket's presence is `present`, for up
// to `ms` (the list is paged: a search finds it wherever it is).
async function waitOnIndex(page, title, present, ms) {
	const end = Date.now() + ms;
	for (;;) {
		await page.goto(`${BASE}/?q=${encodeURIComponent(title)}`);
		const here = (await ticketIdOnIndex(page, title)) !== null;
		if (here === present || Date.now() > end)
			return here === present;
		await page.waitForTimeout(300);
	}
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

// Reload /tickets/mine until the ticket's row shows `status`; its text.
async function waitMyTicket(page, ticketId, status, ms) {
	const end = Date.now() + ms;
	let text = '';
	for (;;) {
		await page.goto(`${BASE}/tickets/mine`);
		const row = page.locator('table.mine tbody tr', { has: page.locator(`a[href="/tickets/${ticketId}"]`) });
		text = (await row.count()) ? (await row.locator('.status').textContent()).trim() : '(not listed)';
		if (text === status || Date.now() > end)
			return text;
		await page.waitForTimeout(300);
	}
}

function countdownSeconds(text) {
	const m = /Time left to pay: (-?\d+) seconds/.exec(text || '');
	return m ? Number(m[1]) : NaN;
}

async function buy(page, ticketId) {
	await page.goto(`${BASE}/tickets/${ticketId}`);
	await submit(page, 'main form button:has-text("Purchase")');
	const m = /\/orders\/([0-9a-f-]{36})$/.exec(page.url());
	assert.ok(m, `purchase went to ${page.url()}: ${await page.textContent('main')}`);
	return m[1];
}

function need(value, what) {
	if (!value)
		throw new Error(`not run: needs ${what} from an earlier step`);
	return value;
}

// ---- the journey, with JavaScript on and off ----------------------------

for (const [mode, jsOn] of [['js', true], ['nojs', false]]) {
	const st = state[mode];

	test(`${mode}: a seller signs up, sells a ticket, signs out`, async () => {
		const { ctx, page } = await newContext(`${mode}/seller`, jsOn);
		try {
			await page.goto(`${BASE}/`);
			await assertSignedIn(page, false);
			await snap(page, `${mode}-landing-signed-out`);
			st.seller = `seller-${mode}-${RUN}@example.com`;
			await signUp(page, st.seller, `${mode}-signup-filled`);
			st.title = `Concert ${mode} ${RUN}`;
			st.ticketId = await sell(page, st.title, '4', jsOn);
			await snap(page, `${mode}-landing-with-ticket`);
			// My Tickets shows it for sale, with an Edit link; the edit form
			// keeps the API's rules (errors inline) and changes the price.
			await page.click('header >> text=My Tickets');
			await page.waitForURL(`${BASE}/tickets/mine`);
			assert.equal(await waitMyTicket(page, st.ticketId, 'Available', 0), 'Available');
			await snap(page, `${mode}-my-tickets`);
			await page.click(`a[href="/tickets/${st.ticketId}/edit"]`);
			await page.waitForURL(`${BASE}/tickets/${st.ticketId}/edit`);
			assert.equal(await page.inputValue('#title'), st.title);
			await page.fill('#price', '0');
			await submit(page, 'form button[type=submit]');
			assert.match(await page.textContent('main .errors'), /Price must be provided and must be greater than 0/);
			await snap(page, `${mode}-edit-error`);
			await page.fill('#price', '5');
			await submit(page, 'form button[type=submit]');
			assert.equal(page.url(), `${BASE}/tickets/mine`, 'saving goes back to My Tickets');
			const row = page.locator('table.mine tbody tr', { has: page.locator(`a[href="/tickets/${st.ticketId}"]`) });
			assert.equal((await row.locator('td').nth(1).textContent()).trim(), '5', 'the new price');
			await signOut(page, jsOn);
			assert.ok(await ticketIdOnIndex(page, st.title), 'signed-out visitors see the ticket too');
		} finally {
			await ctx.close();
		}
	});

	test(`${mode}: a visitor searches, sorts and pages through the results`, async () => {
		const { ctx, page } = await newContext(`${mode}/searcher`, jsOn);
		try {
			// Three more tickets whose titles share a word with no other.
			await signUp(page, `lister-${mode}-${RUN}@example.com`);
			const word = `zq${mode}${RUN}`;
			const ids = [];
			for (const [i, price] of [['one', 30], ['two', 10], ['three', 20]]) {
				const r = await page.request.post(`${BASE}/api/tickets`,
					{ data: { title: `Gig ${i} ${word}`, price } });
				assert.equal(r.status(), 201);
				ids.push((await r.json()).id);
			}
			await page.goto(`${BASE}/`);
			await page.fill('#q', `${word} gig`);
			await page.selectOption('#sort', 'price_asc');
			await submit(page, 'form.search button[type=submit]');
			const url = new URL(page.url());
			assert.equal(url.searchParams.get('q'), `${word} gig`);
			assert.equal(url.searchParams.get('sort'), 'price_asc');
			assert.equal(await page.inputValue('#q'), `${word} gig`, 'the words stay in the box');
			assert.equal(await page.inputValue('#sort'), 'price_asc');
			const rowIds = () => page.$$eval('table tbody tr a[href^="/tickets/"]',
				(as) => as.map((a) => a.getAttribute('href').split('/').pop()));
			assert.deepEqual(await rowIds(), [ids[1], ids[2], ids[0]], 'cheapest first');
			await snap(page, `${mode}-search`);
			// Pages of two (the page size comes from the URL), through the links.
			await page.goto(`${page.url()}&limit=2`);
			assert.deepEqual(await rowIds(), [ids[1], ids[2]]);
			assert.equal(await page.locator('.pager a[rel=prev]').count(), 0);
			await submit(page, '.pager a[rel=next]');
			assert.deepEqual(await rowIds(), [ids[0]], 'the second page');
			assert.equal(await page.locator('.pager a[rel=next]').count(), 0, 'the last page');
			await snap(page, `${mode}-search-page-2`);
			await submit(page, '.pager a[rel=prev]');
			assert.deepEqual(await rowIds(), [ids[1], ids[2]], 'back to the first page');
			await page.goto(`${BASE}/?q=${word}+nothing`);
			assert.match(await page.textContent('table tbody'), /No tickets match/);
			await snap(page, `${mode}-search-no-match`);
		} finally {
			await ctx.close();
		}
	});

	test(`${mode}: a buyer finds the ticket on /, purchases it, sees the countdown`, async () => {
		need(st.ticketId, 'the seller\'s ticket');
		const { ctx, page } = await newContext(`${mode}/buyer`, jsOn);
		st.buyer = { ctx, page };
		await signUp(page, `buyer-${mode}-${RUN}@example.com`);
		assert.equal(await ticketIdOnIndex(page, st.title), st.ticketId);
		await page.click(`a[href="/tickets/${st.ticketId}"]`);
		await page.waitForURL(`${BASE}/tickets/${st.ticketId}`);
		assert.equal(await page.textContent('main h1'), st.title);
		assert.match(await page.textContent('main h4'), /^Price: 5(\.00)?$/);
		await snap(page, `${mode}-ticket`);
		await submit(page, 'main form button:has-text("Purchase")');
		const m = /\/orders\/([0-9a-f-]{36})$/.exec(page.url());
		assert.ok(m, `purchase went to ${page.url()}`);
		st.orderId = m[1];
		const countdown = page.locator('.countdown');
		const first = countdownSeconds(await countdown.textContent());
		assert.ok(first >= WINDOW - 5 && first <= WINDOW,
			`countdown starts near the window (${WINDOW} s): ${first}`);
		await snap(page, `${mode}-checkout`);
		await page.waitForTimeout(2200);
		const later = countdownSeconds(await countdown.textContent());
		if (jsOn)
			assert.ok(later <= first - 2, `countdown decreases without a reload: ${first} -> ${later}`);
		else
			assert.equal(later, first, 'without JavaScript the server\'s figure stays');
		if (!jsOn) {
			await page.reload();
			const again = countdownSeconds(await countdown.textContent());
			assert.ok(again < first, `a reload shows the server's newer figure: ${first} -> ${again}`);
		}
	});

	test(`${mode}: a second buyer sees "Ticket is already reserved"`, async () => {
		need(st.orderId, 'the first buyer\'s order');
		const { ctx, page } = await newContext(`${mode}/buyer2`, jsOn);
		try {
			await signUp(page, `buyer2-${mode}-${RUN}@example.com`);
			await page.goto(`${BASE}/tickets/${st.ticketId}`);
			await submit(page, 'main form button:has-text("Purchase")');
			const box = page.locator('main .errors');
			assert.match(await box.textContent(), /Ooops/);
			assert.match(await box.textContent(), /Ticket is already reserved/);
			await snap(page, `${mode}-already-reserved`);
		} finally {
			await ctx.close();
		}
	});

	test(`${mode}: the buyer pays with the test card; the order is complete, the ticket gone`, async () => {
		need(st.orderId, 'the first buyer\'s order');
		const { ctx, page } = need(st.buyer, 'the buyer\'s browser');
		try {
			await page.goto(`${BASE}/orders/${st.orderId}`);
			if (jsOn) {
				// A declined card first: the reason shows inline, the order stays payable.
				await page.selectOption('#token', 'tok_chargeDeclined');
				const r = await submit(page, 'form.pay button[type=submit]');
				assert.ok(r && r.status() !== 404 && r.status() < 500,
					`a declined card answers ${r && r.status()} (is /orders/:id/pay served?)`);
				assert.match(await page.textContent('main .errors'), /declined/i);
				await snap(page, `${mode}-card-declined`);
				if (!(await page.locator('#token').count()))
					await page.goto(`${BASE}/orders/${st.orderId}`);
			}
			await page.selectOption('#token', 'tok_visa');
			const r = await submit(page, 'form.pay button[type=submit]');
			assert.ok(r && r.status() < 400 && new URL(page.url()).pathname === '/orders',
				`paying answers ${r && r.status()} at ${page.url()} (is /orders/:id/pay served?)`);
			await snap(page, `${mode}-paid-orders`);
			// The order becomes complete when payment:created reaches orders.
			const line = await waitOrderStatus(page, st.orderId, 'complete', 10_000);
			assert.equal(line, `${st.title} - complete`);
			await snap(page, `${mode}-orders-complete`);
			await page.goto(`${BASE}/orders/${st.orderId}`);
			assert.equal(await page.locator('form.pay').count(), 0, 'a paid order has no pay form');
			await snap(page, `${mode}-order-paid`);
			assert.ok(await waitOnIndex(page, st.title, false, 5000), 'the sold ticket is gone from /');
		} finally {
			await ctx.close();
		}
	});

	test(`${mode}: the seller sees the ticket sold`, async () => {
		need(st.orderId, 'the paid order');
		const { ctx, page } = await newContext(`${mode}/seller-again`, jsOn);
		try {
			await signIn(page, need(st.seller, 'the seller'));
			// payment:created reaches tickets through the worker.
			assert.equal(await waitMyTicket(page, st.ticketId, 'Sold', 10_000), 'Sold');
			const row = page.locator('table.mine tbody tr', { has: page.locator(`a[href="/tickets/${st.ticketId}"]`) });
			assert.equal(await row.locator('a.edit').count(), 0, 'a sold ticket has no Edit link');
			await snap(page, `${mode}-my-tickets-sold`);
			await page.click(`a[href="/tickets/${st.ticketId}"]`);
			await page.waitForURL(`${BASE}/tickets/${st.ticketId}`);
			assert.equal((await page.textContent('main .sold')).trim(), 'Sold');
			assert.equal(await page.locator('main form button:has-text("Purchase")').count(), 0);
			await snap(page, `${mode}-ticket-sold`);
		} finally {
			await ctx.close();
		}
	});
}

// ---- a hostile title --------------------------------------------------

test('a ticket titled <img src=x onerror=alert(1)> is shown as text everywhere', async () => {
	const seller = await newContext('xss/seller', true);
	const buyer = await newContext('xss/buyer', true);
	try {
		await signUp(seller.page, `seller-xss-${RUN}@example.com`);
		const id = await sell(seller.page, XSS, '7', false);
		await snap(seller.page, 'xss-landing');
		await signUp(buyer.page, `buyer-xss-${RUN}@example.com`);
		await buyer.page.goto(`${BASE}/tickets/${id}`);
		assert.equal(await buyer.page.textContent('main h1'), XSS);
		assert.equal(await buyer.page.locator('main img').count(), 0);
		await snap(buyer.page, 'xss-ticket');
		const orderId = await buy(buyer.page, id);
		assert.equal(await buyer.page.textContent('main h1'), XSS);
		await snap(buyer.page, 'xss-checkout');
		await buyer.page.goto(`${BASE}/orders`);
		assert.match(await buyer.page.textContent(`a[href="/orders/${orderId}"]`), /^<img src=x onerror=alert\(1\)> - /);
		await snap(buyer.page, 'xss-orders');
		// The same pages without JavaScript; and nothing may have run anywhere.
		const nojs = await newContext('xss/nojs', false);
		try {
			await nojs.page.goto(`${BASE}/`);
			await nojs.page.goto(`${BASE}/tickets/${id}`);
			assert.equal(await nojs.page.textContent('main h1'), XSS);
		} finally {
			await nojs.ctx.close();
		}
		assert.deepEqual(dialogs, [], 'no page raised a dialog');
	} finally {
		await seller.ctx.close();
		await buyer.ctx.close();
	}
});

// ---- expiry -----------------------------------------------------------

test('an unpaid checkout turns into "Order Expired" without a reload; the ticket returns to /', async (t) => {
	if (WINDOW > 60) {
		t.skip(`EXPIRATION_WINDOW_SECONDS=${WINDOW}: the expiry step needs a window of at most 60 s`);
		return;
	}
	const seller = await newContext('expiry/seller', true);
	const buyer = await newContext('expiry/buyer', true);
	const nojs = await newContext('expiry/nojs', false);
	try {
		await signUp(seller.page, `seller-exp-${RUN}@example.com`);
		const titleJs = `Expiring js ${RUN}`;
		const titleNoJs = `Expiring nojs ${RUN}`;
		const idJs = await sell(seller.page, titleJs, '12.5', false);
		const idNoJs = await sell(seller.page, titleNoJs, '3', false);
		await signUp(buyer.page, `buyer-exp-${RUN}@example.com`);
		await signUp(nojs.page, `buyer-expnojs-${RUN}@example.com`);
		const orderJs = await buy(buyer.page, idJs);
		const orderNoJs = await buy(nojs.page, idNoJs);
		// A mark on the window object survives only if the page is not reloaded.
		await buyer.page.evaluate(() => { window.__noReload = true; });
		await buyer.page.waitForFunction(
			() => /Order Expired/.test(document.querySelector('main').textContent),
			null, { timeout: (WINDOW + 5) * 1000 });
		assert.equal(await buyer.page.evaluate(() => window.__noReload), true, 'no reload happened');
		assert.equal(await buyer.page.locator('form.pay').count(), 0, 'the pay form is gone');
		await snap(buyer.page, 'expiry-js-expired');
		await nojs.page.reload();
		assert.match(await nojs.page.textContent('main'), /Order Expired/);
		await snap(nojs.page, 'expiry-nojs-expired');
		// The scheduler cancels the orders; order:cancelled frees the tickets.
		assert.ok(await waitOnIndex(buyer.page, titleJs, true, 10_000),
			'the expired order\'s ticket is back on / (needs the expiration scheduler)');
		assert.ok(await waitOnIndex(buyer.page, titleNoJs, true, 3000), 'the second ticket is back too');
		await snap(buyer.page, 'expiry-tickets-back');
		assert.equal(await waitOrderStatus(buyer.page, orderJs, 'cancelled', 3000), `${titleJs} - cancelled`);
		assert.equal(await waitOrderStatus(nojs.page, orderNoJs, 'cancelled', 3000), `${titleNoJs} - cancelled`);
		await snap(buyer.page, 'expiry-orders-cancelled');
	} finally {
		await seller.ctx.close();
		await buyer.ctx.close();
		await nojs.ctx.close();
	}
});

// ---- the other pages: errors, 404, the error page, labels ----------------

test('forms show their errors inline; 404 and error pages use the layout', async () => {
	const { ctx, page } = await newContext('pages', true);
	try {
		await page.goto(`${BASE}/auth/signin`);
		await snap(page, 'signin');
		await page.fill('#email', `nobody-${RUN}@example.com`);
		await page.fill('#password', 'wrong-password');
		await submit(page, 'form button[type=submit]');
		assert.match(await page.textContent('main .errors'), /Invalid credentials/i);
		assert.equal(await page.inputValue('#email'), `nobody-${RUN}@example.com`, 'the email is kept');
		await snap(page, 'signin-error');

		await page.goto(`${BASE}/auth/signup`);
		await page.fill('#email', 'not-an-email');
		await submit(page, 'form button[type=submit]');
		assert.match(await page.textContent('main .errors'), /Email must be valid/);
		await snap(page, 'signup-errors');

		const r404 = await page.goto(`${BASE}/no/such/page`);
		assert.equal(r404.status(), 404);
		assert.equal(await page.textContent('main h1'), 'Page not found');
		assert.equal(await page.textContent('header .brand'), 'GitTix');
		await snap(page, 'not-found');

		await signUp(page, `pages-${RUN}@example.com`);
		await page.goto(`${BASE}/tickets/new`);
		await submit(page, 'form button[type=submit]');
		assert.match(await page.textContent('main .errors'), /Title is required/);
		await snap(page, 'sell-errors');

		const rt = await page.goto(`${BASE}/tickets/0123456789abcdef01234567`);
		assert.equal(rt.status(), 404, 'an unknown ticket is the 404 page');

		// A form whose CSRF token was tampered with: the error page, in the layout.
		await page.goto(`${BASE}/tickets/new`);
		await page.fill('#title', 'tampered');
		await page.fill('#price', '1');
		await page.$eval('input[name=_csrf]', (e) => { e.value = 'forged'; });
		const r403 = await submit(page, 'form button[type=submit]');
		assert.ok(r403.status() >= 400, `a forged token is refused (${r403.status()})`);
		assert.equal(await page.textContent('header .brand'), 'GitTix');
		assert.equal(await page.locator('main .errors').count(), 1, 'the reason is in the error box');
		await snap(page, 'error-page');

		await page.goto(`${BASE}/orders`);
		await snap(page, 'orders-empty');

		const fav = await page.request.get(`${BASE}/static/favicon.svg`);
		assert.equal(fav.status(), 200);
		assert.match(fav.headers()['content-type'], /image\/svg\+xml/);
		for (const file of ['style.css', 'app.js']) {
			const r = await page.request.get(`${BASE}/static/${file}`);
			assert.equal(r.status(), 200, file);
			assert.equal(r.headers()['x-content-type-options'], 'nosniff', `${file} nosniff`);
		}
	} finally {
		await ctx.close();
	}
});

// ---- what the listeners saw on every page -------------------------------

test('every page carried the security headers', () => {
	assert.deepEqual(headerProblems, []);
});

test('no Content-Security-Policy violation and no script error on any page', () => {
	assert.deepEqual(cspMessages, []);
	assert.deepEqual(pageErrors, []);
});

test('no page raised a dialog', () => {
	assert.deepEqual(dialogs, []);
});

test('every visible form control has a label', () => {
	assert.deepEqual(unlabelled, []);
});
