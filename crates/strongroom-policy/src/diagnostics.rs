//! Errors in policies, pointing at the line and column of the text the
//! operator wrote: Cedar reports byte offsets (miette labels); operators
//! read lines.

use miette::Diagnostic;

/// One problem in a policy text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// Which text: `api`, `file:<name>`, `default`.
    pub origin: String,
    /// 1-based line of the offending span, when Cedar located it.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the offending span.
    pub column: Option<usize>,
    /// The policy's id, when the error belongs to one policy.
    pub policy: Option<String>,
    /// What is wrong, with Cedar's hint when it has one.
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.origin)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(policy) = &self.policy {
            write!(f, " ({policy})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in the policies being loaded; none of them is loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl PolicyError {
    /// An error without a location.
    pub(crate) fn general(origin: &str, policy: Option<String>, message: impl Into<String>) -> Self {
        Self { origin: origin.to_owned(), line: None, column: None, policy, message: message.into() }
    }

    /// An error at byte `offset` of `text`.
    pub(crate) fn at(origin: &str, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_and_column(text, offset);
        Self {
            origin: origin.to_owned(),
            line: Some(line),
            column: Some(column),
            policy: None,
            message: message.into(),
        }
    }

    /// An error from a Cedar diagnostic over `text`.
    pub(crate) fn from_diagnostic(
        origin: &str,
        text: &str,
        policy: Option<String>,
        diagnostic: &dyn Diagnostic,
    ) -> Self {
        let offset = diagnostic.labels().and_then(|mut labels| labels.next()).map(|label| label.offset());
        let (line, column) = match offset {
            Some(offset) => {
                let (line, column) = line_and_column(text, offset);
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        let mut message = diagnostic.to_string();
        if let Some(help) = diagnostic.help() {
            message.push_str(&format!(" ({help})"));
        }
        Self { origin: origin.to_owned(), line, column, policy, message }
    }
}

/// 1-based line and character column of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 3), (2, 1));
        assert_eq!(line_and_column(text, 7), (2, 4), "é is one column");
        assert_eq!(line_and_column(text, 100), (3, 2), "an offset past the end is the end");
    }
}
