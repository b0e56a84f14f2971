//! The SQL both backends run, written once.
//!
//! `impl_store!` expands to the [`Store`](super::Store) implementation for a backend type that
//! has a `pool` field. It is a macro rather than a generic impl because sqlx's per-database
//! trait bounds make a generic version far harder to read than the SQL it would hide. The SQL
//! uses `$N` placeholders, which both SQLite and PostgreSQL accept.

/// Row shape of `api_keys` as read for listings.
#[derive(sqlx::FromRow)]
pub(super) struct ApiKeyRow {
    pub client_id: String,
    pub team_slug: String,
    pub label: String,
    pub env: String,
    pub scopes: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The token path's one read: everything needed to authenticate a client and shape its token.
pub(super) const CREDENTIAL_SQL: &str = "SELECT client_id, team_slug, env, scopes, secret_hash, \
     expires_at FROM api_keys WHERE client_id = $1";

/// Row shape of `api_keys` as read by the token endpoint.
#[derive(sqlx::FromRow)]
pub(super) struct CredentialRow {
    pub client_id: String,
    pub team_slug: String,
    pub env: String,
    pub scopes: String,
    pub secret_hash: String,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<ApiKeyRow> for super::ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            env: env_of(&row.env),
            scopes: super::split_scopes(&row.scopes),
            client_id: row.client_id,
            team: row.team_slug,
            label: row.label,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
        }
    }
}

impl From<CredentialRow> for super::StoredCredential {
    fn from(row: CredentialRow) -> Self {
        Self {
            env: env_of(&row.env),
            scopes: super::split_scopes(&row.scopes),
            client_id: row.client_id,
            team: row.team_slug,
            secret_hash: row.secret_hash,
            expires_at: row.expires_at,
        }
    }
}

/// Row shape of `audit_events`.
#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub action: String,
    pub team_slug: Option<String>,
    pub target: String,
    pub source_ip: Option<String>,
    pub detail: String,
}

impl From<AuditRow> for super::AuditEvent {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            event: super::NewAuditEvent {
                at: row.at,
                actor: row.actor,
                action: row.action,
                team: row.team_slug,
                target: row.target,
                source_ip: row.source_ip,
                detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
            },
        }
    }
}

/// The columns of an API-key listing.
pub(super) const API_KEY_COLUMNS: &str = "SELECT client_id, team_slug, label, env, scopes, \
     created_at, expires_at, last_used_at FROM api_keys";

/// The `env` column holds `live` or `test` (a CHECK constraint says so).
fn env_of(text: &str) -> crate::oauth::credentials::KeyEnv {
    crate::oauth::credentials::KeyEnv::parse(text)
        .unwrap_or(crate::oauth::credentials::KeyEnv::Live)
}

/// Maps a unique or foreign-key violation to the store's own error; other errors pass through.
pub(super) fn constraint_error(error: sqlx::Error, what: &str, parent: &str) -> super::StoreError {
    if let sqlx::Error::Database(db) = &error {
        match db.kind() {
            sqlx::error::ErrorKind::UniqueViolation => {
                return super::StoreError::Conflict(what.to_string());
            }
            sqlx::error::ErrorKind::ForeignKeyViolation => {
                return super::StoreError::NotFound(parent.to_string());
            }
            _ => {}
        }
    }
    error.into()
}

macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Appends an audit event inside the caller's transaction.
            async fn record_audit(
                tx: &mut sqlx::Transaction<'_, $db>,
                event: &$crate::store::NewAuditEvent,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO audit_events (at, actor, action, team_slug, target, source_ip, \
                     detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(event.at)
                .bind(&event.actor)
                .bind(&event.action)
                .bind(&event.team)
                .bind(&event.target)
                .bind(&event.source_ip)
                .bind(event.detail.to_string())
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_team(
                &self,
                team: &$crate::store::Team,
                audit: &$crate::store::NewAuditEvent,
            ) -> Result<(), $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("INSERT INTO teams (slug, name, created_at) VALUES ($1, $2, $3)")
                    .bind(&team.slug)
                    .bind(&team.name)
                    .bind(team.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| $crate::store::sql::constraint_error(e, &format!("team {}", team.slug), "team"))?;
                Self::record_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn teams(
                &self,
                after: Option<&str>,
                limit: Option<u32>,
            ) -> Result<Vec<$crate::store::Team>, $crate::store::StoreError> {
                let mut sql = sqlx::QueryBuilder::<$db>::new("SELECT slug, name, created_at FROM teams");
                if let Some(after) = after {
                    sql.push(" WHERE slug > ").push_bind(after.to_string());
                }
                sql.push(" ORDER BY slug");
                if let Some(limit) = limit {
                    sql.push(" LIMIT ").push_bind(i64::from(limit));
                }
                Ok(sql.build_query_as().fetch_all(&self.pool).await?)
            }

            async fn team(&self, slug: &str) -> Result<Option<$crate::store::Team>, $crate::store::StoreError> {
                Ok(sqlx::query_as("SELECT slug, name, created_at FROM teams WHERE slug = $1")
                    .bind(slug)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn insert_api_key(
                &self,
                key: &$crate::store::NewApiKey,
                audit: &$crate::store::NewAuditEvent,
            ) -> Result<(), $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO api_keys (client_id, team_slug, label, env, scopes, secret_hash, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&key.client_id)
                .bind(&key.team)
                .bind(&key.label)
                .bind(key.env.as_str())
                .bind($crate::store::join_scopes(&key.scopes))
                .bind(&key.secret_hash)
                .bind(key.created_at)
                .bind(key.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    $crate::store::sql::constraint_error(e, "client id", &format!("team {}", key.team))
                })?;
                Self::record_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn api_keys(
                &self,
                team: &str,
                query: &$crate::store::ApiKeyQuery,
            ) -> Result<Vec<$crate::store::ApiKey>, $crate::store::StoreError> {
                use $crate::store::ApiKeyOrder;
                let mut sql = sqlx::QueryBuilder::<$db>::new($crate::store::sql::API_KEY_COLUMNS);
                sql.push(" WHERE team_slug = ").push_bind(team.to_string());
                if let Some(since) = query.unused_since {
                    sql.push(" AND (last_used_at IS NULL OR last_used_at < ").push_bind(since).push(")");
                }
                // Keyset pagination: rows strictly after the cursor in the listing's order.
                match (query.order, &query.after) {
                    (_, None) => {}
                    (ApiKeyOrder::CreatedAt, Some(after)) => {
                        sql.push(" AND (created_at > ").push_bind(after.at)
                            .push(" OR (created_at = ").push_bind(after.at)
                            .push(" AND client_id > ").push_bind(after.client_id.clone()).push("))");
                    }
                    (ApiKeyOrder::LastUsedAt, Some(after)) => match after.at {
                        None => {
                            sql.push(" AND (last_used_at IS NOT NULL OR client_id > ")
                                .push_bind(after.client_id.clone()).push(")");
                        }
                        Some(at) => {
                            sql.push(" AND last_used_at IS NOT NULL AND (last_used_at > ").push_bind(at)
                                .push(" OR (last_used_at = ").push_bind(at)
                                .push(" AND client_id > ").push_bind(after.client_id.clone()).push("))");
                        }
                    },
                }
                sql.push(match query.order {
                    ApiKeyOrder::CreatedAt => " ORDER BY created_at, client_id",
                    // false sorts before true on both backends: never-used keys first.
                    ApiKeyOrder::LastUsedAt => " ORDER BY last_used_at IS NOT NULL, last_used_at, client_id",
                });
                if let Some(limit) = query.limit {
                    sql.push(" LIMIT ").push_bind(i64::from(limit));
                }
                let rows: Vec<$crate::store::sql::ApiKeyRow> =
                    sql.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn api_key(
                &self,
                client_id: &str,
            ) -> Result<Option<$crate::store::ApiKey>, $crate::store::StoreError> {
                let sql = format!("{} WHERE client_id = $1", $crate::store::sql::API_KEY_COLUMNS);
                let row: Option<$crate::store::sql::ApiKeyRow> = sqlx::query_as(&sql)
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(Into::into))
            }

            async fn credential(
                &self,
                client_id: &str,
            ) -> Result<Option<$crate::store::StoredCredential>, $crate::store::StoreError> {
                // Each backend reads this its own fastest way; see `find_credential`.
                self.find_credential(client_id).await
            }

            async fn delete_api_key(
                &self,
                client_id: &str,
                team: &str,
                audit: &$crate::store::NewAuditEvent,
            ) -> Result<bool, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query("DELETE FROM api_keys WHERE client_id = $1 AND team_slug = $2")
                    .bind(client_id)
                    .bind(team)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                Self::record_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn record_last_used(
                &self,
                uses: &[(String, chrono::DateTime<chrono::Utc>)],
            ) -> Result<(), $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                for (client_id, at) in uses {
                    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE client_id = $2")
                        .bind(at)
                        .bind(client_id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn signing_epoch(&self) -> Result<i64, $crate::store::StoreError> {
                let (epoch,): (i64,) = sqlx::query_as("SELECT epoch FROM signing_epoch WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(epoch)
            }

            async fn signing_keys(&self) -> Result<$crate::store::SigningKeySet, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                let (epoch, master_key_check): (i64, Option<String>) =
                    sqlx::query_as("SELECT epoch, master_key_check FROM signing_epoch WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await?;
                let keys = sqlx::query_as(
                    "SELECT kid, alg, public_jwk, sealed_private, created_at, activates_at, \
                     revoked_at FROM signing_keys ORDER BY activates_at, created_at, kid",
                )
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok($crate::store::SigningKeySet { epoch, keys, master_key_check })
            }

            async fn apply_signing_changes(
                &self,
                expected_epoch: i64,
                changes: &[$crate::store::SigningKeyChange],
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::SigningKeyChange as Change;
                let mut tx = self.pool.begin().await?;
                // Compare-and-swap on the epoch: the UPDATE takes the row's write lock, so of two
                // writers that read the same epoch exactly one matches and the other changes nothing.
                let moved = sqlx::query("UPDATE signing_epoch SET epoch = epoch + 1 WHERE id = 1 AND epoch = $1")
                    .bind(expected_epoch)
                    .execute(&mut *tx)
                    .await?;
                if moved.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                for change in changes {
                    let query = match change {
                        Change::Insert(key) => sqlx::query(
                            "INSERT INTO signing_keys (kid, alg, public_jwk, sealed_private, \
                             created_at, activates_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        )
                        .bind(&key.kid)
                        .bind(&key.alg)
                        .bind(&key.public_jwk)
                        .bind(&key.sealed_private)
                        .bind(key.created_at)
                        .bind(key.activates_at)
                        .bind(key.revoked_at),
                        Change::Activate { kid, at } => {
                            sqlx::query("UPDATE signing_keys SET activates_at = $1 WHERE kid = $2")
                                .bind(at)
                                .bind(kid)
                        }
                        Change::Revoke { kid, at } => sqlx::query(
                            "UPDATE signing_keys SET revoked_at = $1, sealed_private = NULL WHERE kid = $2",
                        )
                        .bind(at)
                        .bind(kid),
                        Change::ForgetPrivate { kid } => {
                            sqlx::query("UPDATE signing_keys SET sealed_private = NULL WHERE kid = $1").bind(kid)
                        }
                        Change::Delete { kid } => {
                            sqlx::query("DELETE FROM signing_keys WHERE kid = $1").bind(kid)
                        }
                        Change::Reseal { kid, sealed } => {
                            sqlx::query("UPDATE signing_keys SET sealed_private = $1 WHERE kid = $2")
                                .bind(sealed)
                                .bind(kid)
                        }
                        Change::SetMasterKeyCheck(check) => {
                            sqlx::query("UPDATE signing_epoch SET master_key_check = $1 WHERE id = 1")
                                .bind(check)
                        }
                    };
                    query.execute(&mut *tx).await?;
                }
                if let Some(event) = audit {
                    Self::record_audit(&mut tx, event).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn audit_events(
                &self,
                query: &$crate::store::AuditQuery,
            ) -> Result<Vec<$crate::store::AuditEvent>, $crate::store::StoreError> {
                let mut sql = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, at, actor, action, team_slug, target, source_ip, detail \
                     FROM audit_events WHERE 1 = 1",
                );
                if let Some(team) = &query.team {
                    sql.push(" AND team_slug = ").push_bind(team.clone());
                }
                if let Some(before) = query.before_id {
                    sql.push(" AND id < ").push_bind(before);
                }
                sql.push(" ORDER BY id DESC");
                if let Some(limit) = query.limit {
                    sql.push(" LIMIT ").push_bind(i64::from(limit));
                }
                let rows: Vec<$crate::store::sql::AuditRow> =
                    sql.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }
        }
    };
}

pub(super) use impl_store;
