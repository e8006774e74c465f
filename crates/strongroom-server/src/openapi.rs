//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//! Every operation also lists the `default` problem answer, so clients know
//! the error shape of every route without repeating it per handler.

use axum::Json;
use strongroom_proto::{CheckState, Health, PolicyProblem, Problem, ProblemCode, Readiness, ReadinessCheck};
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
    modifiers(&ProblemDefaults, &ApiKeySecurity),
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

/// Adds the problem answer as every operation's `default` response.
struct ProblemDefaults;

impl Modify for ProblemDefaults {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let problem = ResponseBuilder::new()
            .description(
                "An RFC 9457 problem. `code` is one of the ProblemCode values; 400 malformed_json, \
415, 404, 405, 408, 413, 429, 500 internal (with error_id) and 503 can come from any route.",
            )
            .content(
                strongroom_proto::PROBLEM_CONTENT_TYPE,
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Problem"))))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                operation.responses.responses.entry("default".into()).or_insert_with(|| problem.clone().into());
            }
        }
    }
}

/// Declares the two schemes routes name in `security`: API keys and users' bearer tokens.
struct ApiKeySecurity;

impl Modify for ApiKeySecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
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
pub(crate) async fn serve_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}
