//! The audit log over HTTP: a team's events, or every event (admin).

use axum::Json;
use axum::extract::{Path, State};

use super::pages::{self, Page, PageParams};
use super::problem::{ApiQuery, Problem};
use crate::http::Management;
use crate::manage::AuditEventView;
use crate::manage::{self, access::Caller};
use crate::store::AuditQuery;

/// A team's audit events, newest first.
#[utoipa::path(get, path = "/api/teams/{team}/audit", operation_id = "list_team_audit", tag = "audit",
    params(("team" = String, Path, description = "Team slug"), PageParams),
    responses(
        (status = 200, description = "A page of events", body = Page<AuditEventView>),
        (status = 404, description = "No such team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["keys:read", "keys:write", "admin"])))]
pub async fn team(
    State(state): State<Management>,
    caller: Caller,
    Path(team): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<AuditEventView>>, Problem> {
    caller.may_read_keys(&team)?;
    events(&state, &caller, Some(team), params).await
}

/// Every audit event, newest first: teams, API keys, signing keys and the master key.
#[utoipa::path(get, path = "/api/admin/audit", operation_id = "list_audit", tag = "audit", params(PageParams),
    responses((status = 200, description = "A page of events", body = Page<AuditEventView>)),
    security(("bearer" = ["admin"])))]
pub async fn all(
    State(state): State<Management>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<AuditEventView>>, Problem> {
    caller.may_administer()?;
    events(&state, &caller, None, params).await
}

async fn events(
    state: &Management,
    caller: &Caller,
    team: Option<String>,
    params: PageParams,
) -> Result<Json<Page<AuditEventView>>, Problem> {
    let limit = pages::limit(params.limit)?;
    let before_id: Option<i64> = params
        .cursor
        .map(|c| pages::decode("audit", &c))
        .transpose()?;
    let query = AuditQuery {
        team,
        before_id,
        limit: Some(limit + 1),
    };
    let rows = manage::list_audit(state.store.as_ref(), &query).await?;
    caller.still_holds(&state.keys, state.clock.now()).await?;
    let page = pages::page(rows, limit, |e| pages::encode("audit", &e.id));
    Ok(Json(page.map(AuditEventView::from)))
}
