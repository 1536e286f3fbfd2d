// A small OpenID Connect issuer for the review page's sign-in tests, started by the test and
// killed with it. Keys are generated per run (RSA 2048, RS256). It implements what the page and
// `hitl serve --oidc-*` use: discovery, JWKS, the authorization endpoint (a login form that asks
// for a user name — no password: this is a test issuer), the token endpoint (authorization code
// with PKCE S256, refresh tokens that rotate, CORS for the page's fetch), a sign-in session
// kept in a cookie as real issuers do (a second authorization within it needs no login), token
// revocation (RFC 7009) and a sign-out endpoint that ends that session (OpenID Connect
// RP-Initiated Logout, also accepting Amazon Cognito's `logout_uri`) and, for the refusal
// tests, /forge?kind=expired|wrong-key|wrong-audience|wrong-issuer, which issues tokens the
// server must refuse. /stats counts codes, exchanges, refreshes, sessions, revocations and
// sign-outs.
//
//   node tests/e2e/oidc_issuer.mjs --client-id=hitl-page --users=rita:reviewers,sam:reviewers --ttl=12
//
// prints one line `{"issuer":"http://127.0.0.1:PORT"}` when it listens.
import { createServer } from 'node:http';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

const arg = (name, fallback) => {
  const flag = process.argv.slice(2).find((a) => a.startsWith('--' + name + '='));
  return flag ? flag.slice(name.length + 3) : fallback;
};
const clientId = arg('client-id', 'hitl-page');
const ttl = Number(arg('ttl', '300'));
const users = Object.fromEntries(arg('users', 'rita:reviewers').split(',').map((u) => {
  const [name, ...groups] = u.split(':');
  return [name, groups.join(':').split('+').filter(Boolean)];
}));

const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = randomBytes(8).toString('hex');
const jwk = { ...key.publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };

const codes = new Map();
const refreshTokens = new Map();
const stats = { codes: 0, exchanges: 0, refreshes: 0, refused: 0, silent: 0, revoked: 0, logouts: 0 };
// Sign-in sessions (cookie `issuer_sid`) and the redirect URIs seen in authorizations (the only
// addresses a sign-out may send the browser back to).
const sessions = new Map();
const redirects = new Set();
const SESSION_COOKIE = 'issuer_sid';

function sessionOf(req) {
  const cookie = (req.headers.cookie || '').split(';').map((c) => c.trim().split('=')).find(([n]) => n === SESSION_COOKIE);
  return cookie ? cookie[1] : null;
}

/** A code for `user`, and the redirect back to the client with it. */
function authorize(res, user, redirect, state, challenge, headers = {}) {
  const code = randomBytes(16).toString('base64url');
  codes.set(code, { user, redirect, challenge });
  stats.codes++;
  const back = new URL(redirect);
  back.searchParams.set('code', code);
  back.searchParams.set('state', state || '');
  res.writeHead(302, { Location: back.toString(), ...headers });
  return res.end();
}
let issuer = '';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function jwt(claims, { signWith = key.privateKey, keyId = kid } = {}) {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: keyId }));
  const payload = b64url(JSON.stringify(claims));
  const signature = sign('sha256', Buffer.from(header + '.' + payload), signWith);
  return header + '.' + payload + '.' + b64url(signature);
}

function idToken(user, overrides = {}) {
  const now = Math.floor(Date.now() / 1000);
  return jwt({
    iss: issuer,
    aud: clientId,
    sub: 'sub-' + user,
    'cognito:username': user,
    'cognito:groups': users[user],
    token_use: 'id',
    iat: now,
    exp: now + ttl,
    ...overrides,
  });
}

function tokens(user) {
  const refresh = randomBytes(24).toString('base64url');
  refreshTokens.set(refresh, user);
  const id = idToken(user);
  return { id_token: id, access_token: id, refresh_token: refresh, token_type: 'Bearer', expires_in: ttl };
}

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json',
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Methods': 'POST, OPTIONS', 'Access-Control-Allow-Headers': 'Content-Type' };

async function form(req) {
  let raw = '';
  for await (const chunk of req) { raw += chunk; }
  return new URLSearchParams(raw);
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');

const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return send(res, 200, {
        issuer,
        authorization_endpoint: issuer + '/authorize',
        token_endpoint: issuer + '/token',
        jwks_uri: issuer + '/jwks',
        end_session_endpoint: issuer + '/logout',
        revocation_endpoint: issuer + '/revoke',
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        code_challenge_methods_supported: ['S256'],
        id_token_signing_alg_values_supported: ['RS256'],
        subject_types_supported: ['public'],
      });
    }
    if (req.method === 'GET' && url.pathname === '/jwks') { return send(res, 200, { keys: [jwk] }); }
    if (req.method === 'GET' && url.pathname === '/stats') { return send(res, 200, stats); }
    if (req.method === 'GET' && url.pathname === '/authorize') {
      const p = url.searchParams;
      if (p.get('client_id') !== clientId || p.get('response_type') !== 'code' || p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge') || !p.get('redirect_uri')) {
        return send(res, 400, '<p>bad authorization request</p>');
      }
      redirects.add(p.get('redirect_uri'));
      const signedIn = sessions.get(sessionOf(req));
      if (signedIn) {
        stats.silent++;
        return authorize(res, signedIn, p.get('redirect_uri'), p.get('state'), p.get('code_challenge'));
      }
      const hidden = ['redirect_uri', 'state', 'code_challenge'].map((n) => '<input type="hidden" name="' + n + '" value="' + escape(p.get(n) || '') + '">').join('');
      return send(res, 200, '<!doctype html><html lang="en"><head><link rel="icon" href="data:,"><title>Test issuer sign-in</title></head><body><main><h1>Test issuer</h1>' +
        '<form method="post" action="/authorize">' + hidden + '<label for="username">User name</label> <input id="username" name="username"> ' +
        '<button type="submit" id="login">Sign in</button></form></main></body></html>');
    }
    if (req.method === 'POST' && url.pathname === '/authorize') {
      const p = await form(req);
      const user = p.get('username');
      if (!users[user]) { return send(res, 403, '<p>unknown user</p>'); }
      const sid = randomBytes(16).toString('base64url');
      sessions.set(sid, user);
      return authorize(res, user, p.get('redirect_uri'), p.get('state'), p.get('code_challenge'),
        { 'Set-Cookie': SESSION_COOKIE + '=' + sid + '; Path=/; HttpOnly; SameSite=Lax' });
    }
    if (req.method === 'GET' && url.pathname === '/logout') {
      // OpenID Connect names the return address post_logout_redirect_uri, Cognito logout_uri;
      // either must be one the client registered (here: used as a redirect URI).
      const p = url.searchParams;
      const back = p.get('post_logout_redirect_uri') || p.get('logout_uri');
      if (p.get('client_id') !== clientId || !back || !redirects.has(back)) {
        return send(res, 400, '<p>bad sign-out request</p>');
      }
      sessions.delete(sessionOf(req));
      stats.logouts++;
      res.writeHead(302, { Location: back, 'Set-Cookie': SESSION_COOKIE + '=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax' });
      return res.end();
    }
    if (req.method === 'OPTIONS' && url.pathname === '/revoke') { res.writeHead(204, cors); return res.end(); }
    if (req.method === 'POST' && url.pathname === '/revoke') {
      const p = await form(req);
      if (p.get('client_id') !== clientId) { return send(res, 401, { error: 'invalid_client' }, cors); }
      // RFC 7009: 200 whether or not the token was valid.
      if (refreshTokens.delete(p.get('token') || '')) { stats.revoked++; }
      return send(res, 200, {}, cors);
    }
    if (req.method === 'OPTIONS' && url.pathname === '/token') { res.writeHead(204, cors); return res.end(); }
    if (req.method === 'POST' && url.pathname === '/token') {
      const p = await form(req);
      if (p.get('client_id') !== clientId) { stats.refused++; return send(res, 401, { error: 'invalid_client' }, cors); }
      if (p.get('grant_type') === 'authorization_code') {
        const grant = codes.get(p.get('code'));
        codes.delete(p.get('code'));
        const verifier = p.get('code_verifier') || '';
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        if (!grant || grant.redirect !== p.get('redirect_uri') || grant.challenge !== challenge) {
          stats.refused++;
          return send(res, 400, { error: 'invalid_grant' }, cors);
        }
        stats.exchanges++;
        return send(res, 200, tokens(grant.user), cors);
      }
      if (p.get('grant_type') === 'refresh_token') {
        const user = refreshTokens.get(p.get('refresh_token'));
        refreshTokens.delete(p.get('refresh_token'));
        if (!user) { stats.refused++; return send(res, 400, { error: 'invalid_grant' }, cors); }
        stats.refreshes++;
        return send(res, 200, tokens(user), cors);
      }
      return send(res, 400, { error: 'unsupported_grant_type' }, cors);
    }
    if (req.method === 'GET' && url.pathname === '/forge') {
      const user = url.searchParams.get('user') || Object.keys(users)[0];
      const kind = url.searchParams.get('kind');
      const past = Math.floor(Date.now() / 1000) - 3600;
      const token = {
        expired: () => idToken(user, { iat: past - 600, exp: past }),
        'wrong-key': () => jwt(JSON.parse(Buffer.from(idToken(user).split('.')[1], 'base64url')), { signWith: otherKey.privateKey }),
        'wrong-audience': () => idToken(user, { aud: 'someone-else' }),
        'wrong-issuer': () => idToken(user, { iss: 'https://evil.example' }),
        valid: () => idToken(user),
      }[kind];
      if (!token) { return send(res, 400, { error: 'unknown kind' }); }
      return send(res, 200, { token: token() });
    }
    return send(res, 404, { error: 'not found' });
  } catch (err) {
    return send(res, 500, { error: String(err && err.message) });
  }
});

server.listen(0, '127.0.0.1', () => {
  issuer = 'http://127.0.0.1:' + server.address().port;
  console.log(JSON.stringify({ issuer }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
