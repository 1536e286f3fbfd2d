//! The read model of a workflow lives in the application layer ([`hitl_app::view`]); the API's
//! caller is one kind of [`Viewer`].

pub use hitl_app::view::*;

use crate::identity::Identity;

impl Viewer for Identity {
    fn name(&self) -> &str {
        &self.name
    }

    fn may_review(&self, group: &str) -> bool {
        Identity::may_review(self, group)
    }
}
