// What the page says about an error answer: a message per 409 `reason` (the API's
// CONFLICT_REASONS: a test checks both name the same), and per escalation reason.

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

export const REASONS = {
  iteration_limit: 'iteration limit reached',
  no_progress: 'no progress',
  review_timeout: 'review deadline passed',
  invalid_draft: 'invalid draft',
  rejected_by_reviewer: 'rejected by a reviewer',
};

export function describe(err) {
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
