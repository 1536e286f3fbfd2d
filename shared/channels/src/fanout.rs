//! One notification to several channels (the notification log and a webhook, say): the
//! domain's [`Fanout`](hitl_domain::ports::Fanout), re-exported beside the channels.

pub use hitl_domain::ports::Fanout;
