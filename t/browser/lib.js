// t/browser/lib.js: what the browser tests share: the system chromium
// driven over the DevTools protocol (puppeteer-core), a record of every
// request the page makes, results as lines the .t script turns into TAP,
// and a deadline for the whole script.
'use strict';
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

const BASE = process.env.BASE;
const T = process.env.T;
const SHOTS = process.env.SHOTS || T;
const out = fs.openSync(process.env.RESULTS, 'a');

function emit(line) {
	fs.writeSync(out, line.replace(/\n/g, ' ') + '\n');
}
function ok(cond, desc) {
	emit((cond ? 'ok\t' : 'not ok\t') + desc);
	return !!cond;
}
function is(got, want, desc) {
	const pass = ok(got === want, desc);
	if (!pass)
		diag(`got: ${JSON.stringify(got)}; want: ${JSON.stringify(want)}`);
	return pass;
}
function diag(text) {
	emit('#\t' + text);
}

// BROWSER=firefox: Debian's firefox-esr over WebDriver BiDi instead.
const FIREFOX = process.env.BROWSER === 'firefox';

async function launch() {
	const dir = fs.mkdtempSync(path.join(T, FIREFOX ? 'firefox-' : 'chromium-'));
	if (FIREFOX)
		return puppeteer.launch({ browser: 'firefox', headless: true, userDataDir: dir,
			executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
			protocolTimeout: 60000 });
	return puppeteer.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		userDataDir: dir,
		protocolTimeout: 60000,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update',
			'--disable-sync', '--disable-dev-shm-usage'],
	});
}

// A page whose requests to the API are recorded with their start and end,
// and which fails the test if it ever opens a dialog (alert, confirm).
async function newPage(browser, width = 1000, height = 800) {
	const page = await browser.newPage();
	await page.setViewport({ width, height });
	page.requests = [];
	page.dialogs = [];
	page.errors = [];
	page.on('dialog', async (d) => {
		page.dialogs.push(d.message());
		await d.dismiss();
	});
	page.on('pageerror', (e) => page.errors.push(String(e)));
	// The browser asks for /favicon.ico by itself; the pages name none.
	page.on('console', (m) => {
		if (m.type() === 'error' && !/\/favicon\.ico$/.test(m.location().url || ''))
			page.errors.push(m.text() + ' (' + (m.location().url || '') + ')');
	});
	if (FIREFOX) {
		trackRequests(page);
		return page;
	}
	const cdp = await page.createCDPSession();
	await cdp.send('Network.enable');
	page.cdp = cdp;
	const byId = new Map();
	cdp.on('Network.requestWillBeSent', (e) => {
		const r = { id: e.requestId, url: e.request.url, method: e.request.method,
			headers: e.request.headers, start: Date.now(), end: null, status: null };
		byId.set(e.requestId, r);
		page.requests.push(r);
	});
	cdp.on('Network.responseReceived', (e) => {
		const r = byId.get(e.requestId);
		if (r) {
			r.status = e.response.status;
			const h = e.response.headers;
			r.etag = h.ETag || h.etag || h.Etag || null;
		}
	});
	const finish = (e) => {
		const r = byId.get(e.requestId);
		if (r && r.end === null)
			r.end = Date.now();
	};
	cdp.on('Network.loadingFinished', finish);
	cdp.on('Network.loadingFailed', finish);
	return page;
}

// The same record from puppeteer's own events, for a browser without CDP.
function trackRequests(page) {
	const byReq = new Map();
	page.on('request', (req) => {
		const h = req.headers();
		const r = { url: req.url(), method: req.method(), start: Date.now(), end: null,
			status: null, headers: { ...h, Authorization: h.authorization,
			'If-None-Match': h['if-none-match'] } };
		byReq.set(req, r);
		page.requests.push(r);
	});
	page.on('response', (res) => {
		const r = byReq.get(res.request());
		if (r) {
			r.status = res.status();
			r.etag = res.headers().etag || null;
		}
	});
	const finish = (req) => {
		const r = byReq.get(req);
		if (r && r.end === null)
			r.end = Date.now();
	};
	page.on('requestfinished', finish);
	page.on('requestfailed', finish);
}

// Waits for fn (run in the page) to be true; false after ms.
async function until(page, fn, ms, ...args) {
	try {
		await page.waitForFunction(fn, { timeout: ms, polling: 100 }, ...args);
		return true;
	} catch (e) {
		return false;
	}
}

// Waits, in node, for fn() to be true; false after ms.
async function waitFor(fn, ms) {
	const end = Date.now() + ms;
	while (!fn()) {
		if (Date.now() > end)
			return false;
		await new Promise((r) => setTimeout(r, 50));
	}
	return true;
}

async function shot(page, name) {
	const file = path.join(SHOTS, (FIREFOX ? 'firefox-' : '') + name);
	await page.screenshot({ path: file, fullPage: true });
	diag('screenshot: ' + file);
}

// Runs main with a deadline; a thrown error or the deadline is a failed test.
function run(main, seconds) {
	let browser = null;
	const timer = setTimeout(() => {
		ok(false, `the browser test ended within ${seconds} s`);
		process.exit(1);
	}, seconds * 1000);
	(async () => {
		browser = await launch();
		await main(browser);
	})().catch((e) => {
		ok(false, 'the browser test ran to its end');
		diag(String(e && e.stack || e));
	}).finally(async () => {
		clearTimeout(timer);
		if (browser)
			await browser.close().catch(() => {});
		process.exit(0);
	});
}

module.exports = { FIREFOX, BASE, T, ok, is, diag, launch, newPage, until, waitFor, shot, run };
