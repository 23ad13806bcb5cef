// t/0485-browser-data.t: data: pictures under the policy; DATA_IMAGES says which.
'use strict';
const { BASE, ok, is, newPage, until, run } = require('./lib');

const allowed = process.env.DATA_IMAGES === 'allowed';

run(async (browser) => {
	const page = await newPage(browser);
	await page.goto(BASE + '/cases/case-data', { waitUntil: 'domcontentloaded' });
	ok(await until(page, () => document.getElementById('status').textContent === 'completed',
	    15000), 'the page shows the job completed');
	if (allowed) {
		ok(await until(page, () => [...document.querySelectorAll('.tile img')].filter((i) =>
		    i.complete && i.naturalWidth === 512 && i.src.startsWith('data:image/jpeg')).length === 2,
		    15000), "with img-src 'self' data:, the 2 inline pictures show, 512x512");
		is(page.errors.join(' | '), '', 'no CSP violation');
	} else {
		ok(await until(page, () => document.querySelectorAll('.tile .error-box').length === 2,
		    15000), 'refused by the policy, each tile says its picture could not be loaded');
		is(await page.$eval('.tile .error-box', (b) => b.textContent),
		    'The picture could not be loaded.', '... in those words');
		ok(page.errors.some((e) => /Content Security Policy/.test(e) && /data:/.test(e)),
		    'the browser reports the refusal as a CSP violation');
	}
}, 50);
