//! The names of matters' keys: `matter.<id>` for a matter's first key, and
//! `matter.<id>.r<N>` (N ≥ 2) for each key that replaced a compromised one.
//! Records name keys this way and matters may not take ids of that form, so
//! the rule sits below both.

/// Whether `name` ends in `.r<N>` with N ≥ 2: the form of a key that
/// replaced a compromised one, reserved in matter ids.
pub fn is_rekeyed_name(name: &str) -> bool {
    name.rsplit_once(".r").is_some_and(|(_, n)| generation_number(n).is_some())
}

fn generation_number(digits: &str) -> Option<u32> {
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n >= 2)
}

/// The key of generation `generation` (1, 2, …) of a matter.
pub(crate) fn matter_key_name(matter: &str, generation: u32) -> String {
    if generation <= 1 { format!("matter.{matter}") } else { format!("matter.{matter}.r{generation}") }
}

/// Whether `key_name` is a generation of `matter`'s key.
pub(crate) fn is_key_of_matter(key_name: &str, matter: &str) -> bool {
    let first = matter_key_name(matter, 1);
    key_name == first
        || key_name.strip_prefix(&first).and_then(|rest| rest.strip_prefix(".r")).and_then(generation_number).is_some()
}

/// The key that replaces matter key `key_name` once it is compromised.
pub fn successor_key(key_name: &str) -> Option<String> {
    let rest = key_name.strip_prefix("matter.")?;
    Some(match rest.rsplit_once(".r").and_then(|(base, n)| generation_number(n).map(|n| (base, n))) {
        Some((base, n)) => matter_key_name(base, n + 1),
        None => matter_key_name(rest, 2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_follow_each_other_and_belong_to_their_matter_only() {
        assert_eq!(successor_key("matter.case-17").as_deref(), Some("matter.case-17.r2"));
        assert_eq!(successor_key("matter.case-17.r2").as_deref(), Some("matter.case-17.r3"));
        assert_eq!(successor_key("matter.v1.r9").as_deref(), Some("matter.v1.r10"));
        assert_eq!(successor_key("transit-key"), None);
        assert!(is_key_of_matter("matter.case-17", "case-17"));
        assert!(is_key_of_matter("matter.case-17.r12", "case-17"));
        assert!(!is_key_of_matter("matter.case-17.r1", "case-17"), "generation 1 has no suffix");
        assert!(!is_key_of_matter("matter.case-17.r02", "case-17"));
        assert!(!is_key_of_matter("matter.case-170", "case-17"));
        assert!(!is_key_of_matter("matter.case-1", "case-17"));
        assert!(!is_key_of_matter("matter.other", "case-17"));
    }

    #[test]
    fn ids_that_could_name_a_successor_are_reserved() {
        for reserved in ["x.r2", "case.r10"] {
            assert!(is_rekeyed_name(reserved), "{reserved}");
        }
        for free in ["x.r1", "x.r", "x.r02", "x.rx", "x-r2", "r2", "x.r2a"] {
            assert!(!is_rekeyed_name(free), "{free}");
        }
    }
}
