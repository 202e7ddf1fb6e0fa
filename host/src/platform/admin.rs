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
            "the body must be the component's bytes (Content-Type: application/wasm)",
        ));
    }
    Ok(body)
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    body.map(|Json(value)| value).map_err(|rejection| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            rejection.body_text(),
        )
    })
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
    let actor = state.actor_for(&headers, &tenant)?;
    let limit = state.platform.config.admin.max_upload_bytes;
    let bytes = body(bytes, limit)?;
    let uploaded = state.platform.upload(&actor, &tenant, bytes).await?;
    Ok((StatusCode::CREATED, Json(uploaded)).into_response())
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
    let actor = state.actor_for(&headers, &tenant)?;
    Ok(Json(state.platform.activate(&actor, &tenant, &version).await?).into_response())
}

async fn rollback(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let actor = state.actor_for(&headers, &tenant)?;
    Ok(Json(state.platform.rollback(&actor, &tenant).await?).into_response())
}

async fn delete_version(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path((tenant, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let actor = state.actor_for(&headers, &tenant)?;
    state.platform.delete(&actor, &tenant, &version).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
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
    let actor = state.actor_for(&headers, &tenant)?;
    let request = json_body(request)?;
    Ok(Json(
        state
            .platform
            .shadow_start(&actor, &tenant, &request.version)
            .await?,
    )
    .into_response())
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
    let actor = state.actor_for(&headers, &tenant)?;
    Ok(Json(state.platform.shadow_stop(&actor, &tenant).await?).into_response())
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
