//! `/api/teams`: creating and listing teams (admin).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::pages::{self, Page, PageParams};
use super::problem::{ApiJson, ApiQuery, Problem};
use crate::http::AppState;
use crate::manage::{self, access::Caller};
use crate::store::Team;

/// What `POST /api/teams` takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    /// Immutable: 1 to 63 characters of a-z, 0-9 and -.
    pub slug: String,
    /// Display name [default: the slug].
    pub name: Option<String>,
}

/// Creates a team.
#[utoipa::path(post, path = "/api/teams", operation_id = "create_team", tag = "teams", request_body = NewTeam,
    responses(
        (status = 201, description = "The team", body = Team),
        (status = 400, description = "Invalid slug or name", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The slug is taken", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["admin"])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewTeam>,
) -> Result<(StatusCode, Json<Team>), Problem> {
    caller.may_administer()?;
    let team = manage::create_team(
        state.store.as_ref(),
        &caller.actor(),
        &body.slug,
        body.name.as_deref(),
        crate::store::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(team)))
}

/// Lists teams by slug.
#[utoipa::path(get, path = "/api/teams", operation_id = "list_teams", tag = "teams", params(PageParams),
    responses((status = 200, description = "A page of teams", body = Page<Team>)),
    security(("bearer" = ["admin"])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<Team>>, Problem> {
    caller.may_administer()?;
    let limit = pages::limit(params.limit)?;
    let after: Option<String> = params
        .cursor
        .map(|c| pages::decode("teams", &c))
        .transpose()?;
    let rows = manage::list_teams(state.store.as_ref(), after.as_deref(), Some(limit + 1)).await?;
    Ok(Json(pages::page(rows, limit, |t| {
        pages::encode("teams", &t.slug)
    })))
}

/// One team: an admin sees any, a `keys:read` or `keys:write` token its own.
#[utoipa::path(get, path = "/api/teams/{team}", operation_id = "get_team", tag = "teams",
    params(("team" = String, Path, description = "Team slug")),
    responses(
        (status = 200, description = "The team", body = Team),
        (status = 404, description = "No such team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["admin", "keys:read", "keys:write"])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(team): Path<String>,
) -> Result<Json<Team>, Problem> {
    caller.may_read_keys(&team)?;
    Ok(Json(manage::get_team(state.store.as_ref(), &team).await?))
}
