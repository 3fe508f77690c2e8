//! Inquiry templates: what to collect, which verifications to run, and how the inquiry expires.
//!
//! Templates are authored as TOML files (kebab-case keys); the server derives a version id from
//! the content and every inquiry pins the version it was created from.

use crate::checks::{CheckName, CheckRequirement, IdClass};
use crate::fields::{BirthDate, CountryCode, FieldError, PersonName};
use crate::ids::TemplateId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;
use time::Date;

/// A template as written in its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Template {
    pub id: TemplateId,
    /// The operator's name for it.
    pub name: String,
    /// The heading the individual sees on the start screen.
    #[serde(default = "default_title")]
    pub title: String,
    /// One or two sentences under the heading.
    #[serde(default)]
    pub description: String,
    /// Hours from creation until an open inquiry expires.
    #[serde(default = "default_expires_after_hours")]
    pub expires_after_hours: u32,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    #[serde(default)]
    pub verifications: Vec<VerificationSpec>,
    /// Applied in order when an inquiry completes or fails; the first that matches decides.
    #[serde(default)]
    pub decision_rules: Vec<DecisionRule>,
    /// Origins allowed to show the flow in an iframe (`/embed`): exact origins such as
    /// `https://shop.example`, or `http://localhost:*` for any port. Empty: no site may embed it.
    #[serde(default)]
    pub embed_origins: Vec<String>,
    /// Where the flow may send the person when it ends: origins (`https://shop.example`, any path
    /// there) or URL prefixes (`https://shop.example/verified`). Empty: no redirect is allowed.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

/// When a decision rule is considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionTrigger {
    /// The inquiry was just completed.
    Completed,
    /// The inquiry was just failed.
    Failed,
}

/// What a matching decision rule does to the inquiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionAction {
    Approve,
    Decline,
    MarkForReview,
}

/// One decision rule: `on` an outcome, optionally `if-check-failed`, do `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DecisionRule {
    pub on: DecisionTrigger,
    /// Matches only when a check with this name failed in one of the inquiry's verifications
    /// (a not-required check can fail in a completed inquiry).
    #[serde(default)]
    pub if_check_failed: Option<String>,
    pub action: DecisionAction,
}

impl Template {
    /// The action of the first rule for `trigger` whose condition holds, given the names of the
    /// checks that failed in the inquiry's verifications.
    pub fn decide(
        &self,
        trigger: DecisionTrigger,
        failed_checks: &[CheckName],
    ) -> Option<DecisionAction> {
        self.decision_rules
            .iter()
            .filter(|rule| rule.on == trigger)
            .find(|rule| match &rule.if_check_failed {
                None => true,
                Some(name) => failed_checks.iter().any(|check| check.as_str() == name),
            })
            .map(|rule| rule.action)
    }
}

fn default_title() -> String {
    "Verify your identity".to_owned()
}

fn default_expires_after_hours() -> u32 {
    24
}

/// The kind of value a field holds, which decides its validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    /// A person's name ([`PersonName`]).
    Name,
    /// A date of birth ([`BirthDate`]), optionally with a minimum age.
    Birthdate,
    /// An ISO 3166-1 alpha-2 country ([`CountryCode`]).
    Country,
}

/// One field the individual fills in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FieldSpec {
    /// The API key of the field, e.g. `name-first`.
    pub key: String,
    /// The label shown to the person, e.g. `First name`.
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    #[serde(default = "default_true")]
    pub required: bool,
    /// For birthdates: the youngest age allowed.
    #[serde(default)]
    pub minimum_age: Option<u8>,
    /// Autocomplete hint for browsers (`given-name`, `family-name`, `bday`).
    #[serde(default)]
    pub autocomplete: Option<String>,
}

fn default_true() -> bool {
    true
}

/// A family of checks the template runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerificationKind {
    GovernmentId,
}

impl VerificationKind {
    /// The wire name, e.g. `government-id`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationKind::GovernmentId => "government-id",
        }
    }
}

/// One verification the template runs, with its options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VerificationSpec {
    #[serde(rename = "type")]
    pub kind: VerificationKind,
    /// Attempts allowed before the inquiry fails.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u8,
    /// Per-check requirement overrides; checks not named are required.
    #[serde(default)]
    pub checks: BTreeMap<String, CheckRequirement>,
    /// Issuing countries accepted (ISO 3166-1 alpha-2); empty accepts every country.
    #[serde(default)]
    pub allowed_countries: Vec<String>,
    /// Classes of document accepted (`dl`, `id`, `pp`); empty accepts every class.
    #[serde(default)]
    pub id_classes: Vec<IdClass>,
    /// The youngest age the document may show; defaults to the birthdate field's minimum age.
    #[serde(default)]
    pub minimum_age: Option<u8>,
}

fn default_max_attempts() -> u8 {
    3
}

impl VerificationSpec {
    /// Whether the named check is required by this template.
    pub fn requirement(&self, check: CheckName) -> CheckRequirement {
        self.checks.get(check.as_str()).copied().unwrap_or_default()
    }
}

/// An origin as a browser sends it: lower-case scheme and host, and a port when not the default.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// `scheme://host[:port]` with nothing after it.
    fn parse(raw: &str) -> Option<Origin> {
        let (scheme, authority) = raw.split_once("://")?;
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let host_end = match authority.strip_prefix('[') {
            Some(inner) => inner.find(']')? + 2,
            None => authority.find(':').unwrap_or(authority.len()),
        };
        let (host, port) = authority.split_at(host_end);
        let port = match port {
            "" => None,
            port => {
                let digits = port.strip_prefix(':')?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                Some(digits.parse::<u16>().ok()?)
            }
        };
        host_ok(host).then(|| Origin {
            scheme: scheme.to_owned(),
            host: host.to_owned(),
            port,
        })
    }
}

/// A host name, IPv4 address or bracketed IPv6 address, in lower case.
fn host_ok(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    !host.is_empty()
        && host.len() <= 253
        && !host.starts_with('.')
        && !host.ends_with('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// One `embed-origins` entry: an exact origin, or `scheme://host:*` for any port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OriginPattern {
    scheme: String,
    host: String,
    /// `None` matches any port (written `:*`).
    port: Option<Option<u16>>,
}

impl OriginPattern {
    fn parse(raw: &str) -> Option<OriginPattern> {
        if let Some(base) = raw.strip_suffix(":*") {
            let origin = Origin::parse(base)?;
            return (origin.port.is_none()).then_some(OriginPattern {
                scheme: origin.scheme,
                host: origin.host,
                port: None,
            });
        }
        let origin = Origin::parse(raw)?;
        Some(OriginPattern {
            scheme: origin.scheme,
            host: origin.host,
            port: Some(origin.port),
        })
    }

    fn matches(&self, origin: &Origin) -> bool {
        self.scheme == origin.scheme
            && self.host == origin.host
            && self.port.is_none_or(|port| port == origin.port)
    }
}

/// One `redirect-uris` entry: an origin pattern and an optional path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RedirectPattern {
    origin: OriginPattern,
    /// Empty for a bare origin; otherwise starts with `/`.
    path: String,
}

impl RedirectPattern {
    fn parse(raw: &str) -> Option<RedirectPattern> {
        if raw.contains(['?', '#']) || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return None;
        }
        let after_scheme = raw.find("://")? + 3;
        let (base, path) = match raw[after_scheme..].find('/') {
            Some(slash) => raw.split_at(after_scheme + slash),
            None => (raw, ""),
        };
        Some(RedirectPattern {
            origin: OriginPattern::parse(base)?,
            path: path.to_owned(),
        })
    }

    fn matches(&self, origin: &Origin, rest: &str) -> bool {
        if !self.origin.matches(origin) {
            return false;
        }
        if self.path.is_empty() || self.path == "/" {
            return true;
        }
        match rest.strip_prefix(self.path.as_str()) {
            Some(after) => {
                self.path.ends_with('/') || after.is_empty() || after.starts_with(['/', '?', '#'])
            }
            None => false,
        }
    }
}

/// Splits an absolute http(s) URL into its origin and the rest (path, query, fragment). URLs with
/// user information (`https://a@b`) are refused: they read as one host and go to another.
fn split_url(uri: &str) -> Option<(Origin, &str)> {
    let after_scheme = uri.find("://")? + 3;
    let end = uri[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(uri.len(), |i| after_scheme + i);
    let (base, rest) = uri.split_at(end);
    if base.contains(['@', '\\']) {
        return None;
    }
    Some((Origin::parse(&base.to_ascii_lowercase())?, rest))
}

/// A template that does not make sense.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("field key `{0}` is used twice")]
    DuplicateField(String),
    #[error("field key `{0}` must be lower-case letters, digits and hyphens")]
    BadFieldKey(String),
    #[error("`minimum-age` is only allowed on birthdate fields (field `{0}`)")]
    MinimumAgeOnNonDate(String),
    #[error("verification `{0}` must allow between 1 and 10 attempts")]
    BadMaxAttempts(&'static str),
    #[error("`{0}` in allowed-countries is not an upper-case ISO 3166-1 alpha-2 code")]
    UnknownCountry(String),
    #[error("unknown check `{0}` in verification options")]
    UnknownCheck(String),
    #[error("`expires-after-hours` must be between 1 and 8760")]
    BadExpiry,
    #[error("the template's name and title must not be empty")]
    EmptyName,
    #[error(
        "embed origin `{0}` must be an origin like `https://shop.example` or `http://localhost:*`"
    )]
    BadEmbedOrigin(String),
    #[error(
        "redirect URI `{0}` must be an http(s) origin or URL prefix without query or fragment"
    )]
    BadRedirectUri(String),
}

impl Template {
    /// Checks the rules that serde cannot express.
    pub fn validate(&self) -> Result<(), TemplateError> {
        if self.name.trim().is_empty() || self.title.trim().is_empty() {
            return Err(TemplateError::EmptyName);
        }
        if !(1..=8760).contains(&self.expires_after_hours) {
            return Err(TemplateError::BadExpiry);
        }
        let mut seen = std::collections::BTreeSet::new();
        for field in &self.fields {
            let key_ok = !field.key.is_empty()
                && field
                    .key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !key_ok {
                return Err(TemplateError::BadFieldKey(field.key.clone()));
            }
            if !seen.insert(field.key.as_str()) {
                return Err(TemplateError::DuplicateField(field.key.clone()));
            }
            if field.minimum_age.is_some() && field.kind != FieldKind::Birthdate {
                return Err(TemplateError::MinimumAgeOnNonDate(field.key.clone()));
            }
        }
        for verification in &self.verifications {
            if !(1..=10).contains(&verification.max_attempts) {
                return Err(TemplateError::BadMaxAttempts(verification.kind.as_str()));
            }
            if let Some(bad) = verification
                .allowed_countries
                .iter()
                .find(|code| CountryCode::parse(code).is_err() || code.to_uppercase() != **code)
            {
                return Err(TemplateError::UnknownCountry(bad.clone()));
            }
            if let Some(unknown) = verification
                .checks
                .keys()
                .find(|name| CheckName::parse(name).is_none())
            {
                return Err(TemplateError::UnknownCheck(unknown.clone()));
            }
        }
        if let Some(unknown) = self
            .decision_rules
            .iter()
            .filter_map(|rule| rule.if_check_failed.as_ref())
            .find(|name| CheckName::parse(name).is_none())
        {
            return Err(TemplateError::UnknownCheck(unknown.clone()));
        }
        if let Some(bad) = self
            .embed_origins
            .iter()
            .find(|origin| OriginPattern::parse(origin).is_none())
        {
            return Err(TemplateError::BadEmbedOrigin(bad.clone()));
        }
        if let Some(bad) = self
            .redirect_uris
            .iter()
            .find(|uri| RedirectPattern::parse(uri).is_none())
        {
            return Err(TemplateError::BadRedirectUri(bad.clone()));
        }
        Ok(())
    }

    /// Whether a page at `origin` (as a browser writes it: `scheme://host[:port]`) may embed the
    /// flow of this template.
    pub fn allows_embedding_from(&self, origin: &str) -> bool {
        let Some(origin) = Origin::parse(origin) else {
            return false;
        };
        self.embed_origins
            .iter()
            .filter_map(|pattern| OriginPattern::parse(pattern))
            .any(|pattern| pattern.matches(&origin))
    }

    /// The `frame-ancestors` sources of the embed page (its allowed origins, space-separated);
    /// `None` when no site may embed the flow.
    pub fn frame_ancestors(&self) -> Option<String> {
        let sources: Vec<&str> = self
            .embed_origins
            .iter()
            .filter(|pattern| OriginPattern::parse(pattern).is_some())
            .map(String::as_str)
            .collect();
        (!sources.is_empty()).then(|| sources.join(" "))
    }

    /// Whether the flow may send the person to `uri` when it ends: an absolute http(s) URL at
    /// one of the template's `redirect-uris` (an origin, or a URL prefix ending at a path
    /// boundary). The API refuses other redirect URIs when an inquiry is created.
    pub fn allows_redirect_uri(&self, uri: &str) -> bool {
        let Some((origin, rest)) = split_url(uri) else {
            return false;
        };
        if uri.len() > 2000 || uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return false;
        }
        self.redirect_uris
            .iter()
            .filter_map(|pattern| RedirectPattern::parse(pattern))
            .any(|pattern| pattern.matches(&origin, rest))
    }

    /// Validates raw typed values against the template's fields. Returns the normalized values of
    /// every field, or the error of each field that was refused.
    pub fn validate_fields(
        &self,
        raw: &BTreeMap<String, String>,
        today: Date,
    ) -> Result<BTreeMap<String, String>, BTreeMap<String, FieldError>> {
        let mut values = BTreeMap::new();
        let mut errors = BTreeMap::new();
        for field in &self.fields {
            let value = raw.get(&field.key).map(String::as_str).unwrap_or("");
            match field.validate(value, today) {
                Ok(Some(normalized)) => {
                    values.insert(field.key.clone(), normalized);
                }
                Ok(None) => {}
                Err(error) => {
                    errors.insert(field.key.clone(), error);
                }
            }
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(errors)
        }
    }

    /// Looks up a field by key.
    pub fn field(&self, key: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|field| field.key == key)
    }
}

impl FieldSpec {
    /// Validates one value; `Ok(None)` for an optional field left empty.
    pub fn validate(&self, raw: &str, today: Date) -> Result<Option<String>, FieldError> {
        let label = self.label.to_lowercase();
        if raw.trim().is_empty() && !self.required {
            return Ok(None);
        }
        match self.kind {
            FieldKind::Name => {
                PersonName::parse(raw, &label).map(|name| Some(name.as_str().to_owned()))
            }
            FieldKind::Birthdate => {
                let date = BirthDate::parse(raw, today, &label)?;
                let date = match self.minimum_age {
                    Some(age) => date.require_age(age, today)?,
                    None => date,
                };
                Ok(Some(date.to_string()))
            }
            FieldKind::Country => {
                CountryCode::parse(raw).map(|code| Some(code.as_str().to_owned()))
            }
        }
    }

    /// The HTML input type for this field.
    pub fn input_type(&self) -> &'static str {
        match self.kind {
            FieldKind::Name | FieldKind::Country => "text",
            FieldKind::Birthdate => "date",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn kyc() -> Template {
        Template {
            id: TemplateId::parse("itmpl_test").unwrap(),
            name: "KYC".into(),
            title: default_title(),
            description: String::new(),
            expires_after_hours: 24,
            fields: vec![
                FieldSpec {
                    key: "name-first".into(),
                    label: "First name".into(),
                    kind: FieldKind::Name,
                    required: true,
                    minimum_age: None,
                    autocomplete: None,
                },
                FieldSpec {
                    key: "birthdate".into(),
                    label: "Date of birth".into(),
                    kind: FieldKind::Birthdate,
                    required: true,
                    minimum_age: Some(18),
                    autocomplete: None,
                },
            ],
            verifications: vec![VerificationSpec {
                kind: VerificationKind::GovernmentId,
                max_attempts: 3,
                checks: BTreeMap::new(),
                allowed_countries: Vec::new(),
                id_classes: Vec::new(),
                minimum_age: None,
            }],
            decision_rules: Vec::new(),
            embed_origins: Vec::new(),
            redirect_uris: Vec::new(),
        }
    }

    #[test]
    fn embed_origins_match_exactly_or_by_any_port() {
        let mut template = kyc();
        assert!(!template.allows_embedding_from("https://shop.example"));
        assert_eq!(template.frame_ancestors(), None);
        template.embed_origins = vec!["https://shop.example".into(), "http://localhost:*".into()];
        assert_eq!(template.validate(), Ok(()));
        assert!(template.allows_embedding_from("https://shop.example"));
        assert!(!template.allows_embedding_from("https://shop.example:8443"));
        assert!(!template.allows_embedding_from("http://shop.example"));
        assert!(!template.allows_embedding_from("https://evil.shop.example"));
        assert!(template.allows_embedding_from("http://localhost:5173"));
        assert!(template.allows_embedding_from("http://localhost"));
        assert!(!template.allows_embedding_from("http://127.0.0.1:5173"));
        assert!(!template.allows_embedding_from("null"));
        assert!(!template.allows_embedding_from("https://shop.example/"));
        assert_eq!(
            template.frame_ancestors().as_deref(),
            Some("https://shop.example http://localhost:*")
        );
        for bad in [
            "shop.example",
            "https://shop.example/",
            "ftp://x",
            "https://*.x",
            "https://Shop.example",
            "https://x:99999",
        ] {
            template.embed_origins = vec![bad.into()];
            assert_eq!(
                template.validate(),
                Err(TemplateError::BadEmbedOrigin(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn redirect_uris_match_origins_and_path_prefixes() {
        let mut template = kyc();
        assert!(!template.allows_redirect_uri("https://shop.example/done"));
        template.redirect_uris = vec![
            "https://shop.example".into(),
            "https://app.example/verified".into(),
            "http://localhost:*".into(),
        ];
        assert_eq!(template.validate(), Ok(()));
        assert!(template.allows_redirect_uri("https://shop.example"));
        assert!(template.allows_redirect_uri("https://shop.example/any/path?x=1"));
        assert!(template.allows_redirect_uri("https://app.example/verified"));
        assert!(template.allows_redirect_uri("https://app.example/verified/ok?x=1"));
        assert!(template.allows_redirect_uri("https://app.example/verified?x=1"));
        assert!(!template.allows_redirect_uri("https://app.example/verifiedX"));
        assert!(!template.allows_redirect_uri("https://app.example/other"));
        assert!(template.allows_redirect_uri("http://localhost:4000/back"));
        assert!(!template.allows_redirect_uri("https://evil.example/"));
        assert!(!template.allows_redirect_uri("https://shop.example@evil.example/"));
        assert!(!template.allows_redirect_uri("https://shop.example.evil.example/"));
        assert!(!template.allows_redirect_uri("javascript:alert(1)"));
        assert!(!template.allows_redirect_uri("//shop.example/"));
        template.redirect_uris = vec!["https://shop.example/?x".into()];
        assert!(template.validate().is_err());
    }

    fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn valid_fields_are_normalized() {
        let values = kyc()
            .validate_fields(
                &raw(&[("name-first", " Jane "), ("birthdate", "1990-01-31")]),
                date!(2026 - 11 - 27),
            )
            .unwrap();
        assert_eq!(
            values,
            raw(&[("name-first", "Jane"), ("birthdate", "1990-01-31")])
        );
    }

    #[test]
    fn every_bad_field_is_reported_with_its_key() {
        let errors = kyc()
            .validate_fields(&raw(&[("birthdate", "2015-01-01")]), date!(2026 - 11 - 27))
            .unwrap_err();
        assert_eq!(
            errors["name-first"],
            FieldError::Missing {
                label: "first name".into()
            }
        );
        assert_eq!(
            errors["birthdate"],
            FieldError::TooYoung { minimum_age: 18 }
        );
    }

    #[test]
    fn template_rules_are_enforced() {
        let mut template = kyc();
        assert_eq!(template.validate(), Ok(()));
        template.fields[1].key = "name-first".into();
        assert_eq!(
            template.validate(),
            Err(TemplateError::DuplicateField("name-first".into()))
        );
        let mut template = kyc();
        template.verifications[0]
            .checks
            .insert("id_made_up".into(), CheckRequirement::Required);
        assert_eq!(
            template.validate(),
            Err(TemplateError::UnknownCheck("id_made_up".into()))
        );
        let mut template = kyc();
        template.verifications[0].max_attempts = 0;
        assert!(template.validate().is_err());
    }

    #[test]
    fn the_first_matching_decision_rule_decides() {
        let rules = r#"
            [[decision-rules]]
            on = "completed"
            if-check-failed = "id_glare_detection"
            action = "mark-for-review"

            [[decision-rules]]
            on = "completed"
            action = "approve"

            [[decision-rules]]
            on = "failed"
            action = "decline"
        "#;
        #[derive(Deserialize)]
        #[serde(rename_all = "kebab-case")]
        struct Rules {
            decision_rules: Vec<DecisionRule>,
        }
        let mut template = kyc();
        template.decision_rules = toml::from_str::<Rules>(rules).unwrap().decision_rules;
        assert_eq!(template.validate(), Ok(()));
        assert_eq!(
            template.decide(DecisionTrigger::Completed, &[]),
            Some(DecisionAction::Approve)
        );
        assert_eq!(
            template.decide(DecisionTrigger::Completed, &[CheckName::IdGlareDetection]),
            Some(DecisionAction::MarkForReview)
        );
        assert_eq!(
            template.decide(DecisionTrigger::Failed, &[CheckName::IdBlurDetection]),
            Some(DecisionAction::Decline)
        );
        assert_eq!(kyc().decide(DecisionTrigger::Completed, &[]), None);

        template.decision_rules[0].if_check_failed = Some("id_made_up".into());
        assert_eq!(
            template.validate(),
            Err(TemplateError::UnknownCheck("id_made_up".into()))
        );
    }
}
