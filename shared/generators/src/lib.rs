//! Generators that draft artifacts from the reviewers' feedback: the prompt that carries the
//! review loop ([`prompt`]) and the artifact type as a model sees it ([`brand`]).
//! Depends on the domain only: no AWS SDK, no SQLite, no CLI.

pub mod brand;
pub mod prompt;
