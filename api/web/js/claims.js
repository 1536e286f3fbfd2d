// The claim bar of the open workflow, and the renewal of a claim the viewer holds.

import { newKey, api } from './api.js';
import { $, fmtDate } from './page.js';
import { state } from './state.js';

// How long a held claim is renewed while its workflow is open (the server's default claim
// lasts 30 minutes; renewing every 5 keeps any claim of at least 6 minutes alive).
const CLAIM_RENEW_MS = 5 * 60 * 1000;

export function stopRenewing() {
  if (state.renewTimer) { clearInterval(state.renewTimer); state.renewTimer = null; }
}

/** Who holds the review, and the Claim / Release buttons that apply to the viewer. */
export function renderClaim(view, open) {
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
