//! The HITL workflow's Amazon States Language definition and a local engine that executes it.
