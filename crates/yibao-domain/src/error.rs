//! The one shape of a rejected input.
//!
//! Every parse in the domain layer fails with a [`FieldError`]: the name of the
//! offending field (as the caller spelled it, e.g. `certno` or
//! `feedetail[3].pric`) and a reason in Chinese, because the reason is shown
//! to a clerk, a HIS integrator or an insured person.

use std::fmt;

use serde::Serialize;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), reason: reason.into() }
    }

    /// Puts the error under a parent path: `pric` within `feedetail[3]`
    /// becomes `feedetail[3].pric`.
    pub fn within(mut self, parent: &str) -> FieldError {
        if parent.is_empty() {
            return self;
        }
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }

    /// Renames the field, keeping the reason. Parsers of a single value name
    /// the value generically; the caller knows the real field name.
    pub fn named(mut self, field: &str) -> FieldError {
        self.field = field.to_owned();
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() { f.write_str(&self.reason) } else { write!(f, "{}：{}", self.field, self.reason) }
    }
}

impl std::error::Error for FieldError {}

/// Shorthand used by parsers throughout the domain.
pub type Parsed<T> = Result<T, FieldError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_builds_paths() {
        let e = FieldError::new("pric", "不能为负数").within("feedetail[3]");
        assert_eq!(e.field, "feedetail[3].pric");
        assert_eq!(e.to_string(), "feedetail[3].pric：不能为负数");
        let e = FieldError::new("[2]", "x").within("feedetail");
        assert_eq!(e.field, "feedetail[2]");
        assert_eq!(FieldError::new("", "x").within("input").field, "input");
    }
}
