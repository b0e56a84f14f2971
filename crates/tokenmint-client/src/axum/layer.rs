//! The tower layers: [`AuthLayer`] verifies, [`RequireLayer`] guards a scope or a team.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::response::Response;
use tower_layer::Layer;
use tower_service::Service;

use super::{AuthError, Authenticated, DEFAULT_REALM};
use crate::error::VerifyError;
use crate::verifier::Verifier;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Verifies the bearer token of each request (RFC 6750 §2.1) with a [`Verifier`].
#[derive(Debug, Clone)]
pub struct AuthLayer {
    verifier: Verifier,
    realm: Arc<str>,
}

impl AuthLayer {
    /// A layer checking tokens with `verifier`; challenges name the realm `api`.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            realm: DEFAULT_REALM.into(),
        }
    }

    /// The realm named in `WWW-Authenticate` challenges.
    pub fn realm(mut self, realm: &str) -> Self {
        self.realm = realm.into();
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;
    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AuthLayer`] makes.
#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S> Service<Request> for Auth<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone that was polled ready serves this request (tower's documented pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let checked = match bearer(&request) {
                Ok(token) => layer.verifier.verify(token).await,
                Err(e) => Err(e),
            };
            match checked {
                Ok(claims) => {
                    request.extensions_mut().insert(Authenticated(claims));
                    request
                        .extensions_mut()
                        .insert(Realm(Arc::clone(&layer.realm)));
                    inner.call(request).await
                }
                Err(error) => {
                    tracing::debug!(%error, "bearer token refused");
                    Ok(AuthError::Token(error).into_response_with_realm(&layer.realm))
                }
            }
        })
    }
}

/// RFC 6750 §2.1: exactly one `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(request: &Request) -> Result<&str, VerifyError> {
    let mut values = request.headers().get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(VerifyError::Missing);
    };
    let value = value
        .to_str()
        .map_err(|_| VerifyError::Malformed("not ASCII".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => Err(VerifyError::Missing),
    }
}

/// The realm of the [`AuthLayer`] that let a request in, for the guards' challenges.
#[derive(Clone)]
struct Realm(Arc<str>);

/// What a [`RequireLayer`] insists on.
#[derive(Debug, Clone)]
enum Requirement {
    Scope(Arc<str>),
    Team(Arc<str>),
}

/// A layer that lets through only requests whose verified token holds a scope
/// ([`require_scope`]) or belongs to a team ([`require_team`]); it must sit inside an
/// [`AuthLayer`] (use `route_layer` for it, `layer` for the `AuthLayer`).
#[derive(Debug, Clone)]
pub struct RequireLayer {
    requirement: Requirement,
}

/// 403 `insufficient_scope` (naming `scope`) for a valid token without `scope`.
pub fn require_scope(scope: &str) -> RequireLayer {
    RequireLayer {
        requirement: Requirement::Scope(scope.into()),
    }
}

/// 403 for a valid token of another team than `team`.
pub fn require_team(team: &str) -> RequireLayer {
    RequireLayer {
        requirement: Requirement::Team(team.into()),
    }
}

impl<S> Layer<S> for RequireLayer {
    type Service = Require<S>;
    fn layer(&self, inner: S) -> Require<S> {
        Require {
            inner,
            requirement: self.requirement.clone(),
        }
    }
}

/// The service [`RequireLayer`] makes.
#[derive(Debug, Clone)]
pub struct Require<S> {
    inner: S,
    requirement: Requirement,
}

impl<S> Service<Request> for Require<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let verdict = match request.extensions().get::<Authenticated>() {
            None => Err(AuthError::LayerMissing),
            Some(auth) => match &self.requirement {
                Requirement::Scope(scope) => auth.require_scope(scope),
                Requirement::Team(team) => auth.require_team(team),
            },
        };
        match verdict {
            Ok(()) => {
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                Box::pin(async move { inner.call(request).await })
            }
            Err(refusal) => {
                let realm = request
                    .extensions()
                    .get::<Realm>()
                    .map(|r| Arc::clone(&r.0));
                let realm = realm.unwrap_or_else(|| DEFAULT_REALM.into());
                Box::pin(async move { Ok(refusal.into_response_with_realm(&realm)) })
            }
        }
    }
}
