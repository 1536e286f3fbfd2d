// The end of a session: everything of it is forgotten, and a reviewer's own sign-out ends
// it at the issuer too.

import { TOKEN_KEY, OIDC_KEY, oidcSession, redirectUri } from './auth.js';
import { stopRenewing } from './claims.js';
import { resetForm } from './decision.js';
import { showActionFields, clearResolveErrors } from './escalation.js';
import { $, flash, focusOn, show } from './page.js';
import { state } from './state.js';
import { clearWorkflow } from './workflow.js';

/**
 * Forgets everything of the session that ends: what was shown (queue, escalations, the
 * workflow, the group filter learnt from the queue), what was typed (decision, corrections,
 * resolution), pending submissions, the claim renewal, and every answer still on its way.
 * The next person's views are all fetched for them.
 */
export function forget() {
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
  // The last person's search, filters and the categories seen in their queue go too.
  state.queueItems = [];
  $('filter-type').value = '';
  $('filter-category').value = '';
  $('categories').textContent = '';
  $('filter-q').value = '';
  $('sort').value = 'due';
  $('claim-selected').hidden = true;
  clearWorkflow('');
  resetForm();
  $('resolve').reset();
  clearResolveErrors();
  showActionFields();
  $('who-name').textContent = '';
}

export function signOut(message) {
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
export async function signOutByReviewer() {
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
