// t/0475-browser-polling.t: the requests of the case page over 30 s of a running case.
'use strict';
const { BASE, ok, is, diag, newPage, until, waitFor, run } = require('./lib');

const WINDOW_MS = 30000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The most requests in flight at once, from their start and end times.
function peak(reqs, now) {
	const ev = [];
	for (const r of reqs) {
		ev.push([r.start, 1]);
		ev.push([r.end === null ? now : r.end, -1]);
	}
	ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
	let cur = 0, max = 0;
	for (const [, d] of ev)
		max = Math.max(max, cur += d);
	return max;
}

run(async (browser) => {
	const page = await newPage(browser);
	const polls = () => page.requests.filter((r) => r.url.endsWith('/api/case-images/case-poll'));
	const t0 = Date.now();
	await page.goto(BASE + '/cases/case-poll', { waitUntil: 'domcontentloaded' });
	ok(await until(page, () => document.getElementById('count').textContent === '1 / 2', 20000),
	    'the page shows the first image made, the second running');
	await sleep(WINDOW_MS - (Date.now() - t0));
	const now = Date.now();
	const reqs = polls().filter((r) => r.start < t0 + WINDOW_MS);
	const codes = reqs.map((r) => r.status);
	diag(`in ${WINDOW_MS / 1000} s: ${reqs.length} polls: ` + codes.join(' '));
	ok(reqs.length >= 15 && reqs.length <= 31, `about one poll a second (${reqs.length} in 30 s)`);
	is(peak(reqs, now), 1, 'never more than one request in flight');

	// Each poll names the ETag of the last full answer; a 200 only for a new one.
	let last = null, named = 0, repeats = 0;
	const seen = new Set();
	for (const r of reqs) {
		const inm = r.headers['If-None-Match'] || r.headers['if-none-match'] || null;
		if (last !== null && inm === last)
			named++;
		if (r.status === 200) {
			const tag = r.etag;
			if (seen.has(tag))
				repeats++;
			seen.add(tag);
			last = tag;
		}
	}
	is(named, reqs.length - 1, 'every poll after the first sends If-None-Match with the last ETag');
	is(repeats, 0, 'no 200 repeats an answer the page had: unchanged polls are 304');
	const n304 = codes.filter((c) => c === 304).length;
	ok(n304 >= reqs.length - 5, `the polls are 304 but for the few changes (${n304} of ${reqs.length})`);
	ok(codes.every((c) => c === 200 || c === 304), 'every poll is 200 or 304');

	// Answers slower than the poll interval (1.5 s each): still one at a time.
	await page.cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 1500,
		downloadThroughput: -1, uploadThroughput: -1 });
	const s0 = polls().length;
	await sleep(7000);
	const slow = polls().slice(s0);
	await page.cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0,
		downloadThroughput: -1, uploadThroughput: -1 });
	ok(slow.length >= 1 && slow.length <= 4,
	    `with answers taking 1.5 s, a poll a second after the last answer (${slow.length} in 7 s)`);
	is(peak(slow, Date.now()), 1, '... and still never two in flight');

	// Hidden: every ten seconds. Headless chromium is never hidden by itself.
	await page.evaluate(() => {
		Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
		Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
		document.dispatchEvent(new Event('visibilitychange'));
	});
	await sleep(1500);	/* the poll already due */
	const h0 = polls().length;
	await sleep(12000);
	const hidden = polls().length - h0;
	ok(hidden >= 1 && hidden <= 2, `hidden, it polls every ten seconds (${hidden} in 12 s)`);
	const v0 = polls().length;
	const tv = Date.now();
	await page.evaluate(() => {
		delete document.hidden;
		delete document.visibilityState;
		document.dispatchEvent(new Event('visibilitychange'));
	});
	ok(await waitFor(() => polls().length > v0, 3000), 'shown again, it polls at once');
	diag(`first poll after being shown: ${polls().length > v0 ? polls()[v0].start - tv : '?'} ms`);
	is(peak(polls(), Date.now()), 1, 'never more than one in flight, hidden or not');

	// Cancel, with the token asked for (this tab has none), ends the job.
	is(await page.$eval('#status', (s) => s.textContent), 'generating',
	    'the job ran through all of it');
	ok(await page.$eval('#cancel', (b) => !b.hidden), 'the running job offers Cancel');
	await page.click('#cancel');
	ok(await until(page, () => !document.getElementById('token-form').hidden, 5000),
	    'Cancel asks for the token');
	await page.type('#token', process.env.API_TOKEN);
	await page.click('#token-form button');
	ok(await until(page, () => document.getElementById('status').textContent === 'cancelled' &&
	    !document.getElementById('retry').hidden, 15000), 'the job ends, shown cancelled');
	const end = await page.evaluate(() => ({
		last: document.getElementById('last-error').textContent,
		tile: document.querySelector('.tile[data-id="loc-0"] .error-box').textContent,
		cancel: !document.getElementById('cancel').hidden,
		retry: !document.getElementById('retry').hidden,
	}));
	ok(/cancelled by request/.test(end.last), 'the page says why: ' + end.last);
	ok(/cancelled/.test(end.tile), 'the unfinished image\'s tile shows its error: ' + end.tile);
	ok(!end.cancel && end.retry, 'ended: Cancel is gone, Retry is offered');
	is(page.errors.join(' | '), '', 'no script error');
}, 90);
