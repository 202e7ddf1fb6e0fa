//! The admin HTTP API (`docs/admin-api.md`), on its own listener.
//!
//! Every request but the OpenAPI document carries an admin token. Operators may do everything;
//! a tenant token acts on its own tenant only. A refused request changes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::operations::DryRunRequest;
use super::{Actor, Platform, PlatformError};
use crate::config::{AdminRole, AdminToken};

/// The API described as OpenAPI 3.1.
static OPENAPI: &str = include_str!("../../assets/openapi.json");

#[derive(Clone)]
struct AdminState {
    platform: Arc<Platform>,
    tokens: Arc<HashMap<String, AdminToken>>,
}

/// A refusal, as JSON `{"error", "message"}` with its status.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    validation: Option<Box<crate::filter::Validation>>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            validation: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let Some(validation) = self.validation {
            body["validation"] = json!(validation);
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<PlatformError> for ApiError {
    fn from(error: PlatformError) -> Self {
        let message = error.to_string();
        match error {
            PlatformError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            PlatformError::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", message),
            PlatformError::BadRequest(_) => {
                Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
            }
            PlatformError::Invalid(_, validation) => Self {
                validation,
                ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_filter", message)
            },
            PlatformError::Unavailable(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

pub fn router(platform: Arc<Platform>, tokens: &[AdminToken], max_upload_bytes: usize) -> Router {
    let tokens = tokens
        .iter()
        .map(|t| (t.token.clone(), t.clone()))
        .collect();
    let state = AdminState {
        platform,
        tokens: Arc::new(tokens),
    };
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/v1/tenants", get(list_tenants))
        .route("/v1/tenants/{tenant}", get(get_tenant))
        .route(
            "/v1/tenants/{tenant}/versions",
            get(list_versions).post(upload),
        )
        .route("/v1/tenants/{tenant}/validate", post(validate))
        .route(
            "/v1/tenants/{tenant}/versions/{version}",
            axum::routing::delete(delete_version),
        )
        .route(
            "/v1/tenants/{tenant}/versions/{version}/activate",
            post(activate),
        )
        .route(
            "/v1/tenants/{tenant}/versions/{version}/dry-run",
            post(dry_run),
        )
        .route("/v1/tenants/{tenant}/rollback", post(rollback))
        .route(
            "/v1/tenants/{tenant}/shadow",
            put(shadow_start).get(shadow_report).delete(shadow_stop),
        )
        .route("/v1/audit", get(audit))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        // One byte over the limit is enough to tell an oversized upload.
        .layer(DefaultBodyLimit::max(max_upload_bytes + 1))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

impl AdminState {
    /// The caller, from `Authorization: Bearer`: 401 when missing or unknown.
    fn actor(&self, headers: &HeaderMap) -> ApiResult<Actor> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::bearer)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "missing bearer token",
                )
            })?;
        let found = self.tokens.get(token).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "unknown admin token",
            )
        })?;
        Ok(Actor {
            name: found.name.clone(),
            role: found.role,
            tenant: found.tenant.clone(),
        })
    }

    /// The caller, when it may act on `tenant`: 403 for another tenant's token.
    fn actor_for(&self, headers: &HeaderMap, tenant: &str) -> ApiResult<Actor> {
        let actor = self.actor(headers)?;
        match (actor.role, &actor.tenant) {
            (AdminRole::Operator, _) => Ok(actor),
            (AdminRole::Tenant, Some(own)) if own == tenant => Ok(actor),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("{} may not act on tenant {tenant}", actor.name),
            )),
        }
    }
}

/// A request to change a tenant's filters. Every one is audited: a change that happens by the
/// operation that makes it (with what it did), a refused one here, whatever refused it
/// (credentials, the body, the version named, the state of the tenant).
struct Change<'a> {
    state: &'a AdminState,
    tenant: &'a str,
    action: &'static str,
    /// The version the request names, as given.
    version: Option<&'a str>,
    /// Who asked, as the audit log names them: the token's name and role when it is known,
    /// even if it may not act on this tenant.
    who: (String, &'static str),
    actor: ApiResult<Actor>,
}

impl<'a> Change<'a> {
    fn new(
        state: &'a AdminState,
        headers: &HeaderMap,
        tenant: &'a str,
        action: &'static str,
        version: Option<&'a str>,
    ) -> Self {
        let who = match state.actor(headers) {
            Ok(actor) => (actor.name.clone(), actor.role_name()),
            Err(_) => ("(unauthenticated)".to_owned(), "none"),
        };
        Change {
            state,
            tenant,
            action,
            version,
            who,
            actor: state.actor_for(headers, tenant),
        }
    }

    /// Runs `operation` as the authorized actor; audits the refusal when it fails.
    async fn run(
        self,
        operation: impl AsyncFnOnce(Actor) -> ApiResult<Response>,
    ) -> ApiResult<Response> {
        let result = match self.actor {
            Ok(actor) => operation(actor).await,
            Err(error) => Err(error),
        };
        if let Err(error) = &result {
            let validated = error.validation.as_ref().map(|v| v.sha256.as_str());
            let (who, role) = &self.who;
            self.state.platform.audit_as(
                who,
                role,
                self.tenant,
                self.action,
                validated.or(self.version),
                "refused",
                Some(format!("{} ({})", error.message, error.status.as_u16())),
            );
        }
        result
    }
}

/// An upload's body, or 413 when it is over the limit.
fn body(body: Result<Bytes, BytesRejection>, limit: usize) -> ApiResult<Bytes> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the component is over the upload limit of {limit} bytes"),
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                rejection.body_text(),
            )
        }
    })?;
    if body.len() > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the component is over the upload limit of {limit} bytes"),
        ));
    }
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body is empty: send the component's bytes (curl --data-binary @filter.wasm)",
        ));
    }
    Ok(body)
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    body.map(|Json(value)| value).map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the request body is over the admin API's size limit",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                rejection.body_text(),
            )
        }
    })
}

/// Gives the API's error shape to refusals made before a handler ran (a method the path does
/// not take, a path segment that is not UTF-8), which the framework answers in plain text.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let text = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        s if s.is_server_error() => "unavailable",
        _ => "bad_request",
    };
    let message = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => "this path does not take that method".to_owned(),
        (_, true) => status.canonical_reason().unwrap_or("refused").to_owned(),
        (_, false) => text,
    };
    let body = Json(json!({ "error": code, "message": message }));
    let mut response = (status, body).into_response();
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

async fn list_tenants(State(state): State<AdminState>, headers: HeaderMap) -> ApiResult<Response> {
    let actor = state.actor(&headers)?;
    Ok(Json(state.platform.tenants(&actor)).into_response())
}

async fn get_tenant(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    state.actor_for(&headers, &tenant)?;
    Ok(Json(state.platform.tenant(&tenant)?).into_response())
}

async fn list_versions(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    state.actor_for(&headers, &tenant)?;
    Ok(Json(state.platform.versions(&tenant)?).into_response())
}

async fn upload(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let change = Change::new(&state, &headers, &tenant, "upload", None);
    change
        .run(async |actor| {
            let bytes = body(bytes, state.platform.config.admin.max_upload_bytes)?;
            let uploaded = state.platform.upload(&actor, &tenant, bytes).await?;
            Ok((StatusCode::CREATED, Json(uploaded)).into_response())
        })
        .await
}

async fn validate(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    state.actor_for(&headers, &tenant)?;
    let bytes = body(bytes, state.platform.config.admin.max_upload_bytes)?;
    Ok(Json(state.platform.validate(&tenant, bytes).await?).into_response())
}

async fn activate(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path((tenant, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let change = Change::new(&state, &headers, &tenant, "activate", Some(&version));
    change
        .run(async |actor| {
            let activation = state.platform.activate(&actor, &tenant, &version).await?;
            Ok(Json(activation).into_response())
        })
        .await
}

async fn rollback(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let change = Change::new(&state, &headers, &tenant, "rollback", None);
    change
        .run(
            async |actor| Ok(Json(state.platform.rollback(&actor, &tenant).await?).into_response()),
        )
        .await
}

async fn delete_version(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path((tenant, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let change = Change::new(&state, &headers, &tenant, "delete", Some(&version));
    change
        .run(async |actor| {
            state.platform.delete(&actor, &tenant, &version).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShadowRequest {
    version: String,
}

async fn shadow_start(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    request: Result<Json<ShadowRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let version = request.as_ref().ok().map(|r| r.version.clone());
    let change = Change::new(
        &state,
        &headers,
        &tenant,
        "shadow-start",
        version.as_deref(),
    );
    change
        .run(async |actor| {
            let request = json_body(request)?;
            let platform = &state.platform;
            let report = platform
                .shadow_start(&actor, &tenant, &request.version)
                .await?;
            Ok(Json(report).into_response())
        })
        .await
}

async fn shadow_report(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    state.actor_for(&headers, &tenant)?;
    Ok(Json(state.platform.shadow_report(&tenant).await?).into_response())
}

async fn shadow_stop(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let change = Change::new(&state, &headers, &tenant, "shadow-stop", None);
    change
        .run(async |actor| {
            Ok(Json(state.platform.shadow_stop(&actor, &tenant).await?).into_response())
        })
        .await
}

async fn dry_run(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path((tenant, version)): Path<(String, String)>,
    request: Result<Json<DryRunRequest>, JsonRejection>,
) -> ApiResult<Response> {
    state.actor_for(&headers, &tenant)?;
    let request = json_body(request)?;
    Ok(Json(state.platform.dry_run(&tenant, &version, request).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    tenant: Option<String>,
}

async fn audit(
    State(state): State<AdminState>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let actor = state.actor(&headers)?;
    let Query(query) =
        query.map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text()))?;
    let tenant = match (&actor.tenant, query.tenant) {
        (None, wanted) => wanted,
        (Some(own), None) => Some(own.clone()),
        (Some(own), Some(wanted)) if *own == wanted => Some(wanted),
        (Some(_), Some(wanted)) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "{} may not read the audit log of tenant {wanted}",
                    actor.name
                ),
            ))
        }
    };
    Ok(Json(state.platform.audit_log(tenant.as_deref())?).into_response())
}
