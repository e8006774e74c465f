//! Bounds on a policy text, checked before Cedar reads it.
//!
//! Cedar's parser, its conversion of the parse tree into expressions and the
//! dropping of those expressions all recurse once per level of nesting, with
//! no guard: about 300 nested parentheses, or a few thousand `||` in a row,
//! overflow a 2 MiB thread stack and abort the whole server (measured with
//! cedar-policy 4.14; see the numbers in docs/authorization.md). Every policy
//! text, the operators' files at start as much as the API document, goes
//! through [`check`] first, so no text Cedar could choke on ever reaches it.
//!
//! The scan knows just enough of Cedar's lexer not to be fooled: it skips
//! string literals (with their `\` escapes) and `//` comments, counts
//! brackets and `if` as nesting, and counts operators, whose chains Cedar
//! turns into one level of the expression tree each. The counts start again
//! at each policy (a `;` outside brackets).

/// The most bytes one policy text may have (a file of the policy directory
/// or the API document, which the API also caps lower).
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;

/// How deep `()`, `[]`, `{}` and `if … then … else` may nest in one policy:
/// the brackets open at any point plus every `if` of the policy so far.
pub const MAX_NESTING: usize = 32;

/// The most operators one policy may hold: `||`, `&&`, comparisons, `+`,
/// `-`, `*`, `in`, `has`, `like`, `is`, `.` and `[` (attribute and method
/// access, sets).
pub const MAX_OPERATORS: usize = 512;

/// A bound a text goes past, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LimitExceeded {
    /// Byte offset of the token that went past the bound.
    pub offset: usize,
    /// What was exceeded, naming the limit.
    pub message: String,
}

/// Checks `text` against [`MAX_TEXT_BYTES`], [`MAX_NESTING`] and
/// [`MAX_OPERATORS`], in one pass and without recursion.
pub(crate) fn check(text: &str) -> Result<(), LimitExceeded> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(LimitExceeded {
            offset: MAX_TEXT_BYTES,
            message: format!(
                "the text has {} bytes; a policy text may have at most {MAX_TEXT_BYTES} (policy size limit)",
                text.len()
            ),
        });
    }
    let bytes = text.as_bytes();
    let mut brackets = 0usize;
    let mut ifs = 0usize;
    let mut operators = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let next = bytes.get(i + 1).copied();
        match byte {
            b'"' => {
                if let Some(end) = string_end(bytes, i) {
                    i = end;
                    continue;
                }
                // Not a string to Cedar either (its lexer stops here); the
                // rest is scanned as code, which can only count more.
            }
            b'/' if next == Some(b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                brackets += 1;
                nesting(brackets + ifs, i)?;
                // `x[…]` reads an attribute, as `x.…` does.
                if byte == b'[' {
                    operators += 1;
                    operator_count(operators, i)?;
                }
            }
            b')' | b']' | b'}' => brackets = brackets.saturating_sub(1),
            b';' if brackets == 0 => {
                ifs = 0;
                operators = 0;
            }
            b'|' | b'&' | b'=' | b'!' | b'<' | b'>' | b'+' | b'-' | b'*' | b'/' | b'%' | b'.' => {
                // A two-character operator is one operator.
                if matches!((byte, next), (b'|', Some(b'|')) | (b'&', Some(b'&')))
                    || matches!(next, Some(b'=')) && matches!(byte, b'=' | b'!' | b'<' | b'>')
                {
                    i += 1;
                }
                operators += 1;
                operator_count(operators, i)?;
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                let start = i;
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                match &text[start..i] {
                    "if" => {
                        ifs += 1;
                        nesting(brackets + ifs, start)?;
                    }
                    "in" | "has" | "like" | "is" => {
                        operators += 1;
                        operator_count(operators, start)?;
                    }
                    _ => {}
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The offset just past the string literal opening at `start`, as Cedar's
/// lexer reads it (`"(\\.|[^"\\])*"`, where `.` is any character but a line
/// feed); `None` when no literal starts there.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        match bytes.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => match bytes.get(i + 1)? {
                b'\n' => return None,
                // A multi-byte character after `\` leaves continuation bytes,
                // which are never `"` or `\`: skipping its first byte is enough.
                _ => i += 2,
            },
            _ => i += 1,
        }
    }
}

fn nesting(depth: usize, offset: usize) -> Result<(), LimitExceeded> {
    if depth > MAX_NESTING {
        return Err(LimitExceeded {
            offset,
            message: format!(
                "nested deeper than {MAX_NESTING} levels of (), [], {{}} and if-then-else in one policy \
                 (policy nesting limit)"
            ),
        });
    }
    Ok(())
}

fn operator_count(count: usize, offset: usize) -> Result<(), LimitExceeded> {
    if count > MAX_OPERATORS {
        return Err(LimitExceeded {
            offset,
            message: format!(
                "more than {MAX_OPERATORS} operators (||, &&, comparisons, arithmetic, in, has, like, is, ., []) \
                 in one policy (policy operator limit); split it into several policies"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_inside_strings_and_comments_do_not_count() {
        let deep = "(".repeat(MAX_NESTING + 1);
        let text = format!(
            "// {deep}\n@id(\"{deep}\") permit (principal, action, resource) when {{ \"\\\"{deep}\" == \"\" }};"
        );
        assert_eq!(check(&text), Ok(()));
    }

    #[test]
    fn an_escaped_quote_does_not_end_a_string() {
        // Were `\"` read as the end, the brackets after it would count.
        let text = format!("permit (principal, action, resource) when {{ \"a\\\"{}\" == \"\" }};", "[".repeat(40));
        assert_eq!(check(&text), Ok(()));
    }

    #[test]
    fn a_string_cedar_cannot_lex_hides_nothing() {
        // `\` before a line feed is no escape to Cedar: what follows is code.
        let text = format!("permit (principal, action, resource) when {{ \"\\\n{} }};", "(".repeat(40));
        assert!(check(&text).is_err());
        let unterminated = format!("permit (principal, action, resource) when {{ \"{}", "(".repeat(40));
        assert!(check(&unterminated).is_err());
    }

    #[test]
    fn counts_start_again_at_each_policy() {
        let policy = format!("permit (principal, action, resource) when {{ true{} }};\n", " || true".repeat(400));
        assert_eq!(check(&policy.repeat(3)), Ok(()));
        let ifs =
            format!("permit (principal, action, resource) when {{ {}true }};\n", "if true then true else ".repeat(20));
        assert_eq!(check(&ifs.repeat(3)), Ok(()));
    }

    #[test]
    fn a_semicolon_inside_brackets_does_not_start_a_policy() {
        let text = format!("permit (principal, action, resource) when {{ {} }};", "1 + 1;".repeat(MAX_OPERATORS + 1));
        assert!(check(&text).is_err());
    }

    #[test]
    fn the_offset_is_the_token_past_the_limit() {
        let text = "(".repeat(MAX_NESTING + 5);
        assert_eq!(check(&text).unwrap_err().offset, MAX_NESTING);
    }
}
