//! The management API: teams, API keys, signing keys and the audit log over HTTP, for admins
//! and automation. Callers authenticate with tokenmint's own access tokens (see `auth`); what
//! each may do is [`crate::manage::access`]'s to say. Errors are RFC 9457 problem documents.
//!
//! - [`teams`]: `/api/teams` (admin).
//! - [`keys`]: `/api/teams/{team}/keys` (the team's `keys:read`/`keys:write`, or admin).
//! - [`roll`]: `/api/teams/{team}/keys/{client_id}/roll` and `…/previous-secret`.
//! - [`audit`]: `/api/teams/{team}/audit`, `/api/admin/audit`.
//! - [`signing_keys`]: `/api/admin/signing-keys` (admin).
//! - [`webhooks`]: `/api/teams/{team}/webhook-secret` (`webhooks:read`/`webhooks:write`) and
//!   `/api/teams/{team}/webhooks/sign` (`webhooks:sign`), or admin.
//! - [`pages`]: keyset pagination with opaque cursors.
//! - [`problem`]: problem documents and the extractors that reject with them.

pub mod audit;
mod auth;
pub mod keys;
pub mod pages;
pub mod problem;
pub mod roll;
pub mod signing_keys;
pub mod teams;
pub mod webhooks;

pub use problem::ProblemBody;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

/// Every management route with its OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(teams::create, teams::list))
        .routes(routes!(teams::get))
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::get, keys::update, keys::delete))
        .routes(routes!(roll::roll))
        .routes(routes!(roll::finish))
        .routes(routes!(audit::team))
        .routes(routes!(audit::all))
        .routes(routes!(signing_keys::list))
        .routes(routes!(signing_keys::rotate))
        .routes(routes!(signing_keys::revoke))
        .routes(routes!(webhooks::reveal))
        .routes(routes!(webhooks::rotate))
        .routes(routes!(webhooks::revoke_previous))
        .routes(routes!(webhooks::sign))
}
