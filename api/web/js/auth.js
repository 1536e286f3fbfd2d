// Sign-in. Two ways in: a reviewer token pasted once (kept in this tab's sessionStorage), or
// OpenID Connect (authorization code + PKCE) when the server's /auth/config says so. OIDC tokens
// are kept in localStorage, so every tab of the page shares one session and one refresh.

import { flash, sleep } from './page.js';
import { endSession, state } from './state.js';

export const TOKEN_KEY = 'hitl.token';
export const OIDC_KEY = 'hitl.oidc';
const PKCE_KEY = 'hitl.pkce';
// Refresh this long before the ID token expires.
const REFRESH_EARLY_MS = 60 * 1000;

export function oidcSession() {
  try { return JSON.parse(localStorage.getItem(OIDC_KEY) || 'null'); } catch (_) { return null; }
}

/**
 * Who a stored OIDC session (its JSON text) is for: the ID token's `sub`, read only to notice
 * a different person (the server verifies tokens); the token itself if it cannot be read.
 */
export function sessionSubject(raw) {
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

export function token() {
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
export function redirectUri() { return location.origin + location.pathname; }

export async function startOidc() {
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
export async function completeOidc() {
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
    if (!session || !session.refresh_token) { endSession('Your session has ended. Please sign in again.'); return; }
    if (planned && session.id_token !== planned.id_token) { scheduleRefresh(); return; }
    try {
      storeTokens(await tokenRequest({ grant_type: 'refresh_token', refresh_token: session.refresh_token }), session);
    } catch (_) {
      // Without Web Locks another tab may have rotated the refresh token at the same moment:
      // give its answer a moment to land in the shared storage.
      await sleep(1500);
      const now = oidcSession();
      if (now && now.id_token !== session.id_token && now.expires_at > Date.now()) { scheduleRefresh(); return; }
      endSession('Your session has ended. Please sign in again.');
    }
  };
  if (navigator.locks && navigator.locks.request) {
    await navigator.locks.request('hitl.oidc.refresh', run);
  } else {
    await run();
  }
}

export function scheduleRefresh() {
  if (state.refreshTimer) { clearTimeout(state.refreshTimer); state.refreshTimer = null; }
  const session = oidcSession();
  if (!session) { return; }
  // A minute before expiry, or half-way for short-lived tokens.
  const left = session.expires_at - Date.now();
  // Tabs share the session: a little jitter keeps them from refreshing at the same instant.
  const wait = Math.max(1000, Math.min(left - REFRESH_EARLY_MS, left / 2)) + Math.floor(Math.random() * 1000);
  state.refreshTimer = setTimeout(refreshTokens, wait);
}
