// Requests to the API with the signed-in person's token, and their errors.

import { token } from './auth.js';
import { endSession, state } from './state.js';

export function newKey() {
  if (window.crypto && typeof window.crypto.randomUUID === 'function') {
    return window.crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
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
export function gone(err) { return err.status === 401 || Boolean(err.superseded); }

/**
 * One API request with the signed-in person's token. `session` (default: the current one) is
 * the session the request belongs to: if it ended, the request is not sent, and an answer
 * arriving after it ended is dropped (SessionEnded).
 */
export async function api(method, path, body, key, session = state.session) {
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
    endSession('Your session is not valid (anymore). Please sign in again.');
    throw new HttpError(401, data, response.headers);
  }
  if (!response.ok) { throw new HttpError(response.status, data, response.headers); }
  return data;
}
