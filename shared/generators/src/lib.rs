//! Generators that draft artifacts from the reviewers' feedback: the prompt that carries the
//! review loop ([`prompt`]), the workflow's artifact type as a model sees it ([`structured`]) and the
//! OpenAI-compatible chat-completions adapter of the `MetadataAgent` port ([`openai`]), and the
//! budget and backoff every model adapter shares ([`retry`]).
//! Depends on the domain and an HTTP client only: no AWS SDK, no SQLite, no CLI.

pub mod openai;
pub mod prompt;
pub mod retry;
pub mod structured;

pub use openai::OpenAiCompatible;
