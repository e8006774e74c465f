//! The words decisions are made of: actions, principals, resources and the
//! facts about a request. Their Cedar names are the schema's; a test checks
//! that every [`Action`] is declared there and nothing else is.

use std::net::IpAddr;

/// Everything a principal may be allowed to do. Permissions are named after
/// these actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Read a record's public view (metadata and anonymised values), or list a matter's records.
    RecordRead,
    /// Also see redacted renditions of `redacted` fields.
    RecordReadRedacted,
    /// Plaintext of `redacted`/`secret` fields, with a justification.
    RecordDecrypt,
    /// Export records in plaintext, with a justification.
    RecordExport,
    /// Create or update records.
    RecordWrite,
    /// Delete (crypto-shred) records.
    RecordDelete,
    /// Put records on legal hold, or lift it.
    RecordHold,
    /// Ask for elevated, time-bound access.
    AccessRequest,
    /// Approve or deny someone else's access request.
    AccessApprove,
    /// Create matters and manage who holds grants on them.
    MatterManage,
    /// Create, update, lock and unlock users.
    UserManage,
    /// Change users' roles.
    RoleAssign,
    /// Read and manage keyring keys.
    KeyManage,
    /// Transit encrypt, decrypt, rewrap, sign, verify, hmac and data keys.
    TransitUse,
    /// Read and list transit keys.
    TransitRead,
    /// Create, configure, rotate and delete transit keys.
    TransitManage,
    /// Read the audit log, its proofs, statistics and alerts.
    AuditRead,
    /// Read and replace operators' policies.
    PolicyManage,
    /// Ask the engine to explain a decision, or who can do what.
    AuthzExplain,
    /// Create, rotate, list and revoke API keys.
    ApiKeyManage,
    /// A person's own sessions, password and second factor.
    SessionSelf,
    /// Create collections and change their schemas.
    CollectionManage,
    /// Export everything about a data subject, decrypted.
    SubjectExport,
    /// Erase (crypto-shred) everything about a data subject.
    SubjectErase,
    /// Write an application's own events (`app.*`) into the audit log.
    AuditWrite,
    /// Introspect a token or API key (RFC 7662).
    TokenIntrospect,
}

impl Action {
    /// Every action, in the order the schema declares them.
    pub const ALL: [Action; 26] = [
        Action::RecordRead,
        Action::RecordReadRedacted,
        Action::RecordDecrypt,
        Action::RecordExport,
        Action::RecordWrite,
        Action::RecordDelete,
        Action::RecordHold,
        Action::AccessRequest,
        Action::AccessApprove,
        Action::MatterManage,
        Action::UserManage,
        Action::RoleAssign,
        Action::KeyManage,
        Action::TransitUse,
        Action::TransitRead,
        Action::TransitManage,
        Action::AuditRead,
        Action::PolicyManage,
        Action::AuthzExplain,
        Action::ApiKeyManage,
        Action::SessionSelf,
        Action::CollectionManage,
        Action::SubjectExport,
        Action::SubjectErase,
        Action::AuditWrite,
        Action::TokenIntrospect,
    ];

    /// The stable name, as in policies and audit events (`record.decrypt`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RecordRead => "record.read",
            Self::RecordReadRedacted => "record.read_redacted",
            Self::RecordDecrypt => "record.decrypt",
            Self::RecordExport => "record.export",
            Self::RecordWrite => "record.write",
            Self::RecordDelete => "record.delete",
            Self::RecordHold => "record.hold",
            Self::AccessRequest => "access.request",
            Self::AccessApprove => "access.approve",
            Self::MatterManage => "matter.manage",
            Self::UserManage => "user.manage",
            Self::RoleAssign => "role.assign",
            Self::KeyManage => "key.manage",
            Self::TransitUse => "transit.use",
            Self::TransitRead => "transit.read",
            Self::TransitManage => "transit.manage",
            Self::AuditRead => "audit.read",
            Self::PolicyManage => "policy.manage",
            Self::AuthzExplain => "authz.explain",
            Self::ApiKeyManage => "api_key.manage",
            Self::SessionSelf => "session.self",
            Self::CollectionManage => "collection.manage",
            Self::SubjectExport => "subject.export",
            Self::SubjectErase => "subject.erase",
            Self::AuditWrite => "audit.write",
            Self::TokenIntrospect => "token.introspect",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == text)
    }

    /// Whether the action touches a matter's data, so that a principal without
    /// a grant must not learn whether the resource exists.
    pub fn is_data(self) -> bool {
        matches!(
            self,
            Self::RecordRead
                | Self::RecordReadRedacted
                | Self::RecordDecrypt
                | Self::RecordExport
                | Self::RecordWrite
                | Self::RecordDelete
                | Self::RecordHold
        )
    }

    /// Whether an access request may ask for this action.
    pub fn is_elevatable(self) -> bool {
        matches!(self, Self::RecordRead | Self::RecordReadRedacted | Self::RecordDecrypt | Self::RecordExport)
    }

    /// Whether the action reveals plaintext, and so takes a justification and
    /// a purpose.
    pub fn is_reveal(self) -> bool {
        matches!(self, Self::RecordDecrypt | Self::RecordExport | Self::SubjectExport)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The roles and the role each one includes: admin ⊃ analyst ⊃ reader;
/// system stands apart.
pub const ROLE_HIERARCHY: [(&str, Option<&str>); 4] =
    [("reader", None), ("analyst", Some("reader")), ("admin", Some("analyst")), ("system", None)];

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// A person with a session.
    User,
    /// A machine with an API key.
    ApiKey,
}

impl PrincipalKind {
    /// The stable name (`user`, `api_key`), as stored with grants.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ApiKey => "api_key",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Self::User),
            "api_key" => Some(Self::ApiKey),
            _ => None,
        }
    }

    pub(crate) fn entity_type(self) -> &'static str {
        match self {
            Self::User => "Strongroom::User",
            Self::ApiKey => "Strongroom::ApiKey",
        }
    }
}

/// What decisions know about a principal: its roles, its API-key scopes and
/// the matters it holds a grant on. Loaded with the principal, so a decision
/// needs no further query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalFacts {
    /// User or API key.
    pub kind: PrincipalKind,
    /// The stable id.
    pub id: String,
    /// The username or the key's name.
    pub name: String,
    /// Role names (`reader`, `analyst`, `admin`, `system`).
    pub roles: Vec<String>,
    /// API-key scopes (`transit:use`, …); empty for users.
    pub scopes: Vec<String>,
    /// Matter ids the principal holds a standing grant on.
    pub matters: Vec<String>,
}

/// What the action is done to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    /// The server itself: actions that concern no one matter.
    Service,
    /// A matter (listing its records, creating in it, managing its grants).
    Matter(String),
    /// One record of a matter.
    Record {
        /// The record's id.
        id: String,
        /// The matter it belongs to.
        matter: String,
        /// Its collection's name.
        collection: String,
    },
    /// A keyring or transit key, by name.
    Key(String),
    /// A user, as the target of user management.
    User {
        /// The user's id.
        id: String,
        /// The username.
        name: String,
    },
}

impl Resource {
    /// The matter the resource belongs to, if any.
    pub fn matter(&self) -> Option<&str> {
        match self {
            Self::Matter(matter) | Self::Record { matter, .. } => Some(matter),
            _ => None,
        }
    }

    /// The record id, for a record.
    pub fn record(&self) -> Option<&str> {
        match self {
            Self::Record { id, .. } => Some(id),
            _ => None,
        }
    }

    /// `type:id`, as named in explanations and audit events.
    pub fn describe(&self) -> String {
        match self {
            Self::Service => "service".to_owned(),
            Self::Matter(id) => format!("matter:{id}"),
            Self::Record { id, matter, collection } => format!("record:{collection}/{id} (matter {matter})"),
            Self::Key(name) => format!("key:{name}"),
            Self::User { id, .. } => format!("user:{id}"),
        }
    }
}

/// What decisions know about the request itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// The security profile the server runs.
    pub profile: String,
    /// Seconds since the Unix epoch.
    pub now_unix_seconds: i64,
    /// The client address, when known.
    pub ip: Option<IpAddr>,
    /// Seconds since the session last proved a second factor.
    pub mfa_age_seconds: Option<i64>,
    /// The freshness a decrypt needs under production and high_security.
    pub mfa_max_age_seconds: i64,
    /// Characters in the justification given (0 without one).
    pub justification_length: i64,
    /// The purpose code given with a reveal.
    pub purpose: Option<String>,
    /// A live approved access request of this principal covers this action on this resource.
    pub elevated: bool,
}

impl RequestFacts {
    /// Facts for a request at `now_unix_seconds` under `profile`, with nothing else known.
    pub fn new(profile: &str, now_unix_seconds: i64) -> Self {
        Self {
            profile: profile.to_owned(),
            now_unix_seconds,
            ip: None,
            mfa_age_seconds: None,
            mfa_max_age_seconds: 300,
            justification_length: 0,
            purpose: None,
            elevated: false,
        }
    }
}

/// `(year, month, day, hour, minute, second, iso_weekday)` of a Unix time,
/// in UTC (Howard Hinnant's days-from-civil inverse).
pub(crate) fn civil_time(unix_seconds: i64) -> (i64, i64, i64, i64, i64, i64, i64) {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // 1970-01-01 was a Thursday (ISO 4).
    let weekday = (days + 3).rem_euclid(7) + 1;
    (year, month, day, secs / 3600, secs / 60 % 60, secs % 60, weekday)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_time_matches_known_dates() {
        assert_eq!(civil_time(0), (1970, 1, 1, 0, 0, 0, 4));
        // 2026-11-23T16:46:23Z, a Monday.
        assert_eq!(civil_time(1_795_452_383), (2026, 11, 23, 16, 46, 23, 1));
        // 2000-02-29T23:59:59Z, a Tuesday (leap day of a century leap year).
        assert_eq!(civil_time(951_868_799), (2000, 2, 29, 23, 59, 59, 2));
        // 1969-12-31T23:00:00Z, a Wednesday, before the epoch.
        assert_eq!(civil_time(-3600), (1969, 12, 31, 23, 0, 0, 3));
    }

    #[test]
    fn action_names_round_trip() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Action::parse("record.*"), None);
    }
}
