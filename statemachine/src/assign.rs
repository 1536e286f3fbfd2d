//! Workflow variables: the `Assign` field of a state, a catcher or a choice rule, in either
//! query language.

use crate::io::Template;
use crate::jsonata::JsonataValue;

/// `Assign`: the workflow variables a state (or a catcher, or a choice rule) sets.
#[derive(Debug, Clone, PartialEq)]
pub enum Assign {
    /// JSONPath state: a payload template (`"name.$": "$.path"`, intrinsics, `$$`, `$var`).
    JsonPath(Template),
    /// JSONata state: `{% … %}` expressions anywhere in the values.
    Jsonata(JsonataValue),
}
