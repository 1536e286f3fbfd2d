// Review page of the HITL orchestrator. Plain JavaScript modules, no build step, no external
// resources. Everything shown is inserted with textContent (never innerHTML). This module routes
// and wires the page; the parts are under js/.

import { TOKEN_KEY, OIDC_KEY, sessionSubject, token, startOidc, completeOidc, scheduleRefresh } from './js/auth.js';
import { stopRenewing } from './js/claims.js';
import { showCorrections, addCorrection } from './js/decision.js';
import { showActionFields, toggleFinalMode } from './js/escalation.js';
import { $, flash, focusOn, show } from './js/page.js';
import { claimSelected, loadQueue } from './js/queue.js';
import { forget, signOut, signOutByReviewer } from './js/session.js';
import { onSessionEnd, state } from './js/state.js';
import { changeClaim, submit, submitResolution } from './js/submissions.js';
import { openWorkflow } from './js/workflow.js';

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

// A request answered 401, or tokens that could not be refreshed, sign the reviewer out.
onSessionEnd(signOut);

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
  $('filter-type').addEventListener('change', () => loadQueue(false));
  $('filter-category').addEventListener('change', () => loadQueue(false));
  $('sort').addEventListener('change', () => loadQueue(false));
  // Search as you type, once typing pauses; Enter searches at once.
  let searchTimer = null;
  $('filter-q').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => loadQueue(false), 300);
  });
  $('filter-q').addEventListener('keydown', (event) => {
    if (event.key === 'Enter') { clearTimeout(searchTimer); loadQueue(false); }
  });
  $('claim-selected').addEventListener('click', claimSelected);
  $('more').addEventListener('click', () => loadQueue(true));
  $('back').addEventListener('click', () => { location.hash = '#/'; });
  $('add-correction').addEventListener('click', addCorrection);
  $('claim').addEventListener('click', () => changeClaim(true));
  $('release').addEventListener('click', () => changeClaim(false));
  $('decide').addEventListener('submit', submit);
  $('resolve').addEventListener('submit', submitResolution);
  $('resolve-mode').addEventListener('click', toggleFinalMode);
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
