/*
 * common.js: what the case page and the jobs page share: requests to the
 * API with the bearer token of this tab, the token form, and formatting.
 * Every value from the API goes into the page as text (textContent),
 * never as HTML.
 */
'use strict';

window.IG = (() => {
	const TOKEN_KEY = 'imagegen.token';
	const FINAL = new Set(['completed', 'partial', 'failed', 'cancelled']);

	/* sessionStorage: the token lives as long as this tab, and no longer. */
	function token() {
		try {
			return sessionStorage.getItem(TOKEN_KEY) || '';
		} catch (e) {
			return '';
		}
	}

	function setToken(value) {
		try {
			if (value)
				sessionStorage.setItem(TOKEN_KEY, value);
			else
				sessionStorage.removeItem(TOKEN_KEY);
		} catch (e) {
			/* storage refused (a private mode): the token is not kept */
		}
	}

	/*
	 * One request to the API. cache: 'no-store' keeps the browser's own
	 * cache out of the way, so that a 304 for our If-None-Match reaches us.
	 */
	async function api(method, path, etag) {
		const headers = { Accept: 'application/json' };
		const t = token();
		if (t)
			headers.Authorization = 'Bearer ' + t;
		if (etag)
			headers['If-None-Match'] = etag;
		const res = await fetch(path, { method, headers, cache: 'no-store',
			credentials: 'same-origin', redirect: 'error' });
		let body = null;
		if (res.status !== 304 && res.status !== 204) {
			try {
				body = await res.json();
			} catch (e) {
				body = null;
			}
		}
		return { status: res.status, etag: res.headers.get('ETag'), body };
	}

	function el(tag, className, text) {
		const e = document.createElement(tag);
		if (className)
			e.className = className;
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		return e;
	}

	function errorText(res) {
		if (res.body && typeof res.body.error === 'string')
			return res.body.error;
		return 'HTTP ' + res.status;
	}

	/* "12.3 s", "4 min 05 s", "2 h 07 min" */
	function duration(ms) {
		if (!(ms >= 0))
			return '';
		const s = ms / 1000;
		if (s < 60)
			return s.toFixed(s < 10 ? 1 : 0) + ' s';
		const m = Math.floor(s / 60);
		if (m < 60)
			return m + ' min ' + String(Math.floor(s % 60)).padStart(2, '0') + ' s';
		return Math.floor(m / 60) + ' h ' + String(m % 60).padStart(2, '0') + ' min';
	}

	function when(ms) {
		return typeof ms === 'number' ? new Date(ms).toLocaleString() : '';
	}

	/*
	 * Shows the token form with a reason; resolves once a token is entered.
	 * One form per page: a second ask while it is open joins the first.
	 */
	let waiting = null;
	function askToken(why) {
		const form = document.getElementById('token-form');
		const input = document.getElementById('token');
		document.getElementById('token-why').textContent = why;
		form.hidden = false;
		input.focus();
		if (waiting)
			return waiting.promise;
		waiting = {};
		waiting.promise = new Promise((resolve) => { waiting.resolve = resolve; });
		return waiting.promise;
	}

	function initTokenForm() {
		const form = document.getElementById('token-form');
		form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			const input = document.getElementById('token');
			const value = input.value.trim();
			if (!value)
				return;
			setToken(value);
			input.value = '';
			form.hidden = true;
			const w = waiting;
			waiting = null;
			if (w)
				w.resolve(value);
		});
	}

	/*
	 * The status a person reads: the API's five, or "queued" while a
	 * pending job waits for a place, "cancelled" once a cancel was asked
	 * (the job then ends partial or failed). Polling still goes by status.
	 */
	function shownStatus(job) {
		if (job.cancelled)
			return 'cancelled';
		return job.queued ? 'queued' : String(job.status);
	}

	/* The status badge: its own style per shown status. */
	function statusBadge(span, job) {
		const shown = shownStatus(job);
		span.textContent = shown;
		span.className = 'status status-' + shown.replace(/[^a-z]/g, '');
		span.title = job.status === shown ? '' : 'status: ' + job.status;
		return span;
	}

	function message(text, isError) {
		const m = document.getElementById('message');
		m.textContent = text || '';
		m.classList.toggle('is-error', !!isError);
	}

	return { FINAL, token, setToken, api, el, errorText, duration, when, askToken,
		initTokenForm, message, shownStatus, statusBadge };
})();
