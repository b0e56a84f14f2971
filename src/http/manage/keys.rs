//! `/api/teams/{team}/keys`: a team's API keys. Secrets appear only in the creation response.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::pages::{self, Page};
use super::problem::{ApiJson, ApiQuery, Problem};
use crate::http::AppState;
use crate::http::errors::no_store;
use crate::manage::access::Caller;
use crate::manage::{self, CreatedKeyView, NewKeyRequest};
use crate::oauth::credentials::KeyEnv;
use crate::store::{ApiKey, ApiKeyCursor, ApiKeyOrder, ApiKeyQuery};

/// What `POST /api/teams/{team}/keys` takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for, such as `ci-pipeline` (at most 200 characters).
    pub label: String,
    /// Scopes from the catalog, or management scopes the caller holds itself
    /// [default: the whole catalog, never a management scope].
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Lifetime, such as `90d` or `12h` [default: never expires].
    pub expires_in: Option<String>,
    /// A test key (`dh_test_…`, `env: test` in its tokens).
    #[serde(default)]
    pub test: bool,
}

/// Creates an API key. The response holds the secret, this once.
#[utoipa::path(post, path = "/api/teams/{team}/keys", operation_id = "create_api_key", tag = "api keys", request_body = NewKey,
    params(("team" = String, Path, description = "Team slug")),
    responses(
        (status = 201, description = "The key and its secret, shown this once", body = CreatedKeyView,
            headers(("location" = String, description = "The key's URL"))),
        (status = 400, description = "Invalid label, scope or lifetime", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["keys:write", "admin"])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(team): Path<String>,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<Response, Problem> {
    caller.may_write_keys(&team)?;
    caller.may_grant(&body.scopes)?;
    let expires_in = body
        .expires_in
        .as_deref()
        .map(crate::config::duration::parse)
        .transpose()
        .map_err(|e| Problem::bad_request(format!("expires_in: {e}")))?;
    let request = NewKeyRequest {
        team,
        label: body.label,
        scopes: body.scopes,
        expires_in,
        env: if body.test {
            KeyEnv::Test
        } else {
            KeyEnv::Live
        },
    };
    let created = manage::create_api_key(
        state.store.as_ref(),
        &caller.actor(),
        &state.config,
        request,
        crate::store::now(),
    )
    .await?;
    let view: CreatedKeyView<'_> = created.view();
    let location = format!("/api/teams/{}/keys/{}", view.team, view.client_id);
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    no_store(&mut response);
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The order of a key listing.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeySort {
    /// Oldest first.
    #[default]
    CreatedAt,
    /// Idle keys first: never used, then least recently used.
    LastUsedAt,
}

/// `GET /api/teams/{team}/keys` parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KeyListParams {
    /// Rows per page, 1 to 200 [default: 50].
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `created_at` (oldest first) or `last_used_at` (idle keys first).
    pub sort: Option<KeySort>,
    /// Only keys never used, or last used before this time (RFC 3339).
    pub unused_since: Option<DateTime<Utc>>,
}

/// Lists a team's keys, never their secrets.
#[utoipa::path(get, path = "/api/teams/{team}/keys", operation_id = "list_api_keys", tag = "api keys",
    params(("team" = String, Path, description = "Team slug"), KeyListParams),
    responses(
        (status = 200, description = "A page of keys", body = Page<ApiKey>),
        (status = 404, description = "No such team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["keys:read", "keys:write", "admin"])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(team): Path<String>,
    ApiQuery(params): ApiQuery<KeyListParams>,
) -> Result<Json<Page<ApiKey>>, Problem> {
    caller.may_read_keys(&team)?;
    let limit = pages::limit(params.limit)?;
    let sort = params.sort.unwrap_or_default();
    let (order, listing) = match sort {
        KeySort::CreatedAt => (ApiKeyOrder::CreatedAt, "keys:created_at"),
        KeySort::LastUsedAt => (ApiKeyOrder::LastUsedAt, "keys:last_used_at"),
    };
    let after = params
        .cursor
        .map(|c| pages::decode::<(Option<DateTime<Utc>>, String)>(listing, &c))
        .transpose()?
        .map(|(at, client_id)| ApiKeyCursor { at, client_id });
    let query = ApiKeyQuery {
        order,
        after,
        unused_since: params.unused_since,
        limit: Some(limit + 1),
    };
    let rows = manage::list_api_keys(state.store.as_ref(), &team, &query).await?;
    Ok(Json(pages::page(rows, limit, |key| {
        let at = match order {
            ApiKeyOrder::CreatedAt => Some(key.created_at),
            ApiKeyOrder::LastUsedAt => key.last_used_at,
        };
        pages::encode(listing, &(at, &key.client_id))
    })))
}

/// One of the team's keys.
#[utoipa::path(get, path = "/api/teams/{team}/keys/{client_id}", operation_id = "get_api_key", tag = "api keys",
    params(("team" = String, Path, description = "Team slug"), ("client_id" = String, Path, description = "Client ID")),
    responses(
        (status = 200, description = "The key", body = ApiKey),
        (status = 404, description = "No such key in this team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["keys:read", "keys:write", "admin"])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((team, client_id)): Path<(String, String)>,
) -> Result<Json<ApiKey>, Problem> {
    caller.may_read_keys(&team)?;
    Ok(Json(
        manage::get_api_key(state.store.as_ref(), &team, &client_id).await?,
    ))
}

/// Deletes a key: its next token request is refused, on every node; tokens already issued
/// stay valid until they expire.
#[utoipa::path(delete, path = "/api/teams/{team}/keys/{client_id}", operation_id = "delete_api_key", tag = "api keys",
    params(("team" = String, Path, description = "Team slug"), ("client_id" = String, Path, description = "Client ID")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such key in this team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["keys:write", "admin"])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((team, client_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    caller.may_write_keys(&team)?;
    manage::delete_api_key(
        state.store.as_ref(),
        &caller.actor(),
        Some(&team),
        &client_id,
        crate::store::now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
