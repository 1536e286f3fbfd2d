// The page's state, and the one way a session ends (`endSession`: the 401 of a request, a
// refresh that fails), handled by whoever registered with `onSessionEnd` (app.js: sign out).

export const state = {
  cursor: null,
  // The queue's items loaded so far (sorted on the page), and whether the type filter lists the types.
  queueItems: [],
  typesListed: false,
  workflow: null,
  // The open workflow's artifact type (GET /types/{name}?version=): schemas and hints.
  type: null,
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

let sessionEnd = () => {};

/** Registers what ends a session (app.js: signing out, with the message to show). */
export function onSessionEnd(handler) { sessionEnd = handler; }

/** Ends the session, saying `message` (a request answered 401, or the tokens could not be refreshed). */
export function endSession(message) { sessionEnd(message); }
