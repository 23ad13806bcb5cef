/*
 * cases.js: the jobs page, /cases/?status=&before=: one page of
 * GET /api/case-images, newest first. The filter and the pages are plain
 * links and a GET form, so the browser's back and forward work.
 */
'use strict';

(() => {
	const PAGE = 25;		/* ?limit= asks for other pages' length, 1 to 100 */
	const STATUSES = ['pending', 'generating', 'completed', 'partial', 'failed', 'queued',
		'cancelled'];
	const $ = (id) => document.getElementById(id);
	const params = new URLSearchParams(location.search);
	const status = STATUSES.includes(params.get('status')) ? params.get('status') : '';
	const limit = /^[1-9][0-9]?$|^100$/.test(params.get('limit') || '')
	    ? params.get('limit') : '';
	const before = /^[0-9]{1,18}\.[A-Za-z0-9_-]{1,64}$/.test(params.get('before') || '')
	    ? params.get('before') : '';

	function pageHref(cursor) {
		const q = new URLSearchParams();
		if (status)
			q.set('status', status);
		if (limit)
			q.set('limit', limit);
		if (cursor)
			q.set('before', cursor);
		const s = q.toString();
		return '/cases/' + (s ? '?' + s : '');
	}

	function progressCell(job) {
		const td = IG.el('td', 'progress-cell');
		const total = job.totalImages || 0, done = job.completedImages || 0,
		    failed = job.failedImages || 0;
		const bar = IG.el('div', 'progress small');
		bar.setAttribute('role', 'progressbar');
		bar.setAttribute('aria-valuemin', '0');
		bar.setAttribute('aria-valuemax', String(total));
		bar.setAttribute('aria-valuenow', String(done + failed));
		bar.setAttribute('aria-valuetext', done + ' of ' + total + ' made, ' + failed + ' failed');
		const pct = (n) => (total > 0 ? (100 * n / total) : 0) + '%';
		const d = IG.el('div', 'bar done'), f = IG.el('div', 'bar failed');
		d.style.width = pct(done);
		f.style.width = pct(failed);
		bar.append(d, f);
		td.append(IG.el('span', 'count', done + ' / ' + total +
		    (failed ? ' \u00b7 ' + failed + ' failed' : '')), bar);
		return td;
	}

	function row(job) {
		const tr = IG.el('tr');
		tr.dataset.caseId = job.caseId;
		const name = IG.el('td');
		const a = IG.el('a', null, job.caseId);
		a.href = '/cases/' + encodeURIComponent(job.caseId);
		name.append(a);
		const st = IG.el('td');
		st.append(IG.statusBadge(IG.el('span'), job));
		const took = job.startedAt
		    ? IG.duration((job.completedAt || Date.now()) - job.startedAt) +
		      (job.completedAt ? '' : ' so far')
		    : '';
		tr.append(name, st, progressCell(job), IG.el('td', null, IG.when(job.createdAt)),
		    IG.el('td', null, took));
		return tr;
	}

	function render(page) {
		const rows = $('rows');
		rows.replaceChildren(...page.jobs.map(row));
		if (page.jobs.length === 0) {
			const tr = IG.el('tr');
			const td = IG.el('td', 'empty', before ? 'No older jobs.' : 'No jobs' +
			    (status ? ' with status ' + status : '') + '.');
			td.colSpan = 5;
			tr.append(td);
			rows.append(tr);
		}
		$('jobs-caption').textContent = (status ? status + ' jobs' : 'All jobs') +
		    ', newest first' + (before ? ' (older page)' : '');
		$('newest').hidden = !before;
		$('newest').href = pageHref('');
		$('older').hidden = !page.next;
		if (page.next)
			$('older').href = pageHref(page.next);
	}

	async function load() {
		const q = new URLSearchParams({ limit: limit || String(PAGE) });
		if (status)
			q.set('status', status);
		if (before)
			q.set('before', before);
		try {
			const res = await IG.api('GET', '/api/case-images?' + q.toString());
			if (res.status === 200 && res.body && Array.isArray(res.body.jobs)) {
				IG.message('');
				render(res.body);
			} else if (res.status === 401) {
				IG.setToken('');
				await IG.askToken('Reading the jobs needs the bearer token.');
				load();
			} else {
				IG.message('The jobs could not be read: ' + IG.errorText(res), true);
			}
		} catch (e) {
			IG.message('The service cannot be reached.', true);
		}
	}

	IG.initTokenForm();
	/* The form's Show button applies a choice: arrowing through the list does not navigate. */
	$('status-filter').value = status;
	load();
})();
