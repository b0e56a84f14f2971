//! The OpenAPI 3.1 document of every route, generated from the handlers' annotations and served
//! at `/openapi.json`. Routes are registered through utoipa-axum together with their
//! descriptions, so the document lists exactly the routes the server answers.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{self, ContentBuilder, OpenApi, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi as _};

use super::Documents;
use super::errors::OAuthErrorBody;
use super::management::ProblemBody;
use crate::config::Config;

/// The document's fixed parts; the paths come from the router.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "tokenmint",
        description = "An OAuth 2.0 client-credentials token issuer: API keys in, RFC 9068 JWT \
            access tokens out, signing keys published as a JWKS. The management API under \
            /api/teams and /api/admin takes tokenmint's own access tokens, issued for the \
            issuer's audience (resource = the issuer URL)."
    ),
    // Schemas used only in parameters are not collected from the handlers: named here.
    components(schemas(ProblemBody, OAuthErrorBody, super::management::keys::KeySort)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "oauth", description = "The token endpoint (RFC 6749 §4.4)"),
        (name = "discovery", description = "JWKS and authorization server metadata"),
        (name = "teams"), (name = "api keys"), (name = "signing keys"), (name = "audit"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// `client_secret_basic` for the token endpoint, Bearer JWTs for the management API.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token of this issuer for its own audience"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client_secret_basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// The errors every management operation can answer, added once here rather than on each
/// (by [`render`]: modifiers of the derive run before the routes add their paths).
struct ManagementErrors;

impl Modify for ManagementErrors {
    fn modify(&self, doc: &mut OpenApi) {
        let common = [
            ("400", "Malformed request (problem document)"),
            (
                "401",
                "No token, or an invalid, expired or foreign one (RFC 6750 §3.1)",
            ),
            (
                "403",
                "The token lacks the scope, or is for another team (insufficient_scope)",
            ),
            (
                "503",
                "The database is unavailable; retry after Retry-After",
            ),
        ];
        for (path, item) in doc.paths.paths.iter_mut() {
            if !super::errors::is_management_path(path) {
                continue;
            }
            for operation in operations(item) {
                for (status, description) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::T(problem_response(description)));
                }
            }
        }
    }
}

fn operations(item: &mut openapi::PathItem) -> impl Iterator<Item = &mut openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.post.as_mut(),
        item.put.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn problem_response(description: &str) -> openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            super::management::problem::PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(openapi::Ref::from_schema_name("ProblemBody")))
                .build(),
        )
        .build()
}

/// The document as served: the routes' paths, and this issuer as its server.
pub fn render(mut doc: OpenApi, config: &Config) -> Bytes {
    ManagementErrors.modify(&mut doc);
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.servers = Some(vec![openapi::server::Server::new(config.issuer_base())]);
    #[allow(clippy::expect_used)]
    let json = doc
        .to_json()
        .expect("invariant: the OpenAPI document is plain data and serializes");
    Bytes::from(json)
}

/// The fixed parts of the document, before the routes add their paths.
pub fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// `GET /openapi.json`: this document.
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn document(State(documents): State<Documents>) -> Response {
    let headers = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    (headers, documents.openapi).into_response()
}
