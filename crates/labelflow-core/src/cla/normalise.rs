//! Company-name and identity normalisation, so `ACME Corp., Inc.`, `Acme Corporation` and
//! `acme` find the same agreement while `Acme Labs` does not.

/// Legal-form words dropped from the end of a company name. Dots are removed before the
/// comparison, so `S.A.`, `B.V.` and `Inc.` match `sa`, `bv` and `inc`.
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "ltd",
    "limited",
    "llc",
    "llp",
    "lp",
    "plc",
    "gmbh",
    "mbh",
    "ag",
    "kg",
    "kgaa",
    "se",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "oy",
    "oyj",
    "ab",
    "as",
    "asa",
    "aps",
    "kk",
    "pty",
    "pte",
    "pvt",
    "private",
];

/// The comparable form of a company name: lower case, `&` as `and`, dots dropped, other
/// punctuation as spaces, whitespace collapsed, trailing legal forms removed (at least one
/// word is always kept, so a company called `Group` still has a name).
pub fn company_key(name: &str) -> String {
    let mut cleaned = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            '.' | '\'' | '’' => {}
            '&' | '+' => cleaned.push_str(" and "),
            c if c.is_alphanumeric() => cleaned.push(c),
            _ => cleaned.push(' '),
        }
    }
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    // `and` is dropped too once a legal form was: `GmbH & Co. KG`.
    let mut dropped = false;
    while words.len() > 1
        && words
            .last()
            .is_some_and(|w| LEGAL_SUFFIXES.contains(w) || (dropped && *w == "and"))
    {
        words.pop();
        dropped = true;
    }
    words.join(" ")
}

/// Usernames compare case-insensitively (GitLab and GitHub both treat them so); a leading
/// `@` is ignored.
pub fn username_key(name: &str) -> String {
    name.trim().trim_start_matches('@').to_lowercase()
}

/// The domain of an email address, lower case (`None` when it is not an address).
pub fn email_domain(email: &str) -> Option<String> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    let domain = domain.trim_end_matches('.').to_lowercase();
    (!local.is_empty() && domain.contains('.') && !domain.starts_with('.')).then_some(domain)
}

/// Whether `domain` is `covered` or one of its subdomains (`eng.acme.com` under `acme.com`;
/// `notacme.com` is not).
pub fn domain_covered(domain: &str, covered: &str) -> bool {
    let covered = covered.trim().trim_start_matches('@').to_lowercase();
    let domain = domain.to_lowercase();
    !covered.is_empty()
        && (domain == covered
            || domain
                .strip_suffix(covered.as_str())
                .is_some_and(|rest| rest.ends_with('.')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_suffixes_case_and_punctuation() {
        assert_eq!(company_key("ACME Corp., Inc."), "acme");
        assert_eq!(company_key("Acme Corporation"), "acme");
        assert_eq!(company_key("  acme  "), "acme");
        assert_eq!(company_key("Müller GmbH & Co. KG"), "müller");
        assert_eq!(company_key("Example S.A."), "example");
        assert_eq!(company_key("Johnson & Johnson"), "johnson and johnson");
        assert_eq!(company_key("Acme Labs B.V."), "acme labs");
        assert_eq!(company_key("Limited"), "limited");
        assert_eq!(company_key("Acme Group"), "acme group");
    }

    #[test]
    fn domains() {
        assert_eq!(email_domain("Jane@Acme.COM"), Some("acme.com".to_string()));
        assert_eq!(email_domain("not-an-address"), None);
        assert_eq!(email_domain("@acme.com"), None);
        assert!(domain_covered("acme.com", "acme.com"));
        assert!(domain_covered("eng.acme.com", "ACME.com"));
        assert!(!domain_covered("notacme.com", "acme.com"));
        assert!(!domain_covered("acme.com.evil.io", "acme.com"));
    }
}
