//! `/api/teams/{team}/keys`: a team's API keys. Secrets appear only in the creation response.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::CallerAndJson;
use super::pages::{self, Page};
use super::problem::{ApiQuery, Problem};
use crate::http::Management;
use crate::http::no_store;
use crate::manage::access::Caller;
use crate::manage::{self, ApiKeyView, CreatedKeyView, KeyAuthority, NewKeyRequest};
use crate::oauth::credentials::KeyEnv;
use crate::store::{ApiKeyCursor, ApiKeyOrder, ApiKeyQuery};

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
    /// Lifetime, such as `90d` or `12h`, at most `3650d` (10 years) [default: never expires].
    pub expires_in: Option<String>,
    /// A test key (`dh_test_…`, `env: test` in its tokens).
    #[serde(default)]
    pub test: bool,
    /// The longest the key's tokens live: seconds, or a duration such as `1h`; at least `1m`,
    /// at most the issuer's `token.ttl` [default: `token.ttl`].
    pub token_ttl: Option<Lifetime>,
    /// The key's token requests per second, 1 to 1000000
    /// [default: `rate_limit.token_requests_per_second`].
    pub token_requests_per_second: Option<u32>,
}

/// A token lifetime as the API takes it: whole seconds (as listings show it) or a duration.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Lifetime {
    /// Seconds, such as `3600`.
    Seconds(u64),
    /// A duration, such as `1h` or `90m`.
    Text(String),
}

impl Lifetime {
    fn duration(&self, field: &str) -> Result<Duration, Problem> {
        match self {
            Self::Seconds(secs) => Ok(Duration::from_secs(*secs)),
            Self::Text(text) => crate::config::duration::parse(text)
                .map_err(|e| Problem::bad_request(format!("{field}: {e}"))),
        }
    }
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
    State(state): State<Management>,
    Path(team): Path<String>,
    CallerAndJson(caller, body): CallerAndJson<NewKey>,
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
        token_ttl: body
            .token_ttl
            .map(|ttl| ttl.duration("token_ttl"))
            .transpose()?,
        token_requests_per_second: body.token_requests_per_second,
    };
    let created = manage::create_api_key(
        state.store.as_ref(),
        &caller.actor(),
        &state.config,
        request,
        state.clock.now(),
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
    /// Only keys created at least this long ago, such as `90d`: rotation candidates.
    pub older_than: Option<String>,
    /// Only keys that expire within this long, such as `7d` (and keys already expired).
    pub expiring_within: Option<String>,
}

/// Lists a team's keys, never their secrets.
#[utoipa::path(get, path = "/api/teams/{team}/keys", operation_id = "list_api_keys", tag = "api keys",
    params(("team" = String, Path, description = "Team slug"), KeyListParams),
    responses(
        (status = 200, description = "A page of keys", body = Page<ApiKeyView>),
        (status = 404, description = "No such team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["keys:read", "keys:write", "admin"])))]
pub async fn list(
    State(state): State<Management>,
    caller: Caller,
    Path(team): Path<String>,
    ApiQuery(params): ApiQuery<KeyListParams>,
) -> Result<Json<Page<ApiKeyView>>, Problem> {
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
    let span = |field: &str, text: Option<String>| {
        text.map(|t| crate::config::duration::parse(&t))
            .transpose()
            .map_err(|e| Problem::bad_request(format!("{field}: {e}")))
    };
    let now = state.clock.now();
    let (created_before, expiring_before) = manage::age_filters(
        now,
        span("older_than", params.older_than)?,
        span("expiring_within", params.expiring_within)?,
    )?;
    let query = ApiKeyQuery {
        order,
        after,
        unused_since: params.unused_since,
        created_before,
        expiring_before,
        limit: Some(limit + 1),
    };
    let rows = manage::list_api_keys(state.store.as_ref(), &team, &query).await?;
    caller.still_holds(&state.keys, state.clock.now()).await?;
    let page = pages::page(rows, limit, |key| {
        let at = match order {
            ApiKeyOrder::CreatedAt => Some(key.created_at),
            ApiKeyOrder::LastUsedAt => key.last_used_at,
        };
        pages::encode(listing, &(at, &key.client_id))
    });
    Ok(Json(page.map(|key| ApiKeyView::at(key, now))))
}

/// One of the team's keys.
#[utoipa::path(get, path = "/api/teams/{team}/keys/{client_id}", operation_id = "get_api_key", tag = "api keys",
    params(("team" = String, Path, description = "Team slug"), ("client_id" = String, Path, description = "Client ID")),
    responses(
        (status = 200, description = "The key", body = ApiKeyView),
        (status = 404, description = "No such key in this team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["keys:read", "keys:write", "admin"])))]
pub async fn get(
    State(state): State<Management>,
    caller: Caller,
    Path((team, client_id)): Path<(String, String)>,
) -> Result<Json<ApiKeyView>, Problem> {
    caller.may_read_keys(&team)?;
    let key = manage::get_api_key(state.store.as_ref(), &team, &client_id).await?;
    caller.still_holds(&state.keys, state.clock.now()).await?;
    Ok(Json(ApiKeyView::at(key, state.clock.now())))
}

/// What `PATCH /api/teams/{team}/keys/{client_id}` takes: the fields to change. A limit set
/// to `null` returns to the issuer's setting; a field left out stays as it is.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    /// A new label (at most 200 characters).
    pub label: Option<String>,
    /// The longest the key's tokens live (seconds or a duration such as `1h`), or `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Lifetime>)]
    pub token_ttl: Option<Option<Lifetime>>,
    /// The key's token requests per second, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub token_requests_per_second: Option<Option<u32>>,
}

/// A field that is present, even as `null`: `Some(None)`, where an absent one is `None`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Changes a key's label, token lifetime or rate. They apply from its next token request, on
/// every node; tokens already issued keep their lifetime.
#[utoipa::path(patch, path = "/api/teams/{team}/keys/{client_id}", operation_id = "update_api_key", tag = "api keys",
    params(("team" = String, Path, description = "Team slug"), ("client_id" = String, Path, description = "Client ID")),
    request_body = KeyPatch,
    responses(
        (status = 200, description = "The key as it now is", body = ApiKeyView),
        (status = 400, description = "Nothing to change, or an invalid label, lifetime or rate", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The key holds a scope this token does not hold", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such key in this team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["keys:write", "admin"])))]
pub async fn update(
    State(state): State<Management>,
    Path((team, client_id)): Path<(String, String)>,
    CallerAndJson(caller, body): CallerAndJson<KeyPatch>,
) -> Result<Json<ApiKeyView>, Problem> {
    caller.may_write_keys(&team)?;
    let token_ttl = match body.token_ttl {
        Some(Some(ttl)) => Some(Some(ttl.duration("token_ttl")?)),
        Some(None) => Some(None),
        None => None,
    };
    let update = manage::KeyUpdate {
        label: body.label,
        token_ttl,
        token_requests_per_second: body.token_requests_per_second,
    };
    let now = state.clock.now();
    let key = manage::update_api_key(
        state.store.as_ref(),
        &caller.actor(),
        KeyAuthority::Caller {
            caller: &caller,
            team: &team,
        },
        &state.config,
        &client_id,
        update,
        now,
    )
    .await?;
    // New limits waited for the token path's leases after the commit (as a roll does).
    caller.still_holds(&state.keys, state.clock.now()).await?;
    Ok(Json(ApiKeyView::at(key, now)))
}

/// Deletes a key: its next token request is refused, on every node; tokens already issued
/// stay valid until they expire.
#[utoipa::path(delete, path = "/api/teams/{team}/keys/{client_id}", operation_id = "delete_api_key", tag = "api keys",
    params(("team" = String, Path, description = "Team slug"), ("client_id" = String, Path, description = "Client ID")),
    responses(
        (status = 204, description = "Deleted: from now on no token is signed for the key, on any node"),
        (status = 403, description = "The key holds a scope this token does not hold", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such key in this team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["keys:write", "admin"])))]
pub async fn delete(
    State(state): State<Management>,
    caller: Caller,
    Path((team, client_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    caller.may_write_keys(&team)?;
    manage::delete_api_key(
        state.store.as_ref(),
        &caller.actor(),
        KeyAuthority::Caller {
            caller: &caller,
            team: &team,
        },
        &client_id,
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
