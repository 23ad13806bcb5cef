// t/0480-browser-retry.t: a partial case retried from the page, and the jobs page.
'use strict';
const { BASE, ok, is, diag, newPage, until, waitFor, shot, run } = require('./lib');

const TOKEN = process.env.API_TOKEN;
const FAILED = ['ev-1', 'ev-6', 'loc-0', 'loc-3'];

async function giveToken(page) {
	await page.type('#token', TOKEN);
	await page.keyboard.press('Enter');
}

run(async (browser) => {
	const page = await newPage(browser);
	await page.evaluateOnNewDocument(() => {
		window.__statuses = [];
		new MutationObserver(() => {
			const s = document.getElementById('status');
			const t = s && s.textContent;
			if (t && window.__statuses[window.__statuses.length - 1] !== t)
				window.__statuses.push(t);
		}).observe(document, { subtree: true, childList: true, characterData: true });
	});
	await page.goto(BASE + '/cases/case-fail', { waitUntil: 'domcontentloaded' });

	// The token, asked once.
	ok(await until(page, () => !document.getElementById('token-form').hidden, 10000),
	    'the page asks for the token when the status answers 401');
	ok(await page.evaluate(() => document.activeElement.id === 'token'),
	    'the token field has the focus');
	await giveToken(page);
	ok(await until(page, () => document.getElementById('status').textContent === 'partial', 10000),
	    'with the token, the page shows the job: partial');
	is(await page.evaluate(() => sessionStorage.getItem('imagegen.token')), TOKEN,
	    'the token is kept in sessionStorage');
	const withToken = page.requests.filter((r) => r.url.endsWith('/api/case-images/case-fail'));
	ok(withToken.length >= 2 && withToken[withToken.length - 1].headers.Authorization ===
	    'Bearer ' + TOKEN, 'the poll after it sends Authorization: Bearer');

	const tiles = await page.evaluate(() => [...document.querySelectorAll('.tile-failed')]
	    .map((t) => ({ id: t.dataset.id, text: t.querySelector('.error-box').textContent })));
	is(tiles.map((t) => t.id).join(','), FAILED.join(','), '4 error tiles, the failed images\'');
	ok(tiles.every((t) => t.text.includes('HTTP 500: mock-imagen injected fault 500')),
	    'each names its error: ' + (tiles[0] && tiles[0].text));
	// The status lands before its pictures do: on a busy machine, some are still loading.
	const shown = '[...document.querySelectorAll(".tile img")]' +
	    '.filter((x) => x.complete && x.naturalWidth === 512).length';
	await until(page, shown + ' >= 10', 10000);
	is(await page.evaluate(shown), 10, 'the 10 others show their pictures');
	is(await page.$eval('#count', (c) => c.textContent), '10 / 14 \u00b7 4 failed',
	    'the count reads "10 / 14 · 4 failed"');
	ok(await page.evaluate(() => !document.getElementById('retry').hidden &&
	    document.getElementById('cancel').hidden), 'partial: Retry is shown, Cancel is not');
	await shot(page, 'case-partial.png');

	// Reloaded, the tab still has its token: no question.
	await page.reload({ waitUntil: 'domcontentloaded' });
	ok(await until(page, () => document.getElementById('status').textContent === 'partial', 10000),
	    'reloaded, the page shows the job with the kept token');
	is(await page.$eval('#token-form', (f) => f.hidden), true, '... and does not ask again');

	// A tab without the token: Retry asks, then sends.
	await page.evaluate(() => sessionStorage.removeItem('imagegen.token'));
	const posts = () => page.requests.filter((r) => r.method === 'POST');
	await page.focus('#retry');
	await page.keyboard.press('Enter');
	ok(await until(page, () => !document.getElementById('token-form').hidden, 5000),
	    'Retry (from the keyboard) asks for the token first');
	is(posts().length, 0, '... and sends nothing before it has one');
	await giveToken(page);
	ok(await waitFor(() => posts().length === 1 && posts()[0].status !== null, 10000),
	    'then it sends the retry');
	const post = posts()[0];
	ok(post && post.url.endsWith('/api/case-images/case-fail/retry') && post.status === 202 &&
	    post.headers.Authorization === 'Bearer ' + TOKEN,
	    `POST /api/case-images/case-fail/retry with the token: ${post && post.status}`);
	ok(await until(page, () => document.getElementById('status').textContent === 'generating',
	    15000), 'the page goes back to generating');
	ok(await page.evaluate(() => document.getElementById('retry').hidden &&
	    !document.getElementById('cancel').hidden), 'running again: Cancel is shown, Retry is not');
	ok(await until(page, () => document.getElementById('status').textContent === 'completed' &&
	    [...document.querySelectorAll('.tile img')].filter((i) => i.complete &&
	    i.naturalWidth === 512).length === 14, 30000), 'and on to completed, 14 pictures');
	is(await page.$eval('#count', (c) => c.textContent), '14 / 14', 'the count reads "14 / 14"');
	diag('statuses shown: ' + (await page.evaluate(() => window.__statuses)).join(' > '));

	// The jobs page, in the same tab: the token is still there.
	await page.goto(BASE + '/cases/', { waitUntil: 'domcontentloaded' });
	const rows = async () => page.$$eval('#rows tr', (rs) => rs.map((r) => r.dataset.caseId));
	ok(await until(page, () => document.querySelectorAll('#rows tr[data-case-id]').length === 4,
	    10000), 'the jobs page lists the 4 jobs of the test');
	is((await rows()).join(','), 'list-c,list-b,list-a,case-fail', 'newest first');
	const first = await page.evaluate(() => {
		const r = document.querySelector('#rows tr[data-case-id="case-fail"]');
		return { text: r.textContent, href: r.querySelector('a').getAttribute('href'),
			bar: r.querySelector('[role=progressbar]').getAttribute('aria-valuenow') };
	});
	ok(/completed/.test(first.text) && /14 \/ 14/.test(first.text) && first.bar === '14',
	    'a row shows status and progress: ' + first.text);
	is(first.href, '/cases/case-fail', 'and links to the case page');
	await shot(page, 'jobs.png');

	await page.select('#status-filter', 'partial');
	await Promise.all([page.waitForNavigation(), page.click('#filter button')]);
	ok(await until(page, () => document.querySelectorAll('#rows tr[data-case-id]').length === 1,
	    10000), 'filtered by status partial: one job');
	is((await rows()).join(','), 'list-b', '... list-b');
	is(await page.$eval('#status-filter', (s) => s.value), 'partial', 'the filter shows its choice');

	await page.goto(BASE + '/cases/?limit=3', { waitUntil: 'domcontentloaded' });
	ok(await until(page, () => document.querySelectorAll('#rows tr[data-case-id]').length === 3,
	    10000), 'pages of 3: the first has 3 jobs');
	ok(await page.$eval('#older', (a) => !a.hidden), '... and a link to older jobs');
	await Promise.all([page.waitForNavigation(), page.click('#older')]);
	ok(await until(page, () => document.querySelectorAll('#rows tr[data-case-id]').length === 1,
	    10000), 'the second page has the last job');
	is((await rows()).join(','), 'case-fail', '... case-fail');
	ok(await page.$eval('#older', (a) => a.hidden) && await page.$eval('#newest', (a) => !a.hidden),
	    'on the last page: no older link, a link back to the newest');

	await page.setViewport({ width: 360, height: 740 });
	const width = await page.evaluate(() => document.documentElement.scrollWidth);
	ok(width <= 360, `the jobs page fits 360 px (${width} px)`);

	is(page.dialogs.length, 0, 'no dialog opened');
	is(page.errors.filter((e) => !/401/.test(e)).join(' | '), '',
	    'no script error and no CSP violation (the 401 asked for aside)');
}, 140);
