//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//! Every operation also lists the `default` problem answer, so clients know
//! the error shape of every route without repeating it per handler.

use axum::Json;
use axum::extract::State;
use strongroom_proto::{CheckState, Health, PolicyProblem, Problem, ProblemCode, Readiness, ReadinessCheck};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strongroom",
        description = "Self-hosted security server: keys and encryption, identity, authorization, audit. \
Every error answer is an RFC 9457 problem (`application/problem+json`) with a stable `code`.",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        serve_openapi,
        crate::routes::keys::list_keys,
        crate::routes::keys::read_key,
        crate::routes::keys::rotate_key,
        crate::routes::keys::set_state,
        crate::routes::keys::rewrap_key,
        crate::routes::keys::configure_key,
        crate::routes::keys::read_job,
        crate::routes::transit::list_keys,
        crate::routes::transit::create_key,
        crate::routes::transit::read_key,
        crate::routes::transit::delete_key,
        crate::routes::transit::rotate_key,
        crate::routes::transit::configure_key,
        crate::routes::transit::encrypt,
        crate::routes::transit::decrypt,
        crate::routes::transit::rewrap,
        crate::routes::transit::hmac,
        crate::routes::transit::sign,
        crate::routes::transit::verify,
        crate::routes::transit::datakey,
        crate::routes::vault::sys_health,
        crate::routes::vault::lookup_self,
        crate::routes::audit::list_events,
        crate::routes::audit::append_events,
        crate::routes::audit::read_event,
        crate::routes::audit::inclusion_proof,
        crate::routes::audit::consistency_proof,
        crate::routes::audit::checkpoint,
        crate::routes::audit::public_key,
        crate::routes::audit::stats,
        crate::routes::audit::alerts,
        crate::routes::identity::login,
        crate::routes::identity::oauth_token,
        crate::routes::identity::mfa,
        crate::routes::identity::refresh,
        crate::routes::identity::logout,
        crate::routes::identity::step_up,
        crate::routes::identity::reset_password,
        crate::routes::identity::totp_enroll,
        crate::routes::identity::totp_confirm,
        crate::routes::identity::totp_disable,
        crate::routes::identity::jwks,
        crate::routes::identity::openid_configuration,
        crate::routes::identity::introspect,
        crate::metrics::metrics,
        crate::routes::users::me,
        crate::routes::users::create_user,
        crate::routes::users::list_users,
        crate::routes::users::read_user,
        crate::routes::users::update_user,
        crate::routes::users::set_roles,
        crate::routes::users::lock_user,
        crate::routes::users::unlock_user,
        crate::routes::users::revoke_sessions,
        crate::routes::users::issue_reset,
        crate::routes::users::issue_enrollment,
        crate::routes::users::list_sessions,
        crate::routes::users::revoke_session,
        crate::routes::api_keys::create,
        crate::routes::api_keys::list,
        crate::routes::api_keys::rotate,
        crate::routes::api_keys::revoke,
        crate::routes::authz::list_matters,
        crate::routes::authz::create_matter,
        crate::routes::authz::read_matter,
        crate::routes::authz::list_grants,
        crate::routes::authz::create_grant,
        crate::routes::authz::revoke_grant,
        crate::routes::authz::list_access_requests,
        crate::routes::authz::create_access_request,
        crate::routes::authz::read_access_request,
        crate::routes::authz::approve_access_request,
        crate::routes::authz::deny_access_request,
        crate::routes::authz::read_policies,
        crate::routes::authz::replace_policies,
        crate::routes::roles::list_roles,
        crate::routes::roles::create_role,
        crate::routes::roles::read_role,
        crate::routes::roles::replace_role,
        crate::routes::roles::delete_role,
        crate::routes::authz::explain,
        crate::routes::authz::who_can,
        crate::routes::records::list_collections,
        crate::routes::records::create_collection,
        crate::routes::records::read_collection,
        crate::routes::records::change_collection,
        crate::routes::records::read_redaction_terms,
        crate::routes::records::replace_redaction_terms,
        crate::routes::records::list_records,
        crate::routes::records::create_record,
        crate::routes::records::read_record,
        crate::routes::records::update_record,
        crate::routes::records::delete_record,
        crate::routes::records::decrypt_record,
        crate::routes::records::hold_record,
        crate::routes::records::export_subject,
        crate::routes::records::erase_subject,
        crate::routes::records::upload_blob,
        crate::routes::records::download_blob,
    ),
    components(schemas(Problem, ProblemCode, PolicyProblem, Health, Readiness, ReadinessCheck, CheckState)),
    modifiers(&ProblemDefaults, &ApiKeySecurity, &EitherCredential, &OneOrBatch, &ResourceByType),
    tags(
        (name = "health", description = "Liveness, readiness and the API description"),
        (name = "keys", description = "The keyring: every key's versions and state, rotation, state changes"),
        (name = "transit", description = "Encryption as a service, compatible with Vault/OpenBao transit"),
        (name = "auth", description = "Logins, tokens, second factors, the JWKS"),
        (name = "users", description = "Users, roles, locks, resets and sessions"),
        (name = "audit", description = "The tamper-evident audit log: events, proofs, signed checkpoints, statistics, alerts"),
        (name = "authorization", description = "Matters and grants, access requests, policies, explanations, who-can"),
        (name = "records", description = "Collections with schemas, encrypted records with per-role views, decrypt with justification")
    )
)]
struct ApiDoc;

/// The schema of a problem on Vault's paths: the same members, with Vault's
/// `errors` (a list of messages) instead of `invalid_policy`'s list of places.
const VAULT_PROBLEM: &str = "VaultProblem";

/// Adds the problem answer as every operation's `default` response, and
/// makes every error response a route declares the problem it sends. On
/// Vault's paths (`middleware::speaks_vault`) problems are `application/json`
/// with Vault's `errors`, as they are sent.
struct ProblemDefaults;

impl ProblemDefaults {
    fn content(vault: bool) -> (&'static str, utoipa::openapi::Content) {
        let (content_type, schema) = if vault {
            ("application/json", VAULT_PROBLEM)
        } else {
            (strongroom_proto::PROBLEM_CONTENT_TYPE, "Problem")
        };
        let content =
            ContentBuilder::new().schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(schema)))).build();
        (content_type, content)
    }
}

impl Modify for ProblemDefaults {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut()
            && let Some(vault) = vault_problem(components.schemas.get("Problem"))
        {
            components.schemas.insert(VAULT_PROBLEM.into(), vault);
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let (content_type, content) = Self::content(crate::middleware::speaks_vault(path));
            let problem = ResponseBuilder::new()
                .description(
                    "An RFC 9457 problem. `code` is one of the ProblemCode values; 400 malformed_json, \
415, 404, 405, 408, 413, 429, 500 internal (with error_id) and 503 can come from any route.",
                )
                .content(content_type, content.clone())
                .build();
            for operation in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                for (status, response) in operation.responses.responses.iter_mut() {
                    let error = status.starts_with('4') || status.starts_with('5');
                    if let (true, RefOr::T(response)) = (error, response) {
                        response.content = [(content_type.to_owned(), content.clone())].into_iter().collect();
                    }
                }
                operation.responses.responses.entry("default".into()).or_insert_with(|| problem.clone().into());
            }
        }
    }
}

/// `Problem` with `errors` as Vault's list of messages.
fn vault_problem(problem: Option<&RefOr<Schema>>) -> Option<RefOr<Schema>> {
    let Some(RefOr::T(Schema::Object(problem))) = problem else {
        return None;
    };
    let mut vault = problem.clone();
    let messages = ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String))
        .description(Some("Vault's error list: the problem's `detail`"));
    vault.properties.insert("errors".into(), messages.into());
    if !vault.required.iter().any(|name| name == "errors") {
        vault.required.push("errors".into());
    }
    vault.description = Some("A problem as the Vault-compatible routes send it (`application/json`)".into());
    Some(RefOr::T(Schema::Object(vault)))
}

/// Every route that takes a principal takes either credential: the
/// `Caller` extractor reads an API key (`X-API-Key`, `X-Vault-Token`,
/// `Authorization: Bearer`, Basic) and a user's or service's bearer token
/// alike. Handlers name one scheme in `security` to say "authenticated";
/// this lists both as alternatives, keeping an empty requirement (`{}`)
/// where a route also works without credentials (enrolment by token).
struct EitherCredential;

impl Modify for EitherCredential {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::SecurityRequirement;
        for item in openapi.paths.paths.values_mut() {
            for operation in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                let Some(security) = operation.security.as_mut() else { continue };
                if security.is_empty() {
                    continue;
                }
                let anonymous = security.iter().any(|requirement| *requirement == SecurityRequirement::default());
                *security = vec![
                    SecurityRequirement::new("api_key", Vec::<String>::new()),
                    SecurityRequirement::new("bearer", Vec::<String>::new()),
                    SecurityRequirement::new("oauth2", Vec::<String>::new()),
                ];
                if anonymous {
                    security.push(SecurityRequirement::default());
                }
            }
        }
    }
}

/// Vault's requests that take one value or a batch: at least one of the two
/// must be given (and not `null`), or the server answers 400. The struct's
/// schema cannot say so by itself (both fields are optional in Rust).
struct OneOrBatch;

impl OneOrBatch {
    /// Schema name and the single value's field.
    const REQUESTS: [(&'static str, &'static str); 3] =
        [("EncryptRequest", "plaintext"), ("DecryptRequest", "ciphertext"), ("InputRequest", "input")];
}

/// Adds `rule` to the component schema `name` (it must hold as well:
/// `allOf` of the schema and the rule), for what a struct cannot say.
fn also_require(components: &mut utoipa::openapi::Components, name: &str, rule: impl Into<RefOr<Schema>>) {
    use utoipa::openapi::schema::AllOfBuilder;
    if let Some(schema) = components.schemas.remove(name) {
        components.schemas.insert(name.into(), AllOfBuilder::new().item(schema).item(rule).into());
    }
}

impl Modify for OneOrBatch {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::AnyOfBuilder;
        let Some(components) = openapi.components.as_mut() else { return };
        for (name, single) in Self::REQUESTS {
            let one =
                ObjectBuilder::new().property(single, ObjectBuilder::new().schema_type(Type::String)).required(single);
            let batch = ObjectBuilder::new()
                .property("batch_input", ArrayBuilder::new().min_items(Some(1)).max_items(Some(1000)))
                .required("batch_input");
            also_require(components, name, AnyOfBuilder::new().item(one).item(batch));
        }
    }
}

/// The resource an explanation names: what each `type` needs beside it
/// (`service` nothing, `matter`, `key` and `user` an `id`, `record` an `id`
/// and its `matter`), which the struct alone cannot say.
struct ResourceByType;

impl Modify for ResourceByType {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::OneOfBuilder;
        let Some(components) = openapi.components.as_mut() else { return };
        let text = || ObjectBuilder::new().schema_type(Type::String).min_length(Some(1));
        let of = |kinds: &[&str], needs: &[&str]| {
            let kinds = kinds.iter().map(|kind| serde_json::json!(kind));
            let mut variant = ObjectBuilder::new()
                .property("type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(kinds)))
                .required("type");
            for member in needs {
                variant = variant.property(*member, text()).required(*member);
            }
            variant
        };
        let by_type = OneOfBuilder::new()
            .item(of(&["service"], &[]))
            .item(of(&["matter", "key", "user"], &["id"]))
            .item(of(&["record"], &["id", "matter"]));
        also_require(components, "ResourceRef", by_type);
    }
}

/// Declares the schemes routes name in `security`: API keys, users' bearer
/// tokens, and the same tokens as OAuth 2.0 issues them at `/token` (the
/// password and client-credentials grants), so generated clients and
/// FastAPI's `OAuth2PasswordBearer(tokenUrl="token")` find the token
/// endpoint, and tools know that a refused grant there is a 400 (RFC 6749).
struct ApiKeySecurity;

impl Modify for ApiKeySecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, ClientCredentials, Flow, OAuth2, Password, Scopes, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key `sr_<id>_<secret>`; also accepted as X-Vault-Token or Authorization: Bearer",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                utoipa::openapi::security::HttpBuilder::new()
                    .scheme(utoipa::openapi::security::HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A user's access token from POST /v1/auth/login (or an API key)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [
                    Flow::Password(Password::new("/token", Scopes::new())),
                    Flow::ClientCredentials(ClientCredentials::new("/token", Scopes::new())),
                ],
                "The access token of POST /token: a user's (password grant, `totp` for the second factor) \
                 or a service's (client-credentials grant with an API key's id and secret)",
            )),
        );
    }
}

/// The OpenAPI document of this API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc
}

/// This API's OpenAPI 3.1 document. Public.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
pub(crate) async fn serve_openapi(State(state): State<crate::AppState>) -> Json<utoipa::openapi::OpenApi> {
    let mut doc = openapi();
    with_purposes(&mut doc, &state.authz.settings().purposes);
    Json(doc)
}

/// The requests that name a purpose, and whether they must: a reveal
/// (decrypt, subject export) must give one when purposes are configured, an
/// access request may. The codes are this server's configuration
/// (`authz.purposes`), so the served document lists them; the document as
/// built ([`openapi`]) cannot know them and says "a string".
const PURPOSE_REQUESTS: [(&str, bool); 3] =
    [("RevealRequest", true), ("SubjectExportRequest", true), ("CreateAccessRequest", false)];

/// Sets `purpose` of [`PURPOSE_REQUESTS`] to the configured codes.
fn with_purposes(doc: &mut utoipa::openapi::OpenApi, purposes: &[String]) {
    if purposes.is_empty() {
        return;
    }
    let Some(components) = doc.components.as_mut() else { return };
    for (name, required) in PURPOSE_REQUESTS {
        let Some(RefOr::T(Schema::Object(request))) = components.schemas.get_mut(name) else { continue };
        let codes = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(purposes.iter().cloned()))
            .description(Some("A purpose code of this server's configuration (`authz.purposes`)"));
        request.properties.insert("purpose".into(), codes.into());
        if required && !request.required.iter().any(|member| member == "purpose") {
            request.required.push("purpose".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use strongroom_core::Scope;
    use strongroom_core::authz::Action;
    use strongroom_proto::rules;

    fn document() -> Value {
        serde_json::to_value(super::openapi()).unwrap()
    }

    fn operations(doc: &Value) -> impl Iterator<Item = (&String, &String, &Value)> {
        doc["paths"].as_object().unwrap().iter().flat_map(|(path, item)| {
            item.as_object().unwrap().iter().map(move |(method, operation)| (path, method, operation))
        })
    }

    #[test]
    fn the_served_document_names_the_configured_purposes_where_a_reveal_needs_one() {
        let mut doc = super::openapi();
        super::with_purposes(&mut doc, &["case_work".to_owned(), "legal_hold".to_owned()]);
        let doc = serde_json::to_value(doc).unwrap();
        let schemas = &doc["components"]["schemas"];
        for (name, required) in super::PURPOSE_REQUESTS {
            assert_eq!(schemas[name]["properties"]["purpose"]["enum"], serde_json::json!(["case_work", "legal_hold"]));
            let listed = schemas[name]["required"].as_array().unwrap().contains(&"purpose".into());
            assert_eq!(listed, required, "{name}");
        }
    }

    #[test]
    fn an_explained_resource_needs_what_its_type_needs() {
        let doc = document();
        let variants = doc["components"]["schemas"]["ResourceRef"]["allOf"][1]["oneOf"].as_array().unwrap().clone();
        let needs: Vec<(Value, Value)> =
            variants.into_iter().map(|v| (v["properties"]["type"]["enum"].clone(), v["required"].clone())).collect();
        assert_eq!(
            needs,
            [
                (serde_json::json!(["service"]), serde_json::json!(["type"])),
                (serde_json::json!(["matter", "key", "user"]), serde_json::json!(["type", "id"])),
                (serde_json::json!(["record"]), serde_json::json!(["type", "id", "matter"])),
            ]
        );
    }

    #[test]
    fn the_documented_vocabularies_are_the_servers() {
        let actions: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(actions, rules::ACTIONS);
        let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(scopes, rules::SCOPES);
    }

    #[test]
    fn every_authenticated_route_takes_either_credential_and_problems_are_typed_as_sent() {
        let doc = document();
        for (path, method, operation) in operations(&doc) {
            if let Some(security) = operation["security"].as_array() {
                let schemes: Vec<String> =
                    security.iter().flat_map(|r| r.as_object().unwrap().keys().cloned()).collect();
                assert!(schemes == ["api_key", "bearer", "oauth2"], "{method} {path}: {security:?}");
            }
            let content = operation["responses"]["default"]["content"].as_object().unwrap();
            let vault = crate::middleware::speaks_vault(path);
            let expected = if vault { "application/json" } else { "application/problem+json" };
            assert!(content.contains_key(expected), "{method} {path}: {content:?}");
        }
        let enroll = &doc["paths"]["/v1/auth/totp/enroll"]["post"];
        assert_eq!(enroll["security"].as_array().unwrap().len(), 4, "an enrolment token needs no session");
        let flows = &doc["components"]["securitySchemes"]["oauth2"]["flows"];
        assert_eq!(flows["password"]["tokenUrl"], "/token");
        assert_eq!(flows["clientCredentials"]["tokenUrl"], "/token");
        assert!(doc["components"]["schemas"]["VaultProblem"]["properties"]["errors"]["items"]["type"] == "string");
    }

    #[test]
    fn the_rules_the_server_enforces_are_in_the_schemas() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        for (schema, field) in [
            ("RevealRequest", "reason"),
            ("SubjectExportRequest", "justification"),
            ("CreateGrant", "justification"),
            ("CreateAccessRequest", "justification"),
            ("ReplacePolicies", "justification"),
        ] {
            assert_eq!(schemas[schema]["properties"][field]["minLength"], 20, "{schema}.{field}");
            assert!(schemas[schema]["required"].as_array().unwrap().contains(&field.into()), "{schema}.{field}");
        }
        assert_eq!(schemas["CreateAccessRequest"]["properties"]["duration_minutes"]["maximum"], 480);
        assert_eq!(schemas["SetKeyState"]["properties"]["state"]["enum"].as_array().unwrap().len(), 5);
        assert_eq!(schemas["CreateApiKey"]["properties"]["scopes"]["oneOf"].as_array().unwrap().len(), 2);
        assert_eq!(schemas["NewCollection"]["required"], serde_json::json!(["name", "fields"]));
        // Bodies that may be left out (Vault's `write -f`, optional options) say so.
        let rotate = &doc["paths"]["/v1/api-keys/{id}/rotate"]["post"]["requestBody"];
        assert_ne!(rotate["required"], true);
        let encrypt = &doc["paths"]["/v1/transit/encrypt/{name}"]["post"]["requestBody"];
        assert_eq!(encrypt["required"], true);
    }
}
