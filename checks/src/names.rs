//! Comparing a name a person typed with the name a document carries, the way a careful human
//! reviewer would: across scripts and diacritics (`Müller` = `MUELLER` = `MULLER`), case,
//! spacing, hyphens and apostrophes (`O'Brien-Smith` = `OBRIEN SMITH`), extra given names, and
//! names the document had to truncate.

/// Which name is compared: given names may omit middle names, family names may be compound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamePart {
    /// First (given) name.
    First,
    /// Last (family) name.
    Last,
}

/// The document's name as uppercase ASCII words, the way MRZs and barcodes print names.
pub fn words(name: &str) -> Vec<String> {
    let upper = deunicode::deunicode(name).to_ascii_uppercase();
    let mut cleaned = String::with_capacity(upper.len());
    for c in upper.chars() {
        match c {
            'A'..='Z' | '0'..='9' => cleaned.push(c),
            // Apostrophes and dots vanish (O'BRIEN -> OBRIEN, ST. -> ST).
            '\'' | '`' | '.' => {}
            _ => cleaned.push(' '),
        }
    }
    cleaned.split_whitespace().map(str::to_owned).collect()
}

/// The typed name's spellings: plain transliteration (`Müller` -> `MULLER`) and ICAO's expanded
/// one (`MUELLER`).
fn typed_spellings(typed: &str) -> Vec<Vec<String>> {
    let mut spellings = vec![
        words(typed),
        words(&mrz::transliterate(
            typed,
            mrz::TransliterationStyle::Expanded,
        )),
        words(&mrz::transliterate(
            typed,
            mrz::TransliterationStyle::Simple,
        )),
    ];
    spellings.dedup();
    spellings
}

/// Whether the typed name and the document's name are the same name.
///
/// `document_truncated` says the document cut the name short to fit (an MRZ whose name field is
/// full, an AAMVA truncation flag): then the document's name may be a prefix of the typed one.
pub fn names_match(typed: &str, document: &str, part: NamePart, document_truncated: bool) -> bool {
    let document = words(document);
    if document.is_empty() {
        return false;
    }
    typed_spellings(typed).iter().any(|typed| {
        if typed.is_empty() {
            return false;
        }
        let (typed_joined, document_joined) = (typed.concat(), document.concat());
        if typed_joined == document_joined
            || (document_truncated
                && document_joined.len() >= 2
                && typed_joined.starts_with(&document_joined))
        {
            return true;
        }
        match part {
            // "Anna" for "ANNA MARIA", or "Anna Maria" for "ANNA".
            NamePart::First => starts_with(&document, typed) || starts_with(typed, &document),
            // "Garcia" for "GARCIA LOPEZ", or "Garcia Lopez" for "GARCIA".
            NamePart::Last => contains(&document, typed) || contains(typed, &document),
        }
    })
}

fn starts_with(haystack: &[String], needle: &[String]) -> bool {
    haystack.len() >= needle.len() && haystack[..needle.len()] == *needle
}

fn contains(haystack: &[String], needle: &[String]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn diacritics_case_and_punctuation_do_not_matter() {
        assert!(names_match("Müller", "MUELLER", NamePart::Last, false));
        assert!(names_match("Müller", "MULLER", NamePart::Last, false));
        assert!(names_match(
            "  o'brien-smith ",
            "OBRIEN SMITH",
            NamePart::Last,
            false
        ));
        assert!(names_match("Núñez", "NUNEZ", NamePart::Last, false));
        assert!(names_match("Zoë", "ZOE", NamePart::First, false));
        assert!(names_match("Mary Ann", "MARYANN", NamePart::First, false));
        assert!(names_match("Þór", "THOR", NamePart::First, false));
    }

    #[test]
    fn middle_names_and_compound_surnames_are_tolerated() {
        assert!(names_match("Anna", "ANNA MARIA", NamePart::First, false));
        assert!(names_match("Anna Maria", "ANNA", NamePart::First, false));
        assert!(names_match("García", "GARCIA LOPEZ", NamePart::Last, false));
        assert!(!names_match("Maria", "ANNA MARIA", NamePart::First, false));
    }

    #[test]
    fn different_names_do_not_match() {
        assert!(!names_match("Morgan", "MORGANS", NamePart::Last, false));
        assert!(!names_match("Alex", "ALEXANDRA", NamePart::First, false));
        assert!(!names_match("Smith", "JONES", NamePart::Last, false));
        assert!(!names_match("", "JONES", NamePart::Last, false));
        assert!(!names_match("Jones", "", NamePart::Last, false));
    }

    #[test]
    fn truncated_document_names_match_as_prefixes() {
        assert!(names_match(
            "Wolfeschlegelsteinhausen",
            "WOLFESCHLEGELSTEIN",
            NamePart::Last,
            true
        ));
        assert!(!names_match(
            "Wolfeschlegelsteinhausen",
            "WOLFESCHLEGELSTEIN",
            NamePart::Last,
            false
        ));
    }

    proptest! {
        /// Whatever a person types, the name printed from it by either transliteration (as a
        /// document issuer would) matches it, and nothing panics.
        #[test]
        fn a_name_matches_its_printed_forms(name in "[\\p{L} '.-]{1,40}") {
            prop_assume!(!words(&name).is_empty());
            let plain = words(&name).join(" ");
            let icao = mrz::transliterate(&name, mrz::TransliterationStyle::Expanded);
            for part in [NamePart::First, NamePart::Last] {
                prop_assert!(names_match(&name, &plain, part, false));
                if !words(&icao).is_empty() {
                    prop_assert!(names_match(&name, &icao, part, false));
                }
            }
        }
    }
}
