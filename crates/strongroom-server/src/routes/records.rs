//! Collections and records over HTTP (SPEC §8).
//!
//! Permissions (default policies; docs/authorization.md): anyone
//! authenticated reads schemas; `collection.manage` (admins, scope
//! `collections:manage`) creates and changes them. Records need the role's
//! permission and a grant on their matter; a record of a matter without a
//! grant answers 404, as one that does not exist. Reads return the caller's
//! view; only `…/decrypt` reveals encrypted fields.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, RANGE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use strongroom_core::CoreError;
use strongroom_core::authz::Ask;
use strongroom_core::records::{
    BlobRef, ByteRange, ByteSource, CollectionRecord, CollectionSchema, NewRecord, REVEAL_WARNING, RecordQuery,
    RedactionTerms,
};
use strongroom_proto::{
    BlobView, CollectionDef, CollectionList, CollectionView, CreateRecord, ExportedRecord, FieldDef, HoldRequest,
    NewCollection, RecordList, RecordRef, RecordView, RedactionTerm, RedactionTermsView, ReplaceRedactionTerms,
    RevealRequest, RevealResponse, SubjectEraseRequest, SubjectErasure, SubjectExport, SubjectExportRequest,
    UpdateRecord,
};

use crate::{ApiError, ApiJson, AppState, Caller};

fn collection_view(collection: CollectionRecord) -> CollectionView {
    let fields = serde_json::to_value(&collection.schema.fields)
        .and_then(serde_json::from_value::<Vec<FieldDef>>)
        .unwrap_or_default();
    CollectionView {
        name: collection.name,
        fields,
        default_ttl_seconds: collection.schema.default_ttl_seconds,
        track_access: collection.schema.track_access,
        revision: collection.revision,
        created_at: collection.created_at,
        updated_at: collection.updated_at,
    }
}

fn schema_of(definition: CollectionDef) -> Result<CollectionSchema, ApiError> {
    let value = serde_json::json!({
        "fields": definition.fields,
        "default_ttl_seconds": definition.default_ttl_seconds,
        "track_access": definition.track_access,
    });
    serde_json::from_value(value).map_err(|e| {
        ApiError::InvalidRequest(format!(
            "fields: {e} (type: string, text, number, bool, timestamp, json, vector or blob; \
             sensitivity: public, redacted or secret)"
        ))
    })
}

fn record_view(view: strongroom_core::records::RecordView) -> RecordView {
    RecordView {
        id: view.id,
        collection: view.collection,
        matter: view.matter_id,
        fields: view.fields,
        redacted_fields: view.redacted,
        withheld_fields: view.withheld,
        created_at: view.created_at,
        updated_at: view.updated_at,
        expires_at: view.expires_at,
        legal_hold: view.legal_hold,
        access_count: view.access_count,
        last_accessed_at: view.last_accessed_at,
    }
}

/// Every collection and its schema (schemas hold no data).
#[utoipa::path(get, path = "/v1/collections", tag = "records",
    responses((status = 200, description = "Collections", body = CollectionList)), security(("bearer" = [])))]
pub(crate) async fn list_collections(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<CollectionList>, ApiError> {
    let collections = state.records.collections().await?;
    Ok(Json(CollectionList { collections: collections.into_iter().map(collection_view).collect() }))
}

/// Creates a collection from a schema.
#[utoipa::path(post, path = "/v1/collections", tag = "records", request_body = NewCollection,
    responses((status = 201, description = "The collection", body = CollectionView)), security(("bearer" = [])))]
pub(crate) async fn create_collection(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(definition): ApiJson<NewCollection>,
) -> Result<(StatusCode, Json<CollectionView>), ApiError> {
    let name = definition.name.clone();
    let schema = schema_of(definition.into())?;
    let collection = state.records.create_collection(&caller.subject, &name, schema, &caller.context).await?;
    Ok((StatusCode::CREATED, Json(collection_view(collection))))
}

/// One collection's schema.
#[utoipa::path(get, path = "/v1/collections/{name}", tag = "records", params(("name" = String, Path, description = "Collection", pattern = "^[a-z][a-z0-9_]{0,55}$")),
    responses((status = 200, description = "The collection", body = CollectionView)), security(("bearer" = [])))]
pub(crate) async fn read_collection(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<CollectionView>, ApiError> {
    Ok(Json(collection_view(state.records.collection(&name).await?)))
}

/// Replaces a collection's schema; a change that would orphan stored data
/// (removing a field, changing its type or sensitivity) answers 409 with the reason.
#[utoipa::path(put, path = "/v1/collections/{name}", tag = "records", params(("name" = String, Path, description = "Collection", pattern = "^[a-z][a-z0-9_]{0,55}$")),
    request_body = CollectionDef,
    responses((status = 200, description = "The collection", body = CollectionView)), security(("bearer" = [])))]
pub(crate) async fn change_collection(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(definition): ApiJson<CollectionDef>,
) -> Result<Json<CollectionView>, ApiError> {
    let schema = schema_of(definition)?;
    Ok(Json(collection_view(state.records.change_schema(&caller.subject, &name, schema, &caller.context).await?)))
}

fn terms_view(matter: String, terms: RedactionTerms) -> RedactionTermsView {
    RedactionTermsView {
        matter,
        terms: terms.terms.into_iter().map(|t| RedactionTerm { term: t.text, kind: t.kind }).collect(),
        revision: terms.revision,
        updated_at: terms.updated_at,
        updated_by: terms.updated_by,
    }
}

/// A matter's own redaction terms (the parties of a case): every rendition
/// written in the matter replaces them. For those who manage the matter.
#[utoipa::path(get, path = "/v1/matters/{id}/redaction-terms", tag = "records",
    params(("id" = String, Path, description = "Matter id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    responses((status = 200, description = "The terms", body = RedactionTermsView)), security(("bearer" = [])))]
pub(crate) async fn read_redaction_terms(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RedactionTermsView>, ApiError> {
    let terms = state.records.redaction_terms(&caller.subject, &id, &caller.context).await?;
    Ok(Json(terms_view(id, terms)))
}

/// Replaces a matter's redaction terms (stored sealed, audited as a
/// `config.change` that counts them). Renditions written from now on use them.
#[utoipa::path(put, path = "/v1/matters/{id}/redaction-terms", tag = "records",
    params(("id" = String, Path, description = "Matter id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")), request_body = ReplaceRedactionTerms,
    responses((status = 200, description = "The terms", body = RedactionTermsView)), security(("bearer" = [])))]
pub(crate) async fn replace_redaction_terms(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ReplaceRedactionTerms>,
) -> Result<Json<RedactionTermsView>, ApiError> {
    let terms = request
        .terms
        .into_iter()
        .map(|t| strongroom_core::records::redact::Term { text: t.term, kind: t.kind })
        .collect();
    let replaced =
        state.records.replace_redaction_terms(&caller.subject, &id, terms, request.revision, &caller.context).await?;
    Ok(Json(terms_view(id, replaced)))
}

/// Creates a record in a matter; encrypted fields are sealed before they are stored.
#[utoipa::path(post, path = "/v1/collections/{c}/records", tag = "records", params(("c" = String, Path, description = "Collection", pattern = "^[a-z][a-z0-9_]{0,55}$")),
    request_body = CreateRecord,
    responses((status = 201, description = "The record, as the caller may see it", body = RecordView)),
    security(("bearer" = [])))]
pub(crate) async fn create_record(
    State(state): State<AppState>,
    caller: Caller,
    Path(collection): Path<String>,
    ApiJson(request): ApiJson<CreateRecord>,
) -> Result<(StatusCode, Json<RecordView>), ApiError> {
    let new = NewRecord {
        matter_id: request.matter,
        fields: request.fields,
        subject: request.subject,
        expires_at: None,
        ttl_seconds: request.ttl,
    };
    let view = state.records.create(&caller.subject, &collection, new, &caller.context).await?;
    Ok((StatusCode::CREATED, Json(record_view(view))))
}

/// Parses `matter=`, `where=field:value` (repeatable: equality on public
/// fields, or a blind-index search on one searchable encrypted field),
/// `limit=` and `cursor=`.
fn parse_query(raw: Option<&str>) -> Result<RecordQuery, ApiError> {
    let mut query = RecordQuery::default();
    for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).ok_or_else(|| ApiError::InvalidRequest(format!("{key}: not valid UTF-8")))?;
        match key {
            "matter" => query.matter_id = Some(value),
            "limit" => {
                query.limit =
                    Some(value.parse().map_err(|_| ApiError::InvalidRequest("limit: a number from 1 to 200".into()))?)
            }
            "cursor" => {
                let (at, id) = value
                    .split_once('.')
                    .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                    .ok_or_else(|| ApiError::InvalidRequest("cursor: pass next_cursor as it was given".into()))?;
                query.cursor = Some((at, id));
            }
            "where" => {
                let (field, text) =
                    value.split_once(':').ok_or_else(|| ApiError::InvalidRequest("where: write field:value".into()))?;
                query.written.push((field.to_owned(), text.to_owned()));
            }
            other => {
                return Err(ApiError::InvalidRequest(format!("{other}: not a filter (matter, where, limit, cursor)")));
            }
        }
    }
    Ok(query)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Records the caller may read, oldest first: `?matter=`, `?where=field:value`
/// (equality on public fields, or exact match on a searchable encrypted field
/// through its blind index), `?limit=`, `?cursor=`.
#[utoipa::path(get, path = "/v1/collections/{c}/records", tag = "records",
    params(("c" = String, Path, description = "Collection", pattern = "^[a-z][a-z0-9_]{0,55}$"),
           ("matter" = Option<String>, Query, description = "Only this matter", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$"),
           ("where" = Option<String>, Query, description = "field:value, repeatable", pattern = "^[a-z][a-z0-9_]{0,55}:"),
           ("limit" = Option<u32>, Query, description = "1-200, default 50", minimum = 1, maximum = 200),
           ("cursor" = Option<String>, Query, description = "next_cursor of the previous page", pattern = "^-?[0-9]{1,18}\\..+$")),
    responses((status = 200, description = "Records, as the caller may see them", body = RecordList)),
    security(("bearer" = [])))]
pub(crate) async fn list_records(
    State(state): State<AppState>,
    caller: Caller,
    Path(collection): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<RecordList>, ApiError> {
    let query = parse_query(raw.as_deref())?;
    let (views, next) = state.records.list(&caller.subject, &collection, query, &caller.context).await?;
    Ok(Json(RecordList {
        records: views.into_iter().map(record_view).collect(),
        next_cursor: next.map(|(at, id)| format!("{at}.{id}")),
    }))
}

/// One record: public fields for readers, redacted renditions too for
/// analysts and admins, never plaintext of an encrypted field. Audited as `record.read`.
#[utoipa::path(get, path = "/v1/collections/{c}/records/{id}", tag = "records",
    params(("c" = String, Path, description = "Collection", pattern = "^[a-z][a-z0-9_]{0,55}$"), ("id" = String, Path, description = "Record id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    responses((status = 200, description = "The record, as the caller may see it", body = RecordView)),
    security(("bearer" = [])))]
pub(crate) async fn read_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((collection, id)): Path<(String, String)>,
) -> Result<Json<RecordView>, ApiError> {
    Ok(Json(record_view(state.records.read(&caller.subject, &collection, &id, &caller.context).await?)))
}

/// Changes fields of a record.
#[utoipa::path(patch, path = "/v1/collections/{c}/records/{id}", tag = "records",
    params(("c" = String, Path, description = "Collection", pattern = "^[a-z][a-z0-9_]{0,55}$"), ("id" = String, Path, description = "Record id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    request_body = UpdateRecord,
    responses((status = 200, description = "The record, as the caller may see it", body = RecordView)),
    security(("bearer" = [])))]
pub(crate) async fn update_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((collection, id)): Path<(String, String)>,
    ApiJson(request): ApiJson<UpdateRecord>,
) -> Result<Json<RecordView>, ApiError> {
    let view = state.records.update(&caller.subject, &collection, &id, request.fields, &caller.context).await?;
    Ok(Json(record_view(view)))
}

/// Deletes a record by destroying its data key (crypto-shredding); 409 under legal hold.
#[utoipa::path(delete, path = "/v1/collections/{c}/records/{id}", tag = "records",
    params(("c" = String, Path, description = "Collection", pattern = "^[a-z][a-z0-9_]{0,55}$"), ("id" = String, Path, description = "Record id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    responses((status = 204, description = "Deleted")), security(("bearer" = [])))]
pub(crate) async fn delete_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((collection, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.records.delete(&caller.subject, &collection, &id, &caller.context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The only way to plaintext: names the encrypted fields and says why (at
/// least 20 characters), with a purpose code when purposes are configured.
/// Audited permanently as a reveal before the answer is sent.
#[utoipa::path(post, path = "/v1/collections/{c}/records/{id}/decrypt", tag = "records",
    params(("c" = String, Path, description = "Collection", pattern = "^[a-z][a-z0-9_]{0,55}$"), ("id" = String, Path, description = "Record id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    request_body = RevealRequest,
    responses((status = 200, description = "The plaintext and the notice", body = RevealResponse)),
    security(("bearer" = [])))]
pub(crate) async fn decrypt_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((collection, id)): Path<(String, String)>,
    ApiJson(request): ApiJson<RevealRequest>,
) -> Result<Json<RevealResponse>, ApiError> {
    let ask = Ask { justification: Some(&request.reason), purpose: request.purpose.as_deref() };
    let decrypted_fields =
        state.records.decrypt(&caller.subject, &collection, &id, &request.fields, &ask, &caller.context).await?;
    Ok(Json(RevealResponse { decrypted_fields, warning: REVEAL_WARNING.to_owned() }))
}

/// Puts a record on legal hold (`{"hold": false}` lifts it): it cannot be
/// deleted, expire or be erased with its subject meanwhile. Needs a justification.
#[utoipa::path(post, path = "/v1/collections/{c}/records/{id}/hold", tag = "records",
    params(("c" = String, Path, description = "Collection", pattern = "^[a-z][a-z0-9_]{0,55}$"), ("id" = String, Path, description = "Record id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    request_body = HoldRequest,
    responses((status = 200, description = "The record, as the caller may see it", body = RecordView)),
    security(("bearer" = [])))]
pub(crate) async fn hold_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((collection, id)): Path<(String, String)>,
    ApiJson(request): ApiJson<HoldRequest>,
) -> Result<Json<RecordView>, ApiError> {
    let view = state
        .records
        .hold(&caller.subject, &collection, &id, request.hold, &request.justification, &caller.context)
        .await?;
    Ok(Json(record_view(view)))
}

/// Everything about a data subject (the `subject` given when records were
/// created), decrypted, across collections and matters. Admins, with a
/// justification and purpose; audited as `subject.export`.
#[utoipa::path(post, path = "/v1/subjects/{subject}/export", tag = "records",
    params(("subject" = String, Path, description = "The data subject, as given with the records")),
    request_body = SubjectExportRequest,
    responses((status = 200, description = "The subject's records, decrypted", body = SubjectExport)),
    security(("bearer" = [])))]
pub(crate) async fn export_subject(
    State(state): State<AppState>,
    caller: Caller,
    Path(subject): Path<String>,
    ApiJson(request): ApiJson<SubjectExportRequest>,
) -> Result<Json<SubjectExport>, ApiError> {
    let ask = Ask { justification: Some(&request.justification), purpose: request.purpose.as_deref() };
    let exported = state.records.export_subject(&caller.subject, &subject, &ask, &caller.context).await?;
    Ok(Json(SubjectExport {
        records: exported
            .into_iter()
            .map(|(record, fields)| ExportedRecord {
                collection: record.collection,
                id: record.id,
                matter: record.matter_id,
                fields,
                created_at: record.created_at,
            })
            .collect(),
        warning: REVEAL_WARNING.to_owned(),
    }))
}

/// Crypto-shreds everything about a data subject, except records on legal
/// hold, and reports both. Admins, with a justification; audited as `subject.erase`.
#[utoipa::path(post, path = "/v1/subjects/{subject}/erase", tag = "records",
    params(("subject" = String, Path, description = "The data subject, as given with the records")),
    request_body = SubjectEraseRequest,
    responses((status = 200, description = "What was erased and what is held", body = SubjectErasure)),
    security(("bearer" = [])))]
pub(crate) async fn erase_subject(
    State(state): State<AppState>,
    caller: Caller,
    Path(subject): Path<String>,
    ApiJson(request): ApiJson<SubjectEraseRequest>,
) -> Result<Json<SubjectErasure>, ApiError> {
    let (erased, held) =
        state.records.erase_subject(&caller.subject, &subject, &request.justification, &caller.context).await?;
    let refs =
        |list: Vec<(String, String)>| list.into_iter().map(|(collection, id)| RecordRef { collection, id }).collect();
    Ok(Json(SubjectErasure { erased: refs(erased), held: refs(held) }))
}

/// The HTTP body as core's byte source.
struct BodySource(axum::body::BodyDataStream);

#[async_trait::async_trait]
impl ByteSource for BodySource {
    async fn next_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        use futures_util::StreamExt;
        match self.0.next().await {
            Some(Ok(bytes)) => Ok(Some(bytes.to_vec())),
            Some(Err(error)) => Err(std::io::Error::other(error.to_string())),
            None => Ok(None),
        }
    }
}

fn etag(sha256: &str) -> String {
    format!("\"{sha256}\"")
}

/// Streams the raw body into a blob field of a record (`audio` of a
/// recording): sealed segment by segment on the way to storage, never held
/// whole, never written in plaintext. Replaces an earlier blob of the field.
/// The field's size limit (413) and content types (415) apply; an upload
/// that fails leaves nothing behind.
#[utoipa::path(put, path = "/v1/collections/{c}/records/{id}/blobs/{name}", tag = "records",
    params(("c" = String, Path, description = "Collection", pattern = "^[a-z][a-z0-9_]{0,55}$"), ("id" = String, Path, description = "Record id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$"),
           ("name" = String, Path, description = "The blob field", pattern = "^[a-z][a-z0-9_]{0,55}$")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file, raw"),
    responses((status = 201, description = "Stored", body = BlobView)), security(("bearer" = [])))]
pub(crate) async fn upload_blob(
    State(state): State<AppState>,
    caller: Caller,
    Path((collection, id, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::UnsupportedMediaType("send the file's Content-Type".into()))?
        .to_owned();
    let mut source = BodySource(body.into_data_stream());
    let target = BlobRef { collection: &collection, record: &id, field: &name };
    let meta =
        state.records.upload_blob(&caller.subject, target, &content_type, &mut source, &caller.context).await.map_err(
            |error| match error {
                CoreError::InvalidInput(detail) if detail.starts_with("Content-Type") => {
                    ApiError::UnsupportedMediaType(detail)
                }
                other => other.into(),
            },
        )?;
    let view = BlobView {
        field: meta.field,
        size: meta.size,
        content_type: meta.content_type,
        sha256: meta.sha256.clone(),
        created_at: meta.created_at,
    };
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag(&meta.sha256)) {
        response.headers_mut().insert(ETAG, value);
    }
    Ok(response)
}

/// Why a blob of an encrypted field is downloaded: `X-Justification` and
/// `X-Purpose` headers, or these query parameters.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct RevealQuery {
    reason: Option<String>,
    purpose: Option<String>,
}

/// Parses `Range: bytes=a-b`, `bytes=a-` or `bytes=-n`; anything else
/// (several ranges, other units, nonsense) is ignored, as RFC 9110 allows.
fn parse_range(headers: &HeaderMap) -> Option<ByteRange> {
    let value = headers.get(RANGE)?.to_str().ok()?.trim();
    let spec = value.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    match (first.trim(), last.trim()) {
        ("", n) => n.parse().ok().map(ByteRange::Suffix),
        (a, "") => a.parse().ok().map(|start| ByteRange::From { start, last: None }),
        (a, b) => {
            let (start, last): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (last >= start).then_some(ByteRange::From { start, last: Some(last) })
        }
    }
}

/// Streams a blob back, decrypting segment by segment; `Range` gives 206
/// with `Content-Range`. A blob of an encrypted field is a reveal: it needs
/// `record.decrypt`, a justification (`X-Justification`, 20+ characters)
/// and a purpose (`X-Purpose`), and is audited as `blob.read`.
#[utoipa::path(get, path = "/v1/collections/{c}/records/{id}/blobs/{name}", tag = "records",
    params(("c" = String, Path, description = "Collection", pattern = "^[a-z][a-z0-9_]{0,55}$"), ("id" = String, Path, description = "Record id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$"),
           ("name" = String, Path, description = "The blob field", pattern = "^[a-z][a-z0-9_]{0,55}$"),
           ("Range" = Option<String>, Header, description = "bytes=start-end, bytes=start- or bytes=-length"),
           ("X-Justification" = Option<String>, Header, description = "Why (encrypted fields)"),
           ("X-Purpose" = Option<String>, Header, description = "A purpose code (encrypted fields)")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
              (status = 206, description = "The range asked for", content_type = "application/octet-stream")),
    security(("bearer" = [])))]
pub(crate) async fn download_blob(
    State(state): State<AppState>,
    caller: Caller,
    Path((collection, id, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<RevealQuery>,
) -> Result<Response, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let reason = header("x-justification").or(query.reason);
    let purpose = header("x-purpose").or(query.purpose);
    let ask = Ask { justification: reason.as_deref(), purpose: purpose.as_deref() };
    let target = BlobRef { collection: &collection, record: &id, field: &name };
    blob_response(&state, &caller.subject, target, &headers, &ask, &caller.context).await
}

/// A blob's bytes (or the range `headers` ask for) as an answer: 200, or
/// 206 with `Content-Range`; 416 for a range past the end. The API's
/// download and the console's player both answer with it.
pub(crate) async fn blob_response(
    state: &AppState,
    subject: &strongroom_core::authz::Subject,
    target: BlobRef<'_>,
    headers: &HeaderMap,
    ask: &Ask<'_>,
    context: &strongroom_core::audit::AuditContext,
) -> Result<Response, ApiError> {
    let range = parse_range(headers);
    let download = match state.records.download_blob(subject, target, range, ask, context).await {
        Err(CoreError::RangeNotSatisfiable(size)) => {
            let mut response = ApiError::Refused {
                code: strongroom_proto::ProblemCode::RangeNotSatisfiable,
                detail: format!("the blob has {size} bytes"),
            }
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(CONTENT_RANGE, value);
            }
            return Ok(response);
        }
        other => other?,
    };
    let (start, end) = download.range;
    let size = download.meta.size;
    let partial = range.is_some();
    let stream = futures_util::stream::unfold(download.chunks, |mut chunks| async move {
        chunks.recv().await.map(|chunk| (chunk.map(axum::body::Bytes::from), chunks))
    });
    let mut response = Response::new(axum::body::Body::from_stream(stream));
    *response.status_mut() = if partial { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let headers = response.headers_mut();
    let mut put = |name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    put(CONTENT_TYPE, download.meta.content_type.clone());
    put(CONTENT_LENGTH, (end - start).to_string());
    put(ACCEPT_RANGES, "bytes".into());
    put(ETAG, etag(&download.meta.sha256));
    if partial {
        put(CONTENT_RANGE, format!("bytes {start}-{}/{size}", end.saturating_sub(1)));
    }
    Ok(response)
}
