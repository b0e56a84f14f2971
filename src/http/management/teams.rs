//! `/api/teams`: creating and listing teams (admin).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::CallerAndJson;
use super::pages::{self, Page, PageParams};
use super::problem::{ApiQuery, Problem};
use crate::http::Management;
use crate::manage::TeamView;
use crate::manage::{self, access::Caller};

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
        (status = 201, description = "The team", body = TeamView),
        (status = 400, description = "Invalid slug or name", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The slug is taken", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["admin"])))]
pub async fn create(
    State(state): State<Management>,
    CallerAndJson(caller, body): CallerAndJson<NewTeam>,
) -> Result<(StatusCode, Json<TeamView>), Problem> {
    caller.may_administer()?;
    let team = manage::create_team(
        state.store.as_ref(),
        &caller.actor(),
        &body.slug,
        body.name.as_deref(),
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

/// Lists teams by slug.
#[utoipa::path(get, path = "/api/teams", operation_id = "list_teams", tag = "teams", params(PageParams),
    responses((status = 200, description = "A page of teams", body = Page<TeamView>)),
    security(("bearer" = ["admin"])))]
pub async fn list(
    State(state): State<Management>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<TeamView>>, Problem> {
    caller.may_administer()?;
    let limit = pages::limit(params.limit)?;
    let after: Option<String> = params
        .cursor
        .map(|c| pages::decode("teams", &c))
        .transpose()?;
    let rows = manage::list_teams(state.store.as_ref(), after.as_deref(), Some(limit + 1)).await?;
    caller.still_holds(&state.keys, state.clock.now()).await?;
    let page = pages::page(rows, limit, |t| pages::encode("teams", &t.slug));
    Ok(Json(page.map(TeamView::from)))
}

/// One team: an admin sees any, a `keys:read` or `keys:write` token its own.
#[utoipa::path(get, path = "/api/teams/{team}", operation_id = "get_team", tag = "teams",
    params(("team" = String, Path, description = "Team slug")),
    responses(
        (status = 200, description = "The team", body = TeamView),
        (status = 404, description = "No such team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["admin", "keys:read", "keys:write"])))]
pub async fn get(
    State(state): State<Management>,
    caller: Caller,
    Path(team): Path<String>,
) -> Result<Json<TeamView>, Problem> {
    caller.may_read_keys(&team)?;
    let found = manage::get_team(state.store.as_ref(), &team).await?;
    caller.still_holds(&state.keys, state.clock.now()).await?;
    Ok(Json(found.into()))
}
