// t/0495-queued-cancelled.t: a case queued behind a blocker shows "queued"
// on its page and in the jobs page; cancelled from its page, "cancelled".
'use strict';
const { BASE, ok, is, diag, newPage, until, shot, run } = require('./lib');

const CASE = 'case-queued';

// The badge of the case page, or of the case's row on the jobs page.
function badge(page, sel) {
	return page.$eval(sel, (s) => ({ text: s.textContent, cls: s.className,
		bg: getComputedStyle(s).backgroundColor, border: getComputedStyle(s).borderStyle }));
}

async function listShows(page, status, want) {
	await page.goto(BASE + '/cases/?status=' + status, { waitUntil: 'domcontentloaded' });
	const row = `#rows tr[data-case-id="${CASE}"] .status`;
	ok(await until(page, (sel) => !!document.querySelector(sel), 10000, row),
	    `the jobs page filtered by ${status} lists the case`);
	is(await page.$$eval('#rows tr[data-case-id]', (rs) => rs.length), 1,
	    '... and no other job');
	const b = await badge(page, row);
	is(b.text, want, `... shown ${want}`);
	is(b.cls, 'status status-' + want, '... with its own badge');
	is(await page.$eval('#status-filter', (s) => s.value), status,
	    '... and the filter shows the status chosen');
	return b;
}

run(async (browser) => {
	const page = await newPage(browser);
	await page.goto(BASE + '/cases/' + CASE, { waitUntil: 'domcontentloaded' });
	ok(await until(page, () => document.getElementById('status').textContent === 'queued',
	    15000), 'a case waiting behind the blocker shows queued');
	const queued = await badge(page, '#status');
	is(queued.cls, 'status status-queued', '... with the queued badge');
	is(queued.border, 'dashed', '... outlined, not the pending one');
	ok(await page.$eval('#cancel', (b) => !b.hidden), 'a queued case offers Cancel');
	ok(/^waiting /.test(await page.$eval('#elapsed', (e) => e.textContent)),
	    'it says how long it has waited');
	await shot(page, 'case-queued.png');

	const listed = await listShows(page, 'queued', 'queued');
	await shot(page, 'jobs-queued.png');
	is(listed.border, 'dashed', 'the jobs page styles queued as the case page does');

	await page.goto(BASE + '/cases/' + CASE, { waitUntil: 'domcontentloaded' });
	ok(await until(page, () => document.getElementById('status').textContent === 'queued',
	    10000), 'back on the case page, still queued');
	await page.click('#cancel');
	ok(await until(page, () => !document.getElementById('token-form').hidden, 5000),
	    'Cancel asks for the token');
	await page.type('#token', process.env.API_TOKEN);
	await page.click('#token-form button');
	ok(await until(page, () => document.getElementById('status').textContent === 'cancelled' &&
	    !document.getElementById('retry').hidden, 20000),
	    'cancelled, the case ends shown cancelled, and Retry is offered');
	const end = await page.evaluate(() => ({
		cls: document.getElementById('status').className,
		title: document.getElementById('status').title,
		last: document.getElementById('last-error').textContent,
		cancel: !document.getElementById('cancel').hidden,
		doc: document.title,
	}));
	is(end.cls, 'status status-cancelled', '... with the cancelled badge');
	ok(/^status: (failed|partial)$/.test(end.title), '... its title gives the status: ' +
	    end.title);
	ok(/cancelled by request/.test(end.last), 'the page says why: ' + end.last);
	ok(!end.cancel, 'Cancel is gone');
	is(end.doc, CASE + ': cancelled - imagegen', 'the tab title says cancelled');
	const cancelled = await badge(page, '#status');
	ok(cancelled.bg !== queued.bg, 'cancelled and queued look different: ' + cancelled.bg +
	    ' vs ' + queued.bg);
	await shot(page, 'case-cancelled.png');

	const failedBg = await page.evaluate(() => {
		const s = document.createElement('span');
		s.className = 'status status-failed';
		document.body.append(s);
		const bg = getComputedStyle(s).backgroundColor;
		s.remove();
		return bg;
	});
	ok(cancelled.bg !== failedBg, 'cancelled does not look like failed: ' + failedBg);

	await listShows(page, 'cancelled', 'cancelled');
	await shot(page, 'jobs-cancelled.png');
	is(page.errors.join(' | '), '', 'no script error');
	diag('requests: ' + page.requests.length);
}, 100);
