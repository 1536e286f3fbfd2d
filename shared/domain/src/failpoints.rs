//! Crash points on the decision path, for the crash-matrix test (`cli/tests/crash.rs`).
//!
//! Without the `failpoints` feature (every build but the CLI's tests) [`crash_point`] is an
//! empty function. With it, `FAILPOINTS="<name>=return"` makes the process abort at that
//! point — no unwinding, no cleanup, like a power cut or a `kill -9` — so the test can check
//! what survives.

/// The engine's point (in `hitl-statemachine`, feature `failpoints`): a callback task's
/// handler ran (the review request and its task token are recorded), the engine has not
/// committed that yet.
pub const ENGINE_AFTER_CALLBACK_HANDLER: &str = "engine::after_callback_handler";

/// The points, in the order a decision passes them.
pub const POINTS: [&str; 4] = [
    AFTER_RECORD,
    AFTER_RESUME,
    RECONCILE_BEFORE_DELIVER,
    LOCAL_AFTER_QUEUED_DELIVERY,
];
/// The decision and its pending-delivery marker are committed; nothing was delivered.
pub const AFTER_RECORD: &str = "decision::after_record";
/// The execution accepted the decision; the marker is not settled yet.
pub const AFTER_RESUME: &str = "decision::after_resume";
/// The reconciler picked a pending decision and is about to deliver it.
pub const RECONCILE_BEFORE_DELIVER: &str = "reconcile::before_deliver";
/// The local engine delivered a queued (deferred) resumption; its marker is not settled yet.
pub const LOCAL_AFTER_QUEUED_DELIVERY: &str = "local::after_queued_delivery";

/// The notification outbox's points (issue 30), in the order a notification passes them.
pub const NOTIFY_POINTS: [&str; 3] = [
    NOTIFY_AFTER_ENQUEUE,
    NOTIFY_RELAY_BEFORE_SEND,
    NOTIFY_AFTER_SEND,
];
/// The notification is in the workflow's record (written with the change it tells of);
/// nothing was sent.
pub const NOTIFY_AFTER_ENQUEUE: &str = "notify::after_enqueue";
/// The relay took a due channel (its lease is written); nothing was sent.
pub const NOTIFY_RELAY_BEFORE_SEND: &str = "notify::relay_before_send";
/// A channel accepted the notification; the record does not say so yet.
pub const NOTIFY_AFTER_SEND: &str = "notify::after_send";

/// Reads `FAILPOINTS` from the environment (call once at process start); a no-op without
/// the `failpoints` feature.
pub fn setup_from_env() {
    #[cfg(feature = "failpoints")]
    {
        let scenario = fail::FailScenario::setup();
        // Keep the points armed for the life of the process.
        std::mem::forget(scenario);
    }
}

/// Aborts the process here when the point `name` is armed with `return`.
pub fn crash_point(name: &str) {
    #[cfg(feature = "failpoints")]
    {
        if fail::eval(name, |_| ()).is_some() {
            eprintln!("failpoint {name}: aborting");
            std::process::abort();
        }
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}
