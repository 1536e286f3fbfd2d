//! Gathering the records a learning report needs from any [`WorkflowStore`]: the one place the
//! analytics read the store. Used by `hitl report` (SQLite), `hitl aws report` (DynamoDB, through
//! the status index) and `GET /analytics`. The figures themselves are computed by the pure
//! [`crate::analytics::compute`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{StoreError, WorkflowStore};
use crate::model::{FeedbackEntry, Workflow, WorkflowStatus};

/// Workflows fetched per `list_by_status` call.
pub const REPORT_PAGE_SIZE: usize = 100;

/// Workflows and their feedback audit trails, keyed by workflow id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportRecords {
    /// Workflows, sorted by id.
    pub workflows: Vec<Workflow>,
    /// The audit trail of each workflow in `workflows`.
    pub feedback: HashMap<String, Vec<FeedbackEntry>>,
}

/// How far [`collect_report_records`] has come; reported after every page and every 100
/// audit trails, so a caller can show progress on large tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectProgress {
    /// Listing workflows: `pages` store pages read so far, `kept` workflows kept.
    Listing {
        /// Status being listed.
        status: WorkflowStatus,
        /// Pages read so far (all statuses).
        pages: usize,
        /// Workflows kept so far.
        kept: usize,
    },
    /// Loading audit trails: `done` of `total`.
    Feedback {
        /// Trails loaded.
        done: usize,
        /// Trails to load.
        total: usize,
    },
}

/// Loads every workflow a report since `since` can use, with its feedback audit trail.
///
/// Pages through [`WorkflowStore::list_by_status`] for every status (on DynamoDB, queries of
/// the status index). Open workflows are all kept; a terminal one is kept when it completed at
/// or after `since` (`completed_at`, or `updated_at` for records without it). Listings are
/// newest update first and a record's `updated_at` is never before its `completed_at`, so
/// paging of a terminal status stops at the first page that ends before `since`. A workflow
/// that changed status between two listings is kept once, in its newest version.
pub async fn collect_report_records(
    store: &dyn WorkflowStore,
    since: DateTime<Utc>,
    progress: &mut (dyn FnMut(CollectProgress) + Send),
) -> Result<ReportRecords, StoreError> {
    let mut by_id: HashMap<String, Workflow> = HashMap::new();
    let mut pages = 0;
    for status in WorkflowStatus::ALL {
        let mut cursor: Option<String> = None;
        loop {
            let page = store
                .list_by_status(status, REPORT_PAGE_SIZE, cursor.as_deref())
                .await?;
            pages += 1;
            let mut older_than_window = false;
            for workflow in page.items {
                if status.is_terminal() {
                    if workflow.updated_at < since {
                        older_than_window = true;
                    }
                    if workflow.completed_at.unwrap_or(workflow.updated_at) < since {
                        continue;
                    }
                }
                match by_id.get(&workflow.id) {
                    Some(seen) if seen.version >= workflow.version => {}
                    _ => {
                        by_id.insert(workflow.id.clone(), workflow);
                    }
                }
            }
            progress(CollectProgress::Listing {
                status,
                pages,
                kept: by_id.len(),
            });
            cursor = page.next_cursor;
            if cursor.is_none() || older_than_window {
                break;
            }
        }
    }
    let mut workflows: Vec<Workflow> = by_id.into_values().collect();
    workflows.sort_by(|a, b| a.id.cmp(&b.id));
    let total = workflows.len();
    let mut feedback = HashMap::with_capacity(total);
    for (done, workflow) in workflows.iter().enumerate() {
        let entries = store.list_feedback(&workflow.id).await?;
        feedback.insert(workflow.id.clone(), entries);
        if (done + 1) % 100 == 0 || done + 1 == total {
            progress(CollectProgress::Feedback {
                done: done + 1,
                total,
            });
        }
    }
    Ok(ReportRecords {
        workflows,
        feedback,
    })
}
