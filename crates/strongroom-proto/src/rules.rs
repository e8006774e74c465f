//! The rules the server enforces on request fields, as JSON Schemas for the
//! OpenAPI document (`#[schema(schema_with = …)]`), so that a client
//! generated from the document sends only what the server accepts, and a
//! fuzzer's "valid" request is valid. Each says where the server checks it;
//! the server's tests compare the lists here with its own.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};

/// Every action a permission, a role or an access request names (the
/// authorizer's vocabulary, `Action::ALL`).
pub const ACTIONS: [&str; 26] = [
    "record.read",
    "record.read_redacted",
    "record.decrypt",
    "record.export",
    "record.write",
    "record.delete",
    "record.hold",
    "access.request",
    "access.approve",
    "matter.manage",
    "user.manage",
    "role.assign",
    "key.manage",
    "transit.use",
    "transit.read",
    "transit.manage",
    "audit.read",
    "policy.manage",
    "authz.explain",
    "api_key.manage",
    "session.self",
    "collection.manage",
    "subject.export",
    "subject.erase",
    "audit.write",
    "token.introspect",
];

/// Every scope of a Strongroom API key (`Scope::ALL`).
pub const SCOPES: [&str; 12] = [
    "transit:use",
    "transit:manage",
    "keys:manage",
    "audit:read",
    "users:manage",
    "roles:assign",
    "api_keys:manage",
    "matters:manage",
    "collections:manage",
    "records:decrypt",
    "audit:write",
    "auth:introspect",
];

/// The built-in roles a user may be given (`Role::parse`).
pub const USER_ROLES: [&str; 4] = ["reader", "analyst", "admin", "system"];

/// Matter and record ids: 1-64 of `a-z 0-9 . _ -`, starting with a letter or digit (`check_id`).
pub const ID_PATTERN: &str = "^[a-z0-9][a-z0-9._-]{0,63}$";

/// Collection and field names: `[a-z][a-z0-9_]{0,55}` (`check_collection_name`).
pub const NAME_PATTERN: &str = "^[a-z][a-z0-9_]{0,55}$";

/// `user:<id>` or `api_key:<id>`.
pub const PRINCIPAL_PATTERN: &str = "^(user|api_key):.+$";

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn one_of(values: &[&str]) -> ObjectBuilder {
    string().enum_values(Some(values.iter().copied()))
}

/// A justification the authorizer checks: 20-1000 characters once
/// surrounding white space is trimmed (`check_justification`).
pub fn justification() -> Schema {
    string()
        .min_length(Some(20))
        .pattern(Some(r"^\s*\S[\s\S]{18,998}\S\s*$"))
        .description(Some("Why: 20 to 1000 characters besides surrounding white space; recorded permanently"))
        .into()
}

/// A justification of a role change: at least 20 characters once trimmed.
pub fn trimmed_justification() -> Schema {
    string()
        .min_length(Some(20))
        .pattern(Some(r"^\s*\S[\s\S]{18,}\S\s*$"))
        .description(Some("Why: at least 20 characters besides surrounding white space"))
        .into()
}

/// A justification counted as given: at least 20 characters (legal holds,
/// erasures, key state changes).
pub fn plain_justification() -> Schema {
    string().min_length(Some(20)).description(Some("Why: at least 20 characters")).into()
}

/// One action of [`ACTIONS`].
pub fn action() -> Schema {
    one_of(&ACTIONS).description(Some("An action of the authorizer's vocabulary")).into()
}

/// The actions an access request may ask for.
pub fn requestable_action() -> Schema {
    one_of(&["record.read", "record.read_redacted", "record.decrypt", "record.export"]).into()
}

/// The kinds of resource an explanation names.
pub fn resource_type() -> Schema {
    one_of(&["service", "matter", "record", "key", "user"]).into()
}

/// A key's lifecycle states.
pub fn key_state() -> Schema {
    one_of(&["active", "decrypt_only", "disabled", "compromised", "destroyed"]).into()
}

/// Address blocks, at most 100. The schema gives IPv4's form (`10.0.0.0/8`,
/// or one address); the server takes IPv6 blocks (`2001:db8::/32`) too.
pub fn cidrs() -> Schema {
    let octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    let v4 = format!("^{octet}(\\.{octet}){{3}}(/(3[0-2]|[12]?[0-9]))?$");
    ArrayBuilder::new().items(string().pattern(Some(v4))).max_items(Some(100)).into()
}

/// The types of a collection's field.
pub fn field_type() -> Schema {
    one_of(&["string", "text", "number", "bool", "timestamp", "json", "vector", "blob"]).into()
}

/// The placeholder a matter's redaction term becomes (`strongroom_redact::Terms::new`).
pub fn redaction_term_type() -> Schema {
    one_of(&["PERSON", "ORG", "LOCATION", "ADDRESS"]).into()
}

/// How sensitive a field is.
pub fn sensitivity() -> Schema {
    one_of(&["public", "redacted", "secret"]).into()
}

/// An IP address (v4 or v6).
pub fn client_ip() -> Schema {
    OneOfBuilder::new()
        .item(string().format(Some(utoipa::openapi::SchemaFormat::Custom("ipv4".into()))))
        .item(string().format(Some(utoipa::openapi::SchemaFormat::Custom("ipv6".into()))))
        .into()
}

/// An option Vault offers and Strongroom refuses: absent, `null`, `false`,
/// or Go's text for false (`0`, `f`, `false`, …); `true` is refused.
pub fn refused_flag() -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([false])))
        .item(string().pattern(Some("^(0|f|F|FALSE|false|False)$")))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// Vault's `auto_rotate_period`: seconds, or text such as `24h` (`s`, `m`,
/// `h`, `d`); 0, a negative number or `null`: none.
pub fn rotate_period() -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Integer))
        .item(string().pattern(Some("^[0-9]{1,12}[smhd]?$")))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// A role's permissions: actions, at least one.
pub fn actions() -> Schema {
    ArrayBuilder::new().items(one_of(&ACTIONS)).min_items(Some(1)).into()
}

/// Built-in roles, at least one.
pub fn user_roles() -> Schema {
    ArrayBuilder::new().items(one_of(&USER_ROLES)).min_items(Some(1)).into()
}

/// A key's scopes: Strongroom's ([`SCOPES`]), or for an application key
/// only application scopes `app:<name>` (at most 50); never both.
pub fn scopes() -> Schema {
    let strongroom = ArrayBuilder::new().items(one_of(&SCOPES)).min_items(Some(1));
    let application = ArrayBuilder::new()
        .items(string().pattern(Some("^app:[a-z0-9_.:-]{1,64}$")))
        .min_items(Some(1))
        .max_items(Some(50));
    OneOfBuilder::new()
        .item(strongroom)
        .item(application)
        .description(Some("Strongroom's scopes, or (an application key) application scopes `app:<name>` only"))
        .into()
}

/// A matter or record id ([`ID_PATTERN`]).
pub fn id() -> Schema {
    string().pattern(Some(ID_PATTERN)).into()
}

/// A collection or field name ([`NAME_PATTERN`]).
pub fn name() -> Schema {
    string().pattern(Some(NAME_PATTERN)).into()
}

/// `user:<id>` or `api_key:<id>`.
pub fn principal() -> Schema {
    string().pattern(Some(PRINCIPAL_PATTERN)).into()
}
