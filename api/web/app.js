// Review page of the HITL orchestrator. Plain JavaScript, no build step, no external
// resources. Everything shown is inserted with textContent (never innerHTML).
'use strict';

(function () {
  const TOKEN_KEY = 'hitl.token';
  const $ = (id) => document.getElementById(id);

  const CONFLICT_MESSAGES = {
    stale_iteration: 'A newer draft exists: your decision was for an older iteration. The page now shows the current draft.',
    unknown_iteration: 'That iteration does not exist yet. The page now shows the current draft.',
    already_decided: 'Someone else already decided this iteration.',
    not_awaiting_review: 'This workflow is not waiting for a review right now (a new draft is being prepared). Try again in a moment.',
    workflow_finished: 'This workflow has already finished; no more decisions are possible.',
    review_timed_out: 'The review deadline passed before your decision arrived; the workflow was escalated.',
    idempotency_key_reused: 'This submission collided with an earlier one. Please submit again.',
    not_escalated: 'This workflow is not escalated (anymore).',
    already_resolved: 'Someone else already resolved this escalation.',
    escalation_expired: 'The escalation deadline passed: the workflow ended unresolved.',
    too_many_iterations: 'That would allow more than 50 iterations in total.',
    no_draft_to_review: 'There is no valid draft to reassign; grant more iterations or resolve it instead.',
    claimed_by_other: 'Another reviewer is working on this iteration (they claimed it).',
    already_approved: 'You approved this iteration already; it needs another reviewer\'s approval.',
    edit_needs_single_approval: 'This workflow needs several approvals of the same draft, so an approval cannot change it. Request changes instead.',
  };

  // How long a held claim is renewed while its workflow is open (the server's default claim
  // lasts 30 minutes; renewing every 5 keeps any claim of at least 6 minutes alive).
  const CLAIM_RENEW_MS = 5 * 60 * 1000;

  const REASONS = {
    iteration_limit: 'iteration limit reached',
    no_progress: 'no progress',
    review_timeout: 'review deadline passed',
    invalid_draft: 'invalid draft',
    rejected_by_reviewer: 'rejected by a reviewer',
  };

  const state = {
    cursor: null,
    workflow: null,
    // The submission that has not received a definitive answer yet: its key is reused when
    // the same decision is submitted again (retry), a new decision gets a fresh key.
    pending: null,
    // The same for a resolution.
    resolvePending: null,
    // The timer renewing the claim the signed-in reviewer holds on the open workflow.
    renewTimer: null,
    // How reviewers sign in (GET /auth/config) and the OIDC refresh timer.
    auth: { mode: 'token' },
    refreshTimer: null,
    // Counts queue loads: a response is shown only if no newer load started after it.
    queueLoads: 0,
    // The same for the workflow view (a quick second click must not be overtaken by the first).
    workflowLoads: 0,
    // Counts sign-ins and sign-outs: an answer to a request of an earlier session is dropped,
    // and a submission of an earlier session is never sent (again) with the next one's token.
    session: 0,
    // The signed-in person's name once the server has named them (a view was shown).
    viewer: null,
  };

  // ---- sign-in ---------------------------------------------------------------------------
  // Two ways in: a reviewer token pasted once (kept in this tab's sessionStorage), or OpenID
  // Connect (authorization code + PKCE) when the server's /auth/config says so. OIDC tokens are
  // kept in localStorage, so every tab of the page shares one session and one refresh.

  const OIDC_KEY = 'hitl.oidc';
  const PKCE_KEY = 'hitl.pkce';
  // Refresh this long before the ID token expires.
  const REFRESH_EARLY_MS = 60 * 1000;

  function oidcSession() {
    try { return JSON.parse(localStorage.getItem(OIDC_KEY) || 'null'); } catch (_) { return null; }
  }

  /**
   * Who a stored OIDC session (its JSON text) is for: the ID token's `sub`, read only to notice
   * a different person (the server verifies tokens); the token itself if it cannot be read.
   */
  function sessionSubject(raw) {
    let idToken = null;
    try { idToken = (JSON.parse(raw || 'null') || {}).id_token || null; } catch (_) { idToken = null; }
    if (!idToken) { return null; }
    try {
      const payload = idToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(payload + '==='.slice((payload.length + 3) % 4))).sub || idToken;
    } catch (_) {
      return idToken;
    }
  }

  function token() {
    const session = oidcSession();
    return (session && session.id_token) || sessionStorage.getItem(TOKEN_KEY);
  }

  function base64url(bytes) {
    let text = '';
    for (const b of new Uint8Array(bytes)) { text += String.fromCharCode(b); }
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function randomString() {
    const bytes = new Uint8Array(32);
    window.crypto.getRandomValues(bytes);
    return base64url(bytes);
  }

  /** Where the issuer sends the reviewer back: this page, without query or fragment. */
  function redirectUri() { return location.origin + location.pathname; }

  async function startOidc() {
    const auth = state.auth;
    const verifier = randomString();
    const challenge = base64url(await window.crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    const pkce = { verifier, state: randomString(), back: location.hash || '#/' };
    sessionStorage.setItem(PKCE_KEY, JSON.stringify(pkce));
    const url = new URL(auth.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: auth.client_id,
      redirect_uri: redirectUri(),
      scope: auth.scope,
      state: pkce.state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    location.assign(url.toString());
  }

  async function tokenRequest(params) {
    const response = await fetch(state.auth.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(Object.assign({ client_id: state.auth.client_id }, params)).toString(),
      cache: 'no-store',
      credentials: 'omit',
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.id_token) { throw new Error(body.error || ('HTTP ' + response.status)); }
    return body;
  }

  function storeTokens(body, previous) {
    const session = {
      id_token: body.id_token,
      refresh_token: body.refresh_token || (previous && previous.refresh_token) || null,
      expires_at: Date.now() + 1000 * Number(body.expires_in || 300),
    };
    localStorage.setItem(OIDC_KEY, JSON.stringify(session));
    scheduleRefresh();
  }

  /** Back from the issuer with ?code=…&state=…: exchange the code (PKCE) for tokens. */
  async function completeOidc() {
    const params = new URLSearchParams(location.search);
    if (!params.has('code') && !params.has('error')) { return false; }
    let pkce = null;
    try { pkce = JSON.parse(sessionStorage.getItem(PKCE_KEY) || 'null'); } catch (_) { pkce = null; }
    sessionStorage.removeItem(PKCE_KEY);
    history.replaceState(null, '', redirectUri() + ((pkce && pkce.back) || '#/'));
    if (params.has('error') || !pkce || params.get('state') !== pkce.state) {
      flash('Sign-in did not complete' + (params.get('error') ? ' (' + params.get('error') + ')' : ' (the answer did not match this sign-in)') + '. Please try again.', 'error');
      return true;
    }
    try {
      storeTokens(await tokenRequest({
        grant_type: 'authorization_code', code: params.get('code'), redirect_uri: redirectUri(), code_verifier: pkce.verifier,
      }));
    } catch (err) {
      flash('Sign-in did not complete (' + err.message + '). Please try again.', 'error');
    }
    return true;
  }

  /**
   * Refreshes the ID token. Tabs share one session and the issuer rotates refresh tokens, so
   * one tab at a time refreshes (a Web Lock); a tab that waited for the lock finds the session
   * already renewed by another and only re-arms its timer.
   */
  async function refreshTokens() {
    const planned = oidcSession();
    const run = async () => {
      const session = oidcSession();
      if (!session || !session.refresh_token) { signOut('Your session has ended. Please sign in again.'); return; }
      if (planned && session.id_token !== planned.id_token) { scheduleRefresh(); return; }
      try {
        storeTokens(await tokenRequest({ grant_type: 'refresh_token', refresh_token: session.refresh_token }), session);
      } catch (_) {
        // Without Web Locks another tab may have rotated the refresh token at the same moment:
        // give its answer a moment to land in the shared storage.
        await sleep(1500);
        const now = oidcSession();
        if (now && now.id_token !== session.id_token && now.expires_at > Date.now()) { scheduleRefresh(); return; }
        signOut('Your session has ended. Please sign in again.');
      }
    };
    if (navigator.locks && navigator.locks.request) {
      await navigator.locks.request('hitl.oidc.refresh', run);
    } else {
      await run();
    }
  }

  function scheduleRefresh() {
    if (state.refreshTimer) { clearTimeout(state.refreshTimer); state.refreshTimer = null; }
    const session = oidcSession();
    if (!session) { return; }
    // A minute before expiry, or half-way for short-lived tokens.
    const left = session.expires_at - Date.now();
    // Tabs share the session: a little jitter keeps them from refreshing at the same instant.
    const wait = Math.max(1000, Math.min(left - REFRESH_EARLY_MS, left / 2)) + Math.floor(Math.random() * 1000);
    state.refreshTimer = setTimeout(refreshTokens, wait);
  }

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      return window.crypto.randomUUID();
    }
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // Messages go to one of two live regions that are always rendered: `#alert` (role=alert)
  // for errors, `#flash` (role=status) for progress and confirmations. Only their text
  // changes; the same message twice is re-announced by clearing the region first.
  let announcement = 0;
  function flash(message, kind) {
    const target = kind === 'error' ? $('alert') : $('flash');
    const other = kind === 'error' ? $('flash') : $('alert');
    other.textContent = '';
    if (kind !== 'error') { target.className = 'flash' + (kind ? ' ' + kind : ''); }
    const seq = ++announcement;
    if (message && target.textContent === message) {
      target.textContent = '';
      setTimeout(() => { if (seq === announcement) { target.textContent = message; } }, 100);
    } else {
      target.textContent = message || '';
    }
  }

  function setTitle(part) { document.title = part ? part + ' — HITL review' : 'HITL review'; }

  function focusOn(element) {
    if (element) { element.focus(); }
  }

  function show(section) {
    for (const id of ['sign-in', 'queue', 'workflow']) { $(id).hidden = id !== section; }
    if (section === 'sign-in') { setTitle('Sign in'); }
    if (section === 'queue') { setTitle('Review queue'); }
  }

  class HttpError extends Error {
    constructor(status, body, headers) {
      super('HTTP ' + status);
      this.status = status;
      this.body = body;
      this.headers = headers;
    }
  }

  /** A request of a session that ended (signed out, or in as someone else) meanwhile. */
  class SessionEnded extends Error {
    constructor() {
      super('the session ended');
      this.superseded = true;
    }
  }

  /** Whether `err` ended the session or belongs to an ended one: nothing more to say or show. */
  function gone(err) { return err.status === 401 || Boolean(err.superseded); }

  /**
   * One API request with the signed-in person's token. `session` (default: the current one) is
   * the session the request belongs to: if it ended, the request is not sent, and an answer
   * arriving after it ended is dropped (SessionEnded).
   */
  async function api(method, path, body, key, session = state.session) {
    if (session !== state.session) { throw new SessionEnded(); }
    const headers = { Accept: 'application/json', Authorization: 'Bearer ' + token() };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Idempotency-Key'] = key;
      init.body = body;
    }
    const response = await fetch(path, init);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (session !== state.session) { throw new SessionEnded(); }
    if (response.status === 401) {
      signOut('Your session is not valid (anymore). Please sign in again.');
      throw new HttpError(401, data, response.headers);
    }
    if (!response.ok) { throw new HttpError(response.status, data, response.headers); }
    return data;
  }

  function signedInAs(name) {
    state.viewer = name || state.viewer;
    $('who-name').textContent = name ? 'Signed in as ' + name : 'Signed in';
  }

  /**
   * Forgets everything of the session that ends: what was shown (queue, escalations, the
   * workflow, the group filter learnt from the queue), what was typed (decision, corrections,
   * resolution), pending submissions, the claim renewal, and every answer still on its way.
   * The next person's views are all fetched for them.
   */
  function forget() {
    state.session++;
    state.queueLoads++;
    state.workflowLoads++;
    stopRenewing();
    state.viewer = null;
    state.cursor = null;
    state.resolvePending = null;
    $('queue').setAttribute('aria-busy', 'false');
    $('queue-body').textContent = '';
    $('queue-empty').hidden = true;
    $('queue-scroll').hidden = true;
    $('more').hidden = true;
    $('escalations-body').textContent = '';
    $('escalations').hidden = true;
    const groups = $('filter-group');
    while (groups.options.length > 1) { groups.remove(1); }
    groups.value = '';
    $('filter-claim').value = 'any';
    clearWorkflow('');
    resetForm();
    $('resolve').reset();
    clearResolveErrors();
    showActionFields();
    $('who-name').textContent = '';
  }

  function signOut(message) {
    // Someone was shown views: the next person starts at their own queue, not at the address
    // the last one had open (a refused token at sign-in keeps the link it came with).
    const shown = state.viewer !== null;
    forget();
    if (state.refreshTimer) { clearTimeout(state.refreshTimer); state.refreshTimer = null; }
    localStorage.removeItem(OIDC_KEY);
    sessionStorage.removeItem(TOKEN_KEY);
    $('who').hidden = true;
    if (shown && location.hash && location.hash !== '#/') { history.replaceState(null, '', redirectUri() + '#/'); }
    show('sign-in');
    flash(message || (message === undefined ? 'You are signed out.' : ''), message ? 'error' : '');
    focusOn($('sign-in-form').hidden ? $('oidc-start') : $('token'));
  }

  /**
   * "Sign out", clicked: ends the session in every tab of this page, revokes the refresh token
   * at the issuer (RFC 7009, so a copy of it left anywhere is worthless) and ends the issuer's
   * own sign-in session, so on a shared computer the next "Sign in" asks for the password again
   * instead of signing the last reviewer straight back in. The issuer sends the browser back
   * here. The return address goes under both names: `post_logout_redirect_uri` (OpenID Connect
   * RP-Initiated Logout) and `logout_uri` (Amazon Cognito's /logout, which needs it and
   * `client_id`).
   */
  async function signOutByReviewer() {
    const session = oidcSession();
    const auth = state.auth;
    signOut();
    if (!session || auth.mode !== 'oidc') { return; }
    if (session.refresh_token && auth.revocation_endpoint) {
      try {
        await fetch(auth.revocation_endpoint, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: session.refresh_token, token_type_hint: 'refresh_token', client_id: auth.client_id }).toString(),
          cache: 'no-store',
          credentials: 'omit',
        });
      } catch (_) {
        // Best effort: the tokens are gone from this browser either way.
      }
    }
    if (auth.end_session_endpoint) {
      const url = new URL(auth.end_session_endpoint);
      url.searchParams.set('client_id', auth.client_id);
      url.searchParams.set('post_logout_redirect_uri', redirectUri());
      url.searchParams.set('logout_uri', redirectUri());
      location.assign(url.toString());
    }
  }

  function fmtDate(text) {
    if (!text) { return '—'; }
    const d = new Date(text);
    return isNaN(d) ? text : d.toLocaleString();
  }

  function fmtValue(value) {
    if (value === undefined || value === null) { return '—'; }
    if (Array.isArray(value)) { return value.map(fmtValue).join(', '); }
    if (typeof value === 'object') { return JSON.stringify(value); }
    return String(value);
  }

  function flatten(prefix, value, out) {
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
      for (const key of Object.keys(value)) { flatten(prefix ? prefix + '.' + key : key, value[key], out); }
    } else if (prefix) {
      out.push([prefix, value]);
    }
    return out;
  }

  function cell(row, text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) { td.className = className; }
    row.appendChild(td);
    return td;
  }

  // ---- queue ---------------------------------------------------------------------------

  /**
   * Loads the queue (or, with `more`, its next page). Loads can overlap (Refresh clicked twice,
   * a filter changed while loading): only the newest one is shown, and the old rows stay on
   * screen until it arrives. `aria-busy` on the queue is true while a load is outstanding.
   */
  async function loadQueue(more) {
    const load = ++state.queueLoads;
    const section = $('queue');
    section.setAttribute('aria-busy', 'true');
    const body = $('queue-body');
    const cursor = more ? state.cursor : null;
    let path = '/reviews?limit=20';
    if ($('filter-group').value) { path += '&reviewer_group=' + encodeURIComponent($('filter-group').value); }
    if ($('filter-claim').value !== 'any') { path += '&claim=' + encodeURIComponent($('filter-claim').value); }
    if (cursor) { path += '&cursor=' + encodeURIComponent(cursor); }
    try {
      const page = await api('GET', path);
      if (load !== state.queueLoads) { return; }
      signedInAs(page.viewer);
      const rows = document.createDocumentFragment();
      // Soonest deadline first (within what is loaded).
      const items = page.items.slice().sort((a, b) => String(a.deadline || '~').localeCompare(String(b.deadline || '~')));
      for (const item of items) {
        rememberGroup(item.reviewer_group);
        const tr = document.createElement('tr');
        cell(tr, item.subject.name + ' (' + item.subject.id + ')');
        cell(tr, item.iteration + ' / ' + item.max_iterations);
        cell(tr, item.reviewer_group);
        cell(tr, fmtDate(item.deadline));
        cell(tr, (item.approved_by || []).length + ' of ' + item.required_approvals);
        cell(tr, item.claim ? (item.claim.reviewer === page.viewer ? 'you' : item.claim.reviewer) : '—');
        const td = cell(tr, '');
        const open = document.createElement('a');
        open.href = '#/workflows/' + encodeURIComponent(item.workflow_id);
        open.textContent = 'Open';
        // Every link says "Open" on screen; its accessible name says what it opens.
        const what = document.createElement('span');
        what.className = 'vh';
        what.textContent = ' ' + item.subject.name + ', iteration ' + item.iteration;
        open.appendChild(what);
        td.appendChild(open);
        rows.appendChild(tr);
      }
      if (more) { body.appendChild(rows); } else { body.replaceChildren(rows); }
      state.cursor = page.next_cursor || null;
      $('more').hidden = !state.cursor;
      const empty = body.children.length === 0;
      $('queue-empty').hidden = !empty;
      $('queue-scroll').hidden = empty;
      if (!more) { await loadEscalations(load); }
    } catch (err) {
      if (load === state.queueLoads && err.status !== 401) { flash(describe(err), 'error'); }
    } finally {
      if (load === state.queueLoads) { section.setAttribute('aria-busy', 'false'); }
    }
  }

  /** Offers `group` in the queue's group filter (the groups seen in the queue so far). */
  function rememberGroup(group) {
    const select = $('filter-group');
    if (Array.from(select.options).some((o) => o.value === group)) { return; }
    const option = document.createElement('option');
    option.value = group;
    option.textContent = group;
    select.appendChild(option);
  }

  /** The escalations the caller's groups resolve (shown only when there are some). */
  async function loadEscalations(load) {
    const body = $('escalations-body');
    const page = await api('GET', '/escalations?limit=50');
    if (load !== state.queueLoads) { return; }
    const rows = document.createDocumentFragment();
    for (const item of page.items) {
      const tr = document.createElement('tr');
      cell(tr, item.subject.name + ' (' + item.subject.id + ')');
      cell(tr, REASONS[item.reason] || item.reason);
      cell(tr, item.iteration + ' / ' + item.max_iterations);
      cell(tr, fmtDate(item.resolve_by));
      const td = cell(tr, '');
      const open = document.createElement('a');
      open.href = '#/workflows/' + encodeURIComponent(item.workflow_id);
      open.textContent = 'Resolve';
      const what = document.createElement('span');
      what.className = 'vh';
      what.textContent = ' the escalation of ' + item.subject.name;
      open.appendChild(what);
      td.appendChild(open);
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
    $('escalations').hidden = body.children.length === 0;
  }

  // ---- one workflow ----------------------------------------------------------------------

  function fact(list, label, value) {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value;
    list.append(dt, dd);
  }

  /** `<del>`/`<ins>` with a visually hidden "Before:"/"Now:" so the diff reads out right. */
  function marked(tag, prefix, value) {
    const el = document.createElement(tag);
    const hint = document.createElement('span');
    hint.className = 'vh';
    hint.textContent = prefix + ' ';
    el.append(hint, document.createTextNode(fmtValue(value)));
    return el;
  }

  function diffRow(body, field, change, value) {
    const tr = document.createElement('tr');
    const name = cell(tr, field, 'field');
    const td = cell(tr, '');
    if (!change) {
      td.textContent = fmtValue(value);
    } else {
      tr.className = change.change;
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = change.change;
      name.appendChild(tag);
      if (change.change !== 'added') { td.appendChild(marked('del', 'Before:', change.before)); }
      if (change.change !== 'removed') { td.appendChild(marked('ins', 'Now:', value)); }
    }
    body.appendChild(tr);
  }

  function renderArtifact(view) {
    const body = $('wf-artifact').querySelector('tbody');
    body.textContent = '';
    const changes = new Map(view.changes.map((c) => [c.field, c]));
    const fields = view.artifact ? flatten('', view.artifact.content, []) : [];
    for (const [field, value] of fields) { diffRow(body, field, changes.get(field), value); }
    for (const change of view.changes.filter((c) => c.change === 'removed')) {
      diffRow(body, change.field, change, undefined);
    }
    $('wf-artifact').hidden = body.children.length === 0;
    $('wf-draft-iteration').textContent = view.artifact ? '(iteration ' + view.artifact.iteration + ')' : '(none yet)';
    $('wf-changes-note').textContent = view.previous_iteration
      ? view.changes.length + ' field(s) changed since iteration ' + view.previous_iteration + ' (highlighted).'
      : 'First draft.';
  }

  function renderFeedback(view) {
    const list = $('wf-feedback');
    list.textContent = '';
    for (const f of view.feedback) {
      const li = document.createElement('li');
      if (f.outcome !== 'applied') { li.className = 'rejected'; }
      const said = {
        approve: 'approved', request_changes: 'requested changes', reject: 'rejected the draft and stopped the loop',
        resolve: 'resolved the escalation',
        extend: 'granted more iterations', reassign: 'reassigned the review', abandon: 'abandoned the workflow',
      };
      let text = 'Iteration ' + f.iteration + ': ' + f.reviewer + ' — ' + (said[f.decision] || f.decision);
      if (f.outcome !== 'applied') { text += ' (not applied: ' + f.reason + ')'; }
      text += ' · ' + fmtDate(f.received_at);
      li.appendChild(document.createTextNode(text));
      if (f.comments) {
        const q = document.createElement('blockquote');
        q.textContent = f.comments;
        li.appendChild(q);
      }
      if (f.corrections && f.corrections.length) {
        const ul = document.createElement('ul');
        for (const c of f.corrections) {
          const item = document.createElement('li');
          item.textContent = c.field + ' → ' + c.value;
          ul.appendChild(item);
        }
        li.appendChild(ul);
      }
      list.appendChild(li);
    }
    $('wf-feedback-empty').hidden = view.feedback.length > 0;
    renderClaimLog(view);
  }

  /** The workflow's claim log: every claim taken and released (an admin's release named). */
  function renderClaimLog(view) {
    const list = $('wf-claim-log');
    list.textContent = '';
    for (const e of view.claim_log || []) {
      const li = document.createElement('li');
      let text = 'Iteration ' + e.iteration + ': ';
      if (e.action === 'claimed') {
        text += e.reviewer + ' claimed it';
      } else if (e.by) {
        text += e.by + ' released ' + e.reviewer + '\'s claim';
      } else {
        text += e.reviewer + ' released it';
      }
      li.textContent = text + ' · ' + fmtDate(e.at);
      list.appendChild(li);
    }
    $('wf-claims').hidden = list.children.length === 0;
  }

  function renderWorkflow(view) {
    state.workflow = view;
    $('wf-body').hidden = false;
    $('wf-title').textContent = view.subject.name + ' — ' + view.workflow_id;
    setTitle(view.subject.name + ', iteration ' + view.iteration);
    const facts = $('wf-facts');
    facts.textContent = '';
    fact(facts, 'Status', view.status.replace(/_/g, ' '));
    fact(facts, 'Iteration', view.iteration + ' of at most ' + view.max_iterations);
    fact(facts, 'Reviewer group', view.reviewer_group);
    if (view.deadline) { fact(facts, 'Review deadline', fmtDate(view.deadline)); }
    if (view.review && view.review.required_approvals > 1) {
      const by = view.review.approved_by;
      fact(facts, 'Approvals', by.length + ' of ' + view.review.required_approvals + (by.length ? ' (' + by.join(', ') + ')' : ''));
    }
    if (view.escalation) { fact(facts, 'Escalated', (REASONS[view.escalation.reason] || view.escalation.reason) + ': ' + view.escalation.detail); }
    if (view.escalation && view.escalation.resolve_by) { fact(facts, 'Resolve by', fmtDate(view.escalation.resolve_by)); }
    if (view.escalation && view.escalation.unresolved_at) { fact(facts, 'Unresolved since', fmtDate(view.escalation.unresolved_at)); }
    renderArtifact(view);
    renderFeedback(view);
    const reviewing = view.status === 'awaiting_review' && view.review && view.review.iteration === view.iteration;
    // The decision form and the claim only for who may decide (the escalation group may look).
    const open = Boolean(reviewing && view.viewer_may_decide);
    signedInAs(view.viewer);
    renderClaim(view, open);
    $('decide').hidden = !open;
    $('decided-note').hidden = open;
    $('decided-note').textContent = open ? '' : reviewing
      ? 'Only group ' + view.reviewer_group + ' decides this review; you can follow it here.'
      : 'No decision is possible right now (status: ' + view.status.replace(/_/g, ' ') + ').';
    $('decide-iteration').textContent = String(view.iteration);
    renderEscalation(view);
    const select = document.querySelector('#correction-row').content.querySelector('select');
    select.textContent = '';
    for (const field of view.correctable_fields) {
      const option = document.createElement('option');
      option.value = field;
      option.textContent = field;
      select.appendChild(option);
    }
  }

  // ---- claims ----------------------------------------------------------------------------

  function stopRenewing() {
    if (state.renewTimer) { clearInterval(state.renewTimer); state.renewTimer = null; }
  }

  /** Who holds the review, and the Claim / Release buttons that apply to the viewer. */
  function renderClaim(view, open) {
    stopRenewing();
    const claim = open ? view.review.claim : null;
    const mine = Boolean(claim && claim.reviewer === view.viewer);
    $('claim-bar').hidden = !open;
    $('claim-note').textContent = !claim
      ? 'Nobody is working on this review. Claim it so that nobody else decides it while you do.'
      : mine
        ? 'You hold this review until ' + fmtDate(claim.expires_at) + ' (renewed while this page is open).'
        : 'Claimed by ' + claim.reviewer + ' until ' + fmtDate(claim.expires_at) + ': only they can decide it until then.';
    $('claim').hidden = Boolean(claim);
    $('release').hidden = !mine;
    if (mine) {
      const id = view.workflow_id;
      state.renewTimer = setInterval(() => {
        if (!state.workflow || state.workflow.workflow_id !== id) { stopRenewing(); return; }
        api('POST', '/workflows/' + encodeURIComponent(id) + '/claim', JSON.stringify({ iteration: view.iteration }), newKey())
          .catch(() => stopRenewing());
      }, CLAIM_RENEW_MS);
    }
  }

  async function changeClaim(take) {
    const view = state.workflow;
    if (!view) { return; }
    const path = '/workflows/' + encodeURIComponent(view.workflow_id) + '/claim';
    const session = state.session;
    try {
      if (take) {
        await api('POST', path, JSON.stringify({ iteration: view.iteration }), newKey(), session);
      } else {
        await api('DELETE', path, undefined, undefined, session);
      }
      flash(take ? 'You hold this review now.' : 'You released this review.', 'ok');
    } catch (err) {
      if (gone(err)) { return; }
      flash(describe(err), 'error');
    }
    await openWorkflow(view.workflow_id, true);
    focusOn([$('release'), $('claim')].find((b) => !b.hidden && !$('claim-bar').hidden) || $('wf-title'));
  }

  /** Shows workflow `id`; resolves to true when it was loaded. */
  async function openWorkflow(id, keepFlash) {
    const load = ++state.workflowLoads;
    if (!keepFlash) { flash(''); }
    if (!state.workflow || state.workflow.workflow_id !== id) {
      // Nothing of the workflow shown before (or of the person signed in before) is on screen
      // while this one loads.
      clearWorkflow('Loading the workflow…');
      resetForm();
    }
    show('workflow');
    $('workflow').setAttribute('aria-busy', 'true');
    try {
      const view = await api('GET', '/workflows/' + encodeURIComponent(id));
      // Another workflow (or this one again) was opened meanwhile: its answer is the one shown.
      if (load !== state.workflowLoads) { return false; }
      renderWorkflow(view);
      return true;
    } catch (err) {
      if (gone(err) || load !== state.workflowLoads) { return false; }
      // Nothing of another workflow (or an empty draft table) may stay under the error.
      clearWorkflow('Workflow not available');
      setTitle('Workflow not available');
      flash(describe(err), 'error');
      return false;
    } finally {
      if (load === state.workflowLoads) { $('workflow').setAttribute('aria-busy', 'false'); }
    }
  }

  /** Empties the workflow view (hidden, `title` as its heading) and stops renewing its claim. */
  function clearWorkflow(title) {
    state.workflow = null;
    stopRenewing();
    $('wf-body').hidden = true;
    $('wf-title').textContent = title;
    $('wf-facts').textContent = '';
    $('wf-artifact').querySelector('tbody').textContent = '';
    $('wf-draft-iteration').textContent = '';
    $('wf-changes-note').textContent = '';
    $('wf-feedback').textContent = '';
    $('wf-claim-log').textContent = '';
    $('wf-claims').hidden = true;
    $('claim-bar').hidden = true;
    $('claim-note').textContent = '';
    $('decide').hidden = true;
    $('decide-iteration').textContent = '';
    $('decided-note').hidden = true;
    $('decided-note').textContent = '';
    $('escalation-panel').hidden = true;
    $('esc-drafts').textContent = '';
    $('resolve-final').value = '';
    $('resolve-iteration').textContent = '';
  }

  // ---- decision form -------------------------------------------------------------------

  function resetForm() {
    $('decide').reset();
    $('corrections').textContent = '';
    clearFieldErrors();
    showCorrections();
    state.pending = null;
  }

  /** Corrections go with "Request changes" (to the agent) and "Approve" (edit and approve). */
  function showCorrections() {
    const decision = currentDecision();
    $('corrections-block').hidden = decision !== 'request_changes' && decision !== 'approve';
    $('corrections-hint').textContent = decision === 'approve'
      ? 'Edit and approve: the draft with these corrections becomes the final version, exactly as you type them, without another round with the agent.'
      : 'A correction replaces a field\'s value in the next draft exactly as you type it.';
  }

  /** Gives every correction row numbered accessible names ("Correction 2: field", …). */
  function renumberCorrections() {
    Array.from($('corrections').children).forEach((li, i) => {
      li.querySelector('.field-label').textContent = 'Correction ' + (i + 1) + ': field';
      li.querySelector('.value-label').textContent = 'Correction ' + (i + 1) + ': corrected value';
      li.querySelector('.remove').setAttribute('aria-label', 'Remove correction ' + (i + 1));
    });
  }

  function addCorrection() {
    const row = document.querySelector('#correction-row').content.firstElementChild.cloneNode(true);
    row.querySelector('.remove').addEventListener('click', () => {
      row.remove();
      renumberCorrections();
      focusOn($('add-correction'));
    });
    // Enter in a value must not send the whole decision (implicit form submission).
    row.querySelector('input[name=value]').addEventListener('keydown', (event) => {
      if (event.key === 'Enter') { event.preventDefault(); }
    });
    $('corrections').appendChild(row);
    renumberCorrections();
    focusOn(row.querySelector('select'));
  }

  // ---- field errors ----------------------------------------------------------------------

  /** Removes the error notes and marks of form `formId` and empties its summary box. */
  function clearErrors(formId, boxId) {
    for (const el of document.querySelectorAll('#' + formId + ' .field-error')) { el.remove(); }
    for (const el of document.querySelectorAll('#' + formId + ' [aria-invalid]')) {
      el.removeAttribute('aria-invalid');
      const own = el.dataset.describedby;
      if (own) { el.setAttribute('aria-describedby', own); } else { el.removeAttribute('aria-describedby'); }
    }
    $(boxId).hidden = true;
    $(boxId + '-list').textContent = '';
  }

  /** Marks `control` invalid, described first by the error note `noteId`. */
  function markInvalid(control, noteId) {
    if (!control.hasAttribute('aria-invalid')) {
      if (control.dataset.describedby === undefined) { control.dataset.describedby = control.getAttribute('aria-describedby') || ''; }
      control.setAttribute('aria-invalid', 'true');
    }
    const ids = (control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    control.setAttribute('aria-describedby', [noteId].concat(ids).join(' '));
  }

  function clearFieldErrors() { clearErrors('decide', 'field-errors'); }

  /** The control and the readable name of an API error's `field`, for the rows that were sent. */
  function fieldTarget(field, rows) {
    const m = /^corrections\[(\d+)\]\.(field|value)$/.exec(field);
    if (m && rows[Number(m[1])]) {
      const li = rows[Number(m[1])];
      const n = Array.from($('corrections').children).indexOf(li) + 1;
      const select = li.querySelector('select');
      return m[2] === 'field'
        ? { control: select, label: 'The field of correction ' + n, after: li }
        : { control: li.querySelector('input[name=value]'), label: 'Correction ' + n + ' (' + select.value + ')', after: li };
    }
    switch (field) {
      case 'comments': return { control: $('comments'), label: 'Comments', after: $('comments-hint') };
      case 'corrections': {
        const first = $('corrections').querySelector('input[name=value]');
        return { control: first || $('add-correction'), label: 'Field corrections', after: first ? first.closest('li') : $('corrections') };
      }
      case 'decision':
      case 'iteration': {
        const radio = document.querySelector('#decide input[name=decision]:checked') || document.querySelector('#decide input[name=decision]');
        return { control: radio, label: field === 'decision' ? 'Decision' : 'Iteration', after: document.querySelector('#decide .choice') };
      }
      default: return { control: null, label: field, after: null };
    }
  }

  function sentence(label, message) {
    const text = label + ' ' + String(message || 'is not valid').trim();
    return /[.!?)]$/.test(text) ? text : text + '.';
  }

  /** Marks and describes every invalid control, lists the problems, focuses the first. */
  function showFieldErrors(errors, rows) {
    clearFieldErrors();
    const list = $('field-errors-list');
    let first = null;
    errors.forEach((e, i) => {
      const { control, label, after } = fieldTarget(e.field, rows);
      const text = sentence(label, e.message);
      const li = document.createElement('li');
      li.textContent = text;
      list.appendChild(li);
      if (!control) { return; }
      const note = document.createElement('p');
      note.className = 'field-error';
      note.id = 'field-error-' + i;
      note.textContent = text;
      if (after && after.tagName === 'LI') { after.appendChild(note); } else if (after) { after.after(note); }
      markInvalid(control, note.id);
      first = first || control;
    });
    $('field-errors').hidden = errors.length === 0;
    focusOn(first);
  }

  /** The chosen decision, or null: nothing is preselected, so one click never approves. */
  function currentDecision() {
    const checked = document.querySelector('#decide input[name=decision]:checked');
    return checked ? checked.value : null;
  }

  /** The request body, and the correction rows in the order they were sent. */
  function buildBody() {
    const decision = currentDecision();
    const body = { iteration: state.workflow.iteration, decision };
    const comments = $('comments').value.trim();
    if (comments) { body.comments = comments; }
    const rows = [];
    if (decision === 'request_changes' || decision === 'approve') {
      const corrections = [];
      for (const li of $('corrections').children) {
        const value = li.querySelector('input[name=value]').value;
        if (value.trim()) {
          corrections.push({ field: li.querySelector('select').value, value });
          rows.push(li);
        }
      }
      if (corrections.length) { body.corrections = corrections; }
    }
    return { body: JSON.stringify(body), rows };
  }

  function describe(err) {
    const body = err.body || {};
    switch (err.status) {
      case 400: {
        const n = Array.isArray(body.errors) ? body.errors.length : 0;
        return n
          ? 'Your decision was not sent: ' + n + (n === 1 ? ' problem needs' : ' problems need') + ' fixing (marked next to the fields).'
          : 'Your decision was not sent: ' + (body.message || 'the request was not valid') + '.';
      }
      case 403: return 'You are not a reviewer of this workflow' + (body.message ? ' (' + body.message + ').' : '.');
      case 404: return 'This workflow does not exist, or you are not one of its reviewers.';
      case 429: return 'You have submitted many decisions in a short time. Wait a moment and submit again (it will not be applied twice).';
      case 409: return CONFLICT_MESSAGES[body.reason] ? CONFLICT_MESSAGES[body.reason] + (body.message ? ' (' + body.message + ')' : '') : (body.message || 'Conflict.');
      case 413: return 'The submission is too large (at most 64 KiB).';
      case 415: return 'The submission was not sent as JSON.';
      case 503: return 'Your decision is recorded but the workflow could not be resumed yet. Submit again to retry (it will not be applied twice).';
      default: return 'Something went wrong (' + (err.status || err.message) + '). Submit again to retry.';
    }
  }

  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

  async function submit(event) {
    event.preventDefault();
    const view = state.workflow;
    if (!view) { return; }
    if (!currentDecision()) {
      flash('Your decision was not sent: 1 problem needs fixing (marked next to the fields).', 'error');
      showFieldErrors([{ field: 'decision', message: 'is not chosen: choose Approve, Request changes or Reject.' }], []);
      return;
    }
    const session = state.session;
    const { body, rows } = buildBody();
    if (!state.pending || state.pending.workflowId !== view.workflow_id || state.pending.body !== body) {
      state.pending = { workflowId: view.workflow_id, body, key: newKey() };
    }
    const pending = state.pending;
    const button = $('submit');
    button.disabled = true;
    clearFieldErrors();
    flash('Submitting…');
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const result = await api('POST', '/workflows/' + encodeURIComponent(pending.workflowId) + '/feedback', pending.body, pending.key, session);
          state.pending = null;
          flash(result.decision === 'approve' && result.status === 'awaiting_review'
            ? 'Your approval of iteration ' + result.iteration + ' is recorded; the workflow waits for another reviewer\'s approval.'
            : result.decision === 'approve'
            ? 'Approved iteration ' + result.iteration + '.'
            : result.decision === 'reject'
              ? 'Rejected iteration ' + result.iteration + '. The workflow goes to its escalation group.'
              : 'Changes requested for iteration ' + result.iteration + '. The next draft will appear in your queue.', 'ok');
          resetForm();
          await openWorkflow(pending.workflowId, true);
          focusOn($('wf-title'));
          return;
        } catch (err) {
          const retriable = !gone(err) && (err.status === undefined || err.status === 503 || err.status >= 500);
          if (retriable && attempt < 2) {
            const after = err.headers && Number(err.headers.get('Retry-After'));
            await sleep(1000 * (after > 0 && after < 30 ? after : 1));
            continue;
          }
          throw err;
        }
      }
    } catch (err) {
      if (gone(err)) { return; }
      const retriable = err.status === undefined || err.status >= 500;
      if (!retriable) { state.pending = null; }
      flash(describe(err), 'error');
      if (err.status === 400 && err.body && Array.isArray(err.body.errors)) {
        showFieldErrors(err.body.errors, rows);
      }
      // A 404 (not, or no longer, theirs) or 409 reloads the view: no form stays beside it.
      if (err.status === 404 || err.status === 409) {
        await openWorkflow(pending.workflowId, true);
        focusOn($('wf-title'));
      }
    } finally {
      button.disabled = false;
    }
  }

  // ---- escalation ------------------------------------------------------------------------

  function waitingEscalation(view) {
    return view.status === 'escalated' && view.escalation && view.escalation.resolve_by;
  }

  function renderEscalation(view) {
    const waiting = Boolean(waitingEscalation(view) && view.viewer_may_resolve);
    $('escalation-panel').hidden = !waiting;
    if (waitingEscalation(view) && !waiting) {
      $('decided-note').textContent = 'Only group ' + view.escalation_group + ' resolves this escalation; you can follow it here.';
    }
    if (!waiting) { return; }
    $('decided-note').hidden = true;
    $('resolve-iteration').textContent = String(view.escalation.iteration);
    const list = $('esc-drafts');
    list.textContent = '';
    for (const draft of view.drafts || []) {
      const li = document.createElement('li');
      li.appendChild(document.createTextNode('Iteration ' + draft.iteration + ' (' + draft.generator + ')'));
      const dl = document.createElement('dl');
      dl.className = 'facts';
      for (const [field, value] of flatten('', draft.content, [])) { fact(dl, field, fmtValue(value)); }
      li.appendChild(dl);
      list.appendChild(li);
    }
    if (!state.resolvePending || state.resolvePending.workflowId !== view.workflow_id) {
      const newest = (view.drafts || [])[view.drafts.length - 1];
      $('resolve-final').value = newest ? JSON.stringify(newest.content, null, 2) : '';
    }
  }

  function currentAction() {
    const checked = document.querySelector('#resolve input[name=action]:checked');
    return checked ? checked.value : '';
  }

  function showActionFields() {
    const action = currentAction();
    for (const el of document.querySelectorAll('#resolve [data-action]')) {
      el.hidden = !el.dataset.action.split(' ').includes(action);
    }
  }

  function clearResolveErrors() { clearErrors('resolve', 'resolve-errors'); }

  const RESOLVE_FIELDS = {
    action: ['Resolution', () => document.querySelector('#resolve input[name=action]')],
    final: ['The final version', () => $('resolve-final')],
    iterations: ['More iterations', () => $('resolve-iterations')],
    guidance: ['The guidance', () => $('resolve-guidance')],
    reviewer_group: ['The reviewer group', () => $('resolve-group')],
    review_timeout_seconds: ['The new review deadline', () => $('resolve-hours')],
    reason: ['The reason', () => $('resolve-reason')],
  };

  function showResolveErrors(errors) {
    clearResolveErrors();
    let first = null;
    errors.forEach((e, i) => {
      const key = Object.keys(RESOLVE_FIELDS).find((k) => e.field === k || e.field.startsWith(k + '.') || e.field.startsWith(k + '['));
      const [label, control] = key ? RESOLVE_FIELDS[key] : [e.field, () => null];
      const where = key && e.field !== key ? ' (' + e.field.slice(key.length + 1) + ')' : '';
      const text = sentence(label + where, e.message);
      const li = document.createElement('li');
      li.textContent = text;
      $('resolve-errors-list').appendChild(li);
      const el = control();
      if (!el) { return; }
      const note = document.createElement('p');
      note.className = 'field-error';
      note.id = 'resolve-error-' + i;
      note.textContent = text;
      (el.type === 'radio' ? el.closest('fieldset') : el).after(note);
      markInvalid(el, note.id);
      first = first || el;
    });
    $('resolve-errors').hidden = errors.length === 0;
    focusOn(first);
  }

  /** The resolution body, or field errors found before sending (no action, JSON that does not parse). */
  function resolutionBody(view) {
    const action = currentAction();
    if (!action) { return { errors: [{ field: 'action', message: 'is required: choose one' }] }; }
    const body = { iteration: view.escalation.iteration, action };
    const reason = $('resolve-reason').value.trim();
    if (action === 'resolve') {
      try {
        body.final = JSON.parse($('resolve-final').value);
      } catch (err) {
        return { errors: [{ field: 'final', message: 'is not valid JSON (' + err.message + ')' }] };
      }
      if (reason) { body.reason = reason; }
    } else if (action === 'extend') {
      body.iterations = Number($('resolve-iterations').value);
      const guidance = $('resolve-guidance').value.trim();
      if (guidance) { body.guidance = guidance; }
    } else if (action === 'reassign') {
      body.reviewer_group = $('resolve-group').value.trim();
      const hours = $('resolve-hours').value.trim();
      if (hours) { body.review_timeout_seconds = Math.round(Number(hours) * 3600); }
    } else if (reason) {
      body.reason = reason;
    }
    return { body: JSON.stringify(body) };
  }

  async function submitResolution(event) {
    event.preventDefault();
    const view = state.workflow;
    if (!view || !waitingEscalation(view) || !view.viewer_may_resolve) { return; }
    const session = state.session;
    const { body, errors } = resolutionBody(view);
    if (errors) {
      flash('The resolution was not sent: 1 problem needs fixing (marked next to the field).', 'error');
      showResolveErrors(errors);
      return;
    }
    if (!state.resolvePending || state.resolvePending.workflowId !== view.workflow_id || state.resolvePending.body !== body) {
      state.resolvePending = { workflowId: view.workflow_id, body, key: newKey() };
    }
    const pending = state.resolvePending;
    const button = $('resolve-submit');
    button.disabled = true;
    clearResolveErrors();
    flash('Submitting…');
    try {
      const result = await api('POST', '/workflows/' + encodeURIComponent(pending.workflowId) + '/resolution', pending.body, pending.key, session);
      state.resolvePending = null;
      flash('Resolution applied (' + result.decision + '): the workflow is now ' + String(result.status).replace(/_/g, ' ') + '.', 'ok');
      $('resolve').reset();
      showActionFields();
      await openWorkflow(pending.workflowId, true);
      focusOn($('wf-title'));
    } catch (err) {
      if (gone(err)) { return; }
      if (!(err.status === undefined || err.status >= 500)) { state.resolvePending = null; }
      if (err.status === 400 && err.body && Array.isArray(err.body.errors)) {
        const n = err.body.errors.length;
        flash('The resolution was not sent: ' + n + (n === 1 ? ' problem needs' : ' problems need') + ' fixing (marked next to the fields).', 'error');
        showResolveErrors(err.body.errors);
      } else {
        flash(describe(err), 'error');
        // A 404 (not, or no longer, theirs) or 409 reloads the view: no form stays beside it.
        if (err.status === 404 || err.status === 409) { await openWorkflow(pending.workflowId, true); focusOn($('wf-title')); }
      }
    } finally {
      button.disabled = false;
    }
  }

  // ---- wiring ----------------------------------------------------------------------------

  /** Shows the view of the current URL and puts focus on its heading (not on `<body>`). */
  async function route() {
    if (!token()) { show('sign-in'); return; }
    stopRenewing();
    $('who').hidden = false;
    const match = location.hash.match(/^#\/workflows\/(.+)$/);
    if (match) {
      await openWorkflow(decodeURIComponent(match[1]));
      if (token()) { focusOn($('wf-title')); }
    } else {
      state.workflow = null;
      // A workflow still loading must not render (and start renewing a claim) behind the queue.
      state.workflowLoads++;
      show('queue');
      await loadQueue(false);
      if (token()) { focusOn($('queue-title')); }
    }
  }

  /** Reads how to sign in, finishes an OIDC sign-in coming back from the issuer, routes. */
  async function start() {
    try {
      const response = await fetch('/auth/config', { cache: 'no-store' });
      if (response.ok) { state.auth = await response.json(); }
    } catch (_) { state.auth = { mode: 'token' }; }
    const oidc = state.auth.mode === 'oidc';
    $('oidc-sign-in').hidden = !oidc;
    $('sign-in-form').hidden = oidc && !state.auth.reviewer_tokens;
    if (oidc) {
      $('token-label').textContent = 'Or use a reviewer token';
      await completeOidc();
      scheduleRefresh();
    }
    if (token()) { $('who-name').textContent = 'Signed in'; }
    await route();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('sign-in-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const value = $('token').value.trim();
      if (!value) { return; }
      forget();
      sessionStorage.setItem(TOKEN_KEY, value);
      $('token').value = '';
      flash('');
      $('who-name').textContent = 'Signed in';
      await route();
    });
    $('sign-out').addEventListener('click', () => signOutByReviewer());
    $('oidc-start').addEventListener('click', () => { startOidc().catch((err) => flash('Sign-in could not start (' + err.message + ').', 'error')); });
    // Another tab signed out, or in (maybe as someone else): follow it. A refresh of the same
    // person's tokens only re-arms the timer.
    window.addEventListener('storage', (event) => {
      if (event.key !== OIDC_KEY) { return; }
      if (!event.newValue && !sessionStorage.getItem(TOKEN_KEY)) { signOut(); return; }
      if (sessionSubject(event.oldValue) !== sessionSubject(event.newValue)) {
        forget();
        $('who-name').textContent = 'Signed in';
        route();
      }
      scheduleRefresh();
    });
    $('decide').addEventListener('keydown', (event) => {
      // Enter on a radio button would submit the form implicitly; Space selects instead.
      if (event.key === 'Enter' && event.target.name === 'decision') { event.preventDefault(); }
    });
    $('refresh').addEventListener('click', () => loadQueue(false));
    $('filter-group').addEventListener('change', () => loadQueue(false));
    $('filter-claim').addEventListener('change', () => loadQueue(false));
    $('more').addEventListener('click', () => loadQueue(true));
    $('back').addEventListener('click', () => { location.hash = '#/'; });
    $('add-correction').addEventListener('click', addCorrection);
    $('claim').addEventListener('click', () => changeClaim(true));
    $('release').addEventListener('click', () => changeClaim(false));
    $('decide').addEventListener('submit', submit);
    $('resolve').addEventListener('submit', submitResolution);
    $('resolve').addEventListener('change', (event) => {
      if (event.target.name === 'action') { showActionFields(); }
    });
    $('resolve').addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.target.name === 'action' || event.target.tagName === 'INPUT')) { event.preventDefault(); }
    });
    $('decide').addEventListener('change', (event) => {
      if (event.target.name === 'decision') { showCorrections(); }
    });
    window.addEventListener('hashchange', route);
    start();
  });
})();
