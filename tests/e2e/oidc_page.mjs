// OpenID Connect sign-in on the review page, in headless Chromium, against the test issuer
// (tests/e2e/oidc_issuer.mjs, keys generated per run) and `hitl serve --oidc-issuer`:
// redirect → the issuer's login → callback (code + PKCE) → queue → decide → a second tab shares
// the session → the ID token is refreshed silently and still works → expired, wrongly signed,
// other-audience and other-issuer tokens are refused → sign-out clears it in both tabs, revokes
// the refresh token and ends the issuer's session (the next sign-in asks for a login again).
// One line per step; screenshots in the artifacts dir; exit 1 on the first failure.
import path from 'node:path';
import {
  arg, expect, fail as failWith, loadPlaywright, run, textMatches, until, visible, WAIT_MS, workspace,
} from './harness.mjs';

const LABEL = 'oidc page';
const fail = (message) => failWith(LABEL, message);
const baseUrl = (arg('base-url', 'HITL_E2E_BASE_URL') || fail('set HITL_E2E_BASE_URL')).replace(/\/+$/, '');
const issuer = (arg('issuer', 'HITL_E2E_ISSUER') || fail('set HITL_E2E_ISSUER')).replace(/\/+$/, '');
const workflowId = arg('workflow', 'HITL_E2E_WORKFLOW') || fail('set HITL_E2E_WORKFLOW');
const artifacts = path.resolve(arg('artifacts', 'HITL_E2E_ARTIFACTS', path.join(workspace, 'target', 'artifacts', 'oidc-page')));
const { chromium } = loadPlaywright(LABEL);

async function stats() {
  return (await fetch(issuer + '/stats')).json();
}

async function session(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('hitl.oidc') || 'null'));
}

/** The status of GET /reviews with `token`, sent from the page (same origin). */
async function reviewsWith(page, token) {
  return page.evaluate(async (t) => (await fetch('/reviews', { headers: { Authorization: 'Bearer ' + t } })).status, token);
}

run(LABEL, artifacts, async (ctx) => {
  const { step, shot } = ctx;
  let page;
  let second;

  await step('launch Chromium; the page offers the organisation sign-in', async () => {
    const version = await ctx.launch(chromium);
    const context = await ctx.browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(WAIT_MS);
    page = await context.newPage();
    ctx.watch(page, 'tab 1');
    await page.goto(baseUrl + '/');
    await visible(page, '#oidc-start', 'the "Sign in with your organisation" button');
    expect(await page.isHidden('#who'), 'nobody is shown as signed in on the sign-in screen');
    return version + ' [' + await shot(page, '01-sign-in.png') + ']';
  });

  await step('redirect to the issuer, sign in as rita, come back signed in', async () => {
    await page.click('#oidc-start');
    await page.waitForURL((u) => u.toString().startsWith(issuer + '/authorize'), { timeout: WAIT_MS });
    const url = new URL(page.url());
    expect(url.searchParams.get('code_challenge_method') === 'S256' && url.searchParams.get('code_challenge'), 'PKCE S256 in the authorization request: ' + url.search);
    expect(url.searchParams.get('redirect_uri') === baseUrl + '/', 'the redirect URI is the page: ' + url.searchParams.get('redirect_uri'));
    await page.fill('#username', 'rita');
    await page.click('#login');
    await page.waitForURL((u) => u.toString().startsWith(baseUrl), { timeout: WAIT_MS });
    const who = await textMatches(page, '#who-name', /^Signed in as rita/, 'the signed-in name');
    expect(!/[?&]code=/.test(page.url()), 'the code is removed from the address bar: ' + page.url());
    await until('the workflow in the queue', async () => (await page.locator('#queue-body a').count()) === 1);
    const s = await stats();
    expect(s.exchanges === 1, 'one code exchange: ' + JSON.stringify(s));
    return JSON.stringify(who) + ' [' + await shot(page, '02-signed-in.png') + ']';
  });

  await step('a second tab shares the session', async () => {
    second = await page.context().newPage();
    ctx.watch(second, 'tab 2');
    await second.goto(baseUrl + '/');
    await textMatches(second, '#who-name', /^Signed in as rita/, 'tab 2: signed in without a new login');
    const s = await stats();
    expect(s.codes === 1, 'no second login at the issuer: ' + JSON.stringify(s));
    return 'codes issued ' + s.codes;
  });

  await step('the ID token is refreshed silently and the new one works', async () => {
    const before = await session(page);
    const after = await until('a refreshed ID token', async () => {
      const now = await session(page);
      return now && now.id_token !== before.id_token ? now : false;
    }, 4 * WAIT_MS);
    const s = await stats();
    expect(s.refreshes >= 1, 'the issuer saw a refresh: ' + JSON.stringify(s));
    expect(await reviewsWith(page, after.id_token) === 200, 'the refreshed token is accepted');
    return s.refreshes + ' refresh(es)';
  });

  await step('decide with the refreshed session', async () => {
    await page.goto(baseUrl + '/#/workflows/' + encodeURIComponent(workflowId));
    await visible(page, '#decide', 'the decision form');
    await page.check('#decide input[name=decision][value=approve]');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/feedback'), { timeout: WAIT_MS }),
      page.click('#submit'),
    ]);
    const body = await response.json();
    expect(response.status() === 200 && body.status === 'approved', 'the approval answered ' + response.status() + ' ' + JSON.stringify(body));
    await textMatches(page, '#flash', /^Approved iteration 1\.$/, 'the confirmation');
    return await shot(page, '03-approved.png');
  });

  await step('expired, wrongly signed, other-audience and other-issuer tokens are refused', async () => {
    const answers = {};
    for (const kind of ['valid', 'expired', 'wrong-key', 'wrong-audience', 'wrong-issuer']) {
      const { token } = await (await fetch(issuer + '/forge?user=rita&kind=' + kind)).json();
      answers[kind] = await reviewsWith(page, token);
    }
    expect(answers.valid === 200, 'a valid token passes: ' + JSON.stringify(answers));
    for (const kind of ['expired', 'wrong-key', 'wrong-audience', 'wrong-issuer']) {
      expect(answers[kind] === 401, kind + ' token refused with 401: ' + JSON.stringify(answers));
    }
    return JSON.stringify(answers);
  });

  await step('sign out: both tabs, the refresh token and the issuer\'s session end', async () => {
    await page.bringToFront();
    const { client_id: clientId } = await (await fetch(baseUrl + '/auth/config')).json();
    // What the issuer answers this browser's next authorization: 302 with a code while its
    // sign-in session lives (no login asked), the login form once it ended.
    const authorizeAnswer = async () => {
      const query = new URLSearchParams({
        response_type: 'code', client_id: clientId, redirect_uri: baseUrl + '/', state: 'probe', code_challenge: 'probe', code_challenge_method: 'S256',
      });
      return (await page.context().request.get(issuer + '/authorize?' + query, { maxRedirects: 0 })).status();
    };
    expect(await authorizeAnswer() === 302, 'before sign-out the issuer signs this browser in without a login');
    const before = await session(page);
    await page.click('#sign-out');
    const s = await until('the revocation and the sign-out at the issuer', async () => {
      const now = await stats();
      return now.revoked === 1 && now.logouts === 1 ? now : false;
    });
    await page.waitForURL((u) => u.toString().startsWith(baseUrl + '/'), { timeout: WAIT_MS });
    await visible(page, '#oidc-start', 'the sign-in button, back from the issuer');
    expect(await session(page) === null, 'the tokens are gone from storage');
    expect(await page.isHidden('#who'), 'the signed-in bar is hidden');
    await visible(second, '#oidc-start', 'tab 2: the sign-in button after the other tab signed out');
    const refresh = await fetch(issuer + '/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: before.refresh_token, client_id: clientId }).toString(),
    });
    expect(refresh.status === 400, 'the revoked refresh token is refused: ' + refresh.status);
    expect(await authorizeAnswer() === 200, 'after sign-out the issuer asks for a login again');
    return 'revoked ' + s.revoked + ', issuer sign-outs ' + s.logouts + ' [' + await shot(page, '04-signed-out.png') + ']';
  });

  await step('no script errors; the only failed requests are the refused tokens', async () => {
    expect(ctx.pageErrors.length === 0, 'page errors: ' + ctx.pageErrors.join(' | '));
    const unexpected = ctx.httpErrors.filter((e) => !/^tab 1: 401 GET \/reviews$/.test(e));
    expect(unexpected.length === 0, 'unexpected HTTP errors: ' + unexpected.join(' | '));
    const refused = ctx.httpErrors.length;
    expect(refused === 4, 'four refused tokens: ' + ctx.httpErrors.join(' | '));
    const consoleUnexpected = ctx.consoleErrors.filter((e) => !/status of 401\b/.test(e));
    expect(consoleUnexpected.length === 0, 'console errors: ' + consoleUnexpected.join(' | '));
    return refused + ' refused';
  });
});
