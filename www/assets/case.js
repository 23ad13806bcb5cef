/*
 * case.js: the page of one case, /cases/{caseId}. It polls the job's
 * status with If-None-Match: every second while the job runs, every ten
 * while the tab is hidden, one request at a time, and not at all once the
 * job has ended. Tiles are made once per item and changed in place.
 */
'use strict';

(() => {
	const VISIBLE_MS = 1000;
	const HIDDEN_MS = 10000;
	const TROUBLE_MS = 5000;	/* after an error: the service may be restarting */

	const $ = (id) => document.getElementById(id);
	const caseId = (() => {
		let id = location.pathname.replace(/^\/cases\//, '').replace(/\/+$/, '');
		try {
			id = decodeURIComponent(id);
		} catch (e) {
			return null;
		}
		return /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : null;
	})();
	const statusPath = caseId ? '/api/case-images/' + encodeURIComponent(caseId) : null;

	let job = null;		/* the last status answer */
	let etag = null;
	let timer = null;
	let inflight = false;
	let again = false;	/* a poll was asked for while one was in flight */
	let busy = false;	/* a retry or cancel under way */
	const tiles = new Map();	/* item id -> {li, key} */

	function schedule(ms) {
		clearTimeout(timer);
		timer = setTimeout(poll, ms);
	}

	function nextDelay() {
		return document.hidden ? HIDDEN_MS : VISIBLE_MS;
	}

	/* A poll starts only from the timer, and only when none is in flight. */
	async function poll() {
		timer = null;
		if (inflight) {
			again = true;
			return;
		}
		inflight = true;
		let delay = nextDelay();
		try {
			const res = await IG.api('GET', statusPath, etag);
			if (res.status === 200 && res.body) {
				etag = res.etag;
				job = res.body;
				IG.message('');
				render();
			} else if (res.status === 304) {
				/* nothing new */
			} else if (res.status === 401) {
				IG.setToken('');
				inflight = again = false;
				IG.askToken('Reading this job needs the bearer token.').then(() => schedule(0));
				return;
			} else if (res.status === 404) {
				IG.message('There is no job for case ' + caseId + ' (yet).', true);
				delay = TROUBLE_MS;
			} else {
				IG.message('The status could not be read: ' + IG.errorText(res) +
				    '. Trying again.', true);
				delay = TROUBLE_MS;
			}
		} catch (e) {
			IG.message('The service cannot be reached. Trying again.', true);
			delay = TROUBLE_MS;
		}
		inflight = false;
		if (again) {
			again = false;
			schedule(0);
		} else if (!(job && IG.FINAL.has(job.status))) {
			schedule(delay);
		}
	}

	function elapsedText() {
		if (!job)
			return '';
		if (!job.startedAt)
			return job.createdAt ? 'waiting ' + IG.duration(Date.now() - job.createdAt) : '';
		const end = job.completedAt || Date.now();
		return (job.completedAt ? 'took ' : 'running ') + IG.duration(end - job.startedAt);
	}

	function renderHeader() {
		const total = job.totalImages || 0, done = job.completedImages || 0,
		    failed = job.failedImages || 0;
		IG.statusBadge($('status'), job);
		$('elapsed').textContent = elapsedText();
		const bar = $('progress');
		bar.setAttribute('aria-valuemax', String(total));
		bar.setAttribute('aria-valuenow', String(done + failed));
		bar.setAttribute('aria-valuetext', done + ' of ' + total + ' made, ' + failed + ' failed');
		const pct = (n) => (total > 0 ? (100 * n / total) : 0) + '%';
		bar.querySelector('.done').style.width = pct(done);
		bar.querySelector('.failed').style.width = pct(failed);
		$('count').textContent = done + ' / ' + total + (failed ? ' \u00b7 ' + failed + ' failed' : '');
		const last = $('last-error');
		last.hidden = !job.lastError;
		last.textContent = job.lastError ? 'Last error: ' + job.lastError : '';
		const final = IG.FINAL.has(job.status);
		$('retry').hidden = !(final && failed > 0);
		$('cancel').hidden = final || !!job.cancelled;
		$('retry').disabled = $('cancel').disabled = busy;
		document.title = caseId + ': ' + IG.shownStatus(job) + ' - imagegen';
	}

	/* One entry per item, evidence first, then locations: name, kind, state and URL. */
	function items() {
		const states = new Map((job.images || []).map((im) => [im.id, im]));
		const list = [];
		for (const [kind, key, urls] of [['evidence', 'evidence', 'evidenceImages'],
		    ['location', 'locations', 'locationImages']]) {
			for (const it of job[key] || []) {
				const st = states.get(it.id) || {};
				list.push({ id: it.id, name: it.name, description: it.description, kind,
				    status: st.status || 'pending', attempts: st.attempts || 0,
				    error: st.error || null, provider: st.provider || null,
				    model: st.model || null, url: (job[urls] || {})[it.id] || null });
			}
		}
		return list;
	}

	function placeholder(it) {
		const box = IG.el('div', 'placeholder');
		let text = it.status === 'generating' ? 'Generating' : 'Waiting';
		if (it.attempts > 1)
			text += ' (attempt ' + it.attempts + ')';
		box.append(IG.el('span', 'placeholder-text', text));
		if (it.error)
			box.append(IG.el('span', 'placeholder-error', 'retrying after: ' + it.error));
		return box;
	}

	function picture(it) {
		const a = IG.el('a', 'open');
		a.href = it.url;
		a.setAttribute('aria-label', 'Open ' + it.name + ' full size');
		const img = IG.el('img');
		img.src = it.url;
		img.alt = it.name;
		img.width = 512;
		img.height = 512;
		img.decoding = 'async';
		img.addEventListener('error', () => {
			a.replaceWith(IG.el('div', 'error-box', 'The picture could not be loaded.'));
		});
		a.append(img);
		a.addEventListener('click', (ev) => {
			ev.preventDefault();
			openViewer(it);
		});
		return a;
	}

	function failure(it) {
		const box = IG.el('div', 'error-box');
		box.append(IG.el('strong', null, 'Failed'));
		box.append(IG.el('p', 'error-text', it.error || 'no reason recorded'));
		return box;
	}

	function frame(it) {
		if (it.status === 'completed' && it.url)
			return picture(it);
		if (it.status === 'failed')
			return failure(it);
		return placeholder(it);
	}

	function tileFor(it) {
		let t = tiles.get(it.id);
		if (t)
			return t;
		const li = IG.el('li', 'tile');
		li.dataset.id = it.id;
		const frameBox = IG.el('div', 'frame');
		const name = IG.el('p', 'name', it.name);
		const meta = IG.el('p', 'meta');
		li.append(frameBox, name, meta);
		$(it.kind === 'evidence' ? 'evidence' : 'locations').append(li);
		t = { li, frameBox, meta, key: '' };
		tiles.set(it.id, t);
		return t;
	}

	function renderTile(it) {
		const t = tileFor(it);
		const key = [it.status, it.url, it.error, it.attempts, it.provider, it.model].join('\u0000');
		if (key === t.key)
			return;
		t.key = key;
		t.li.className = 'tile tile-' + it.status.replace(/[^a-z]/g, '');
		const shown = t.frameBox.firstChild;
		/* A picture already shown stays, so that it does not load again. */
		if (!(shown && shown.classList.contains('open') && it.status === 'completed' &&
		    shown.getAttribute('href') === it.url))
			t.frameBox.replaceChildren(frame(it));
		const made = [it.provider, it.model].filter(Boolean).join(' \u00b7 ');
		t.meta.textContent = made || (it.status === 'completed' ? '' : it.status);
	}

	function render() {
		renderHeader();
		for (const it of items())
			renderTile(it);
	}

	function openViewer(it) {
		const d = $('viewer');
		const img = $('viewer-img');
		img.src = it.url;
		img.alt = it.name;
		$('viewer-name').textContent = it.name;
		$('viewer-description').textContent = it.description || '';
		if (typeof d.showModal === 'function')
			d.showModal();
		else
			location.href = it.url;
		$('viewer-close').focus();
	}

	/* Retry and cancel: the token first, asked once per tab. */
	async function act(what) {
		if (busy || !job)
			return;
		busy = true;
		renderHeader();
		try {
			for (let tries = 0; tries < 3; tries++) {
				if (!IG.token())
					await IG.askToken((what === 'retry' ? 'Retrying' : 'Cancelling') +
					    ' needs the bearer token.');
				const res = await IG.api('POST', statusPath + '/' + what);
				if (res.status === 401) {
					IG.setToken('');
					IG.message('That token was refused.', true);
					continue;
				}
				if (res.status === 202) {
					IG.message(what === 'retry'
					    ? 'Retrying ' + (res.body && res.body.retryImages) + ' images.'
					    : 'Cancel requested.');
					if (res.body && typeof res.body.status === 'string')
						job.status = res.body.status;
				} else {
					IG.message(IG.errorText(res), true);
				}
				break;
			}
		} catch (e) {
			IG.message('The service cannot be reached.', true);
		}
		busy = false;
		renderHeader();
		schedule(0);
	}

	function start() {
		IG.initTokenForm();
		if (!caseId) {
			$('case-id').textContent = '?';
			IG.message('This address names no case: /cases/{caseId}, with an id of' +
			    ' letters, digits, _ and -.', true);
			return;
		}
		$('case-id').textContent = caseId;
		$('retry').addEventListener('click', () => act('retry'));
		$('cancel').addEventListener('click', () => act('cancel'));
		document.addEventListener('visibilitychange', () => {
			/* Back in view: poll now rather than at the end of the slow wait. */
			if (!document.hidden && timer !== null)
				schedule(0);
		});
		setInterval(() => {
			if (job && !IG.FINAL.has(job.status))
				$('elapsed').textContent = elapsedText();
		}, 1000);
		schedule(0);
	}

	start();
})();
