//! The embedded default store: one SQLite file in WAL mode, migrated at start-up.

use super::{NewEvent, Store, StoreError, Write};
use crate::clock::{from_millis, to_millis};
use crate::records::{
    DocumentRecord, EventRecord, InquiryRecord, SessionRecord, TemplateVersionRecord,
    VerificationRecord,
};
use anyhow::Context;
use async_trait::async_trait;
use domain::ids::{
    DocumentId, EventId, InquiryId, SessionId, TemplateId, TemplateVersionId, VerificationId,
};
use domain::inquiry::InquiryStatus;
use domain::verification::VerificationStatus;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

/// A SQLite database behind a small pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and runs pending migrations. A failed
    /// migration is an error the caller must stop on.
    pub async fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options)
            .await
            .with_context(|| format!("opening SQLite database {}", path.display()))
    }

    /// Opens a database from a `sqlite://…` URL.
    pub async fn open_url(url: &str) -> anyhow::Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .context("parsing the SQLite database URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> anyhow::Result<SqliteStore> {
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .context("connecting to SQLite")?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .context("running SQLite migrations")?;
        Ok(SqliteStore { pool })
    }
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn optional_time(row: &SqliteRow, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(from_millis))
}

fn inquiry_from_row(row: &SqliteRow) -> Result<InquiryRecord, StoreError> {
    let fields: String = row.try_get("fields")?;
    let field_draft: Option<String> = row.try_get("field_draft")?;
    Ok(InquiryRecord {
        id: InquiryId::parse(row.try_get("id")?).map_err(corrupt)?,
        template_id: TemplateId::parse(row.try_get("template_id")?).map_err(corrupt)?,
        template_version_id: TemplateVersionId::parse(row.try_get("template_version_id")?)
            .map_err(corrupt)?,
        status: InquiryStatus::parse(row.try_get("status")?).map_err(corrupt)?,
        reference_id: row.try_get("reference_id")?,
        fields: serde_json::from_str(&fields).map_err(corrupt)?,
        field_draft: field_draft
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(corrupt)?,
        fields_submitted_at: optional_time(row, "fields_submitted_at")?,
        created_at: from_millis(row.try_get("created_at")?),
        started_at: optional_time(row, "started_at")?,
        completed_at: optional_time(row, "completed_at")?,
        failed_at: optional_time(row, "failed_at")?,
        expired_at: optional_time(row, "expired_at")?,
        decisioned_at: optional_time(row, "decisioned_at")?,
        redacted_at: optional_time(row, "redacted_at")?,
        expires_at: from_millis(row.try_get("expires_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

fn verification_from_row(row: &SqliteRow) -> Result<VerificationRecord, StoreError> {
    let checks: String = row.try_get("checks")?;
    let document_id: Option<&str> = row.try_get("document_id")?;
    Ok(VerificationRecord {
        id: VerificationId::parse(row.try_get("id")?).map_err(corrupt)?,
        inquiry_id: InquiryId::parse(row.try_get("inquiry_id")?).map_err(corrupt)?,
        kind: row.try_get("kind")?,
        attempt: u32::try_from(row.try_get::<i64, _>("attempt")?).map_err(corrupt)?,
        status: VerificationStatus::parse(row.try_get("status")?).map_err(corrupt)?,
        document_id: document_id
            .map(DocumentId::parse)
            .transpose()
            .map_err(corrupt)?,
        checks: serde_json::from_str(&checks).map_err(corrupt)?,
        created_at: from_millis(row.try_get("created_at")?),
        submitted_at: optional_time(row, "submitted_at")?,
        completed_at: optional_time(row, "completed_at")?,
    })
}

fn document_from_row(row: &SqliteRow) -> Result<DocumentRecord, StoreError> {
    Ok(DocumentRecord {
        id: DocumentId::parse(row.try_get("id")?).map_err(corrupt)?,
        inquiry_id: InquiryId::parse(row.try_get("inquiry_id")?).map_err(corrupt)?,
        kind: row.try_get("kind")?,
        side: row.try_get("side")?,
        object_key: row.try_get("object_key")?,
        content_type: row.try_get("content_type")?,
        byte_size: u64::try_from(row.try_get::<i64, _>("byte_size")?).map_err(corrupt)?,
        sha256: row.try_get("sha256")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

/// The column stamped when an inquiry enters `status`.
fn inquiry_time_column(status: InquiryStatus) -> Option<&'static str> {
    match status {
        InquiryStatus::Created => None,
        InquiryStatus::Pending => Some("started_at"),
        InquiryStatus::Completed => Some("completed_at"),
        InquiryStatus::Failed => Some("failed_at"),
        InquiryStatus::Expired => Some("expired_at"),
        InquiryStatus::NeedsReview | InquiryStatus::Approved | InquiryStatus::Declined => {
            Some("decisioned_at")
        }
    }
}

async fn apply(tx: &mut Transaction<'static, Sqlite>, write: Write) -> Result<(), StoreError> {
    match write {
        Write::InsertInquiry(inquiry) => {
            sqlx::query(
                "INSERT INTO inquiries (id, template_id, template_version_id, status, reference_id, fields, \
                 created_at, expires_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(inquiry.id.as_str())
            .bind(inquiry.template_id.as_str())
            .bind(inquiry.template_version_id.as_str())
            .bind(inquiry.status.as_str())
            .bind(inquiry.reference_id.as_deref())
            .bind(serde_json::to_string(&inquiry.fields).map_err(corrupt)?)
            .bind(to_millis(inquiry.created_at))
            .bind(to_millis(inquiry.expires_at))
            .bind(to_millis(inquiry.updated_at))
            .execute(&mut **tx)
            .await?;
        }
        Write::TransitionInquiry { id, from, to, at } => {
            let sql = match inquiry_time_column(to) {
                Some("started_at") => "UPDATE inquiries SET status = ?, updated_at = ?, started_at = ? WHERE id = ? AND status = ?",
                Some("completed_at") => "UPDATE inquiries SET status = ?, updated_at = ?, completed_at = ? WHERE id = ? AND status = ?",
                Some("failed_at") => "UPDATE inquiries SET status = ?, updated_at = ?, failed_at = ? WHERE id = ? AND status = ?",
                Some("expired_at") => "UPDATE inquiries SET status = ?, updated_at = ?, expired_at = ? WHERE id = ? AND status = ?",
                Some(_) => "UPDATE inquiries SET status = ?, updated_at = ?, decisioned_at = ? WHERE id = ? AND status = ?",
                None => return Err(StoreError::Corrupt(format!("no transition enters {to}"))),
            };
            let at = to_millis(at);
            let result = sqlx::query(sql)
                .bind(to.as_str())
                .bind(at)
                .bind(at)
                .bind(id.as_str())
                .bind(from.as_str())
                .execute(&mut **tx)
                .await?;
            if result.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
        }
        Write::SubmitInquiryFields { id, fields, at } => {
            let result = sqlx::query(
                "UPDATE inquiries SET fields = ?, field_draft = NULL, fields_submitted_at = ?, updated_at = ? \
                 WHERE id = ? AND fields_submitted_at IS NULL",
            )
            .bind(serde_json::to_string(&fields).map_err(corrupt)?)
            .bind(to_millis(at))
            .bind(to_millis(at))
            .bind(id.as_str())
            .execute(&mut **tx)
            .await?;
            if result.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
        }
        Write::SaveFieldDraft { id, draft } => {
            let result = sqlx::query(
                "UPDATE inquiries SET field_draft = ? WHERE id = ? AND fields_submitted_at IS NULL",
            )
            .bind(serde_json::to_string(&draft).map_err(corrupt)?)
            .bind(id.as_str())
            .execute(&mut **tx)
            .await?;
            if result.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
        }
        Write::InsertSession(session) => {
            sqlx::query(
                "INSERT INTO inquiry_sessions (id, inquiry_id, token_hash, created_at, expires_at, revoked_at) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(session.id.as_str())
            .bind(session.inquiry_id.as_str())
            .bind(&session.token_hash)
            .bind(to_millis(session.created_at))
            .bind(to_millis(session.expires_at))
            .bind(session.revoked_at.map(to_millis))
            .execute(&mut **tx)
            .await?;
        }
        Write::InsertDocument(document) => {
            sqlx::query(
                "INSERT INTO documents (id, inquiry_id, kind, side, object_key, content_type, byte_size, sha256, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(document.id.as_str())
            .bind(document.inquiry_id.as_str())
            .bind(&document.kind)
            .bind(&document.side)
            .bind(&document.object_key)
            .bind(&document.content_type)
            .bind(i64::try_from(document.byte_size).map_err(corrupt)?)
            .bind(&document.sha256)
            .bind(to_millis(document.created_at))
            .execute(&mut **tx)
            .await?;
        }
        Write::InsertVerification(verification) => {
            let inserted = sqlx::query(
                "INSERT INTO verifications (id, inquiry_id, kind, attempt, status, document_id, checks, created_at, \
                 submitted_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (inquiry_id, kind, attempt) DO NOTHING",
            )
            .bind(verification.id.as_str())
            .bind(verification.inquiry_id.as_str())
            .bind(&verification.kind)
            .bind(i64::from(verification.attempt))
            .bind(verification.status.as_str())
            .bind(verification.document_id.as_ref().map(DocumentId::as_str))
            .bind(serde_json::to_string(&verification.checks).map_err(corrupt)?)
            .bind(to_millis(verification.created_at))
            .bind(verification.submitted_at.map(to_millis))
            .bind(verification.completed_at.map(to_millis))
            .execute(&mut **tx)
            .await?;
            if inserted.rows_affected() != 1 {
                // Another submission took this attempt number first.
                return Err(StoreError::Conflict);
            }
        }
        Write::TransitionVerification {
            id,
            from,
            to,
            at,
            checks,
        } => {
            let at = to_millis(at);
            let (submitted_at, completed_at) = match to {
                VerificationStatus::Submitted => (Some(at), None),
                VerificationStatus::Passed
                | VerificationStatus::Failed
                | VerificationStatus::Canceled => (None, Some(at)),
                VerificationStatus::Created => (None, None),
            };
            let checks = checks
                .map(|checks| serde_json::to_string(&checks))
                .transpose()
                .map_err(corrupt)?;
            let result = sqlx::query(
                "UPDATE verifications SET status = ?, submitted_at = COALESCE(?, submitted_at), \
                 completed_at = COALESCE(?, completed_at), checks = COALESCE(?, checks) WHERE id = ? AND status = ?",
            )
            .bind(to.as_str())
            .bind(submitted_at)
            .bind(completed_at)
            .bind(checks)
            .bind(id.as_str())
            .bind(from.as_str())
            .execute(&mut **tx)
            .await?;
            if result.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
        }
        Write::InsertEvent(event) => insert_event(tx, event).await?,
    }
    Ok(())
}

async fn insert_event(
    tx: &mut Transaction<'static, Sqlite>,
    event: NewEvent,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO events (id, name, object_type, object_id, inquiry_id, sequence, payload, created_at) \
         VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM events WHERE object_id = ?), ?, ?)",
    )
    .bind(event.id.as_str())
    .bind(event.name)
    .bind(event.object_type)
    .bind(&event.object_id)
    .bind(event.inquiry_id.as_str())
    .bind(&event.object_id)
    .bind(serde_json::to_string(&event.payload).map_err(corrupt)?)
    .bind(to_millis(event.created_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        // IMMEDIATE takes the write lock up front, so concurrent writers queue on busy_timeout
        // instead of failing when a read transaction tries to upgrade.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for write in writes {
            if let Err(error) = apply(&mut tx, write).await {
                tx.rollback().await?;
                return Err(error);
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn save_template_version(
        &self,
        version: &TemplateVersionRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO template_versions (id, template_id, content, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(version.id.as_str())
        .bind(version.template_id.as_str())
        .bind(&version.content)
        .bind(to_millis(version.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn template_version(
        &self,
        id: &TemplateVersionId,
    ) -> Result<Option<TemplateVersionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, template_id, content, created_at FROM template_versions WHERE id = ?",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(TemplateVersionRecord {
                id: TemplateVersionId::parse(row.try_get("id")?).map_err(corrupt)?,
                template_id: TemplateId::parse(row.try_get("template_id")?).map_err(corrupt)?,
                content: row.try_get("content")?,
                created_at: from_millis(row.try_get("created_at")?),
            })
        })
        .transpose()
    }

    async fn inquiry(&self, id: &InquiryId) -> Result<Option<InquiryRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM inquiries WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(inquiry_from_row).transpose()
    }

    async fn session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM inquiry_sessions WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(SessionRecord {
                id: SessionId::parse(row.try_get("id")?).map_err(corrupt)?,
                inquiry_id: InquiryId::parse(row.try_get("inquiry_id")?).map_err(corrupt)?,
                token_hash: row.try_get("token_hash")?,
                created_at: from_millis(row.try_get("created_at")?),
                expires_at: from_millis(row.try_get("expires_at")?),
                revoked_at: optional_time(&row, "revoked_at")?,
            })
        })
        .transpose()
    }

    async fn verifications_of(
        &self,
        inquiry_id: &InquiryId,
    ) -> Result<Vec<VerificationRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM verifications WHERE inquiry_id = ? ORDER BY kind, attempt")
                .bind(inquiry_id.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(verification_from_row).collect()
    }

    async fn documents_of(
        &self,
        inquiry_id: &InquiryId,
    ) -> Result<Vec<DocumentRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM documents WHERE inquiry_id = ? ORDER BY id")
            .bind(inquiry_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(document_from_row).collect()
    }

    async fn events_of(&self, inquiry_id: &InquiryId) -> Result<Vec<EventRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM events WHERE inquiry_id = ? ORDER BY id")
            .bind(inquiry_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let payload: String = row.try_get("payload")?;
                Ok(EventRecord {
                    id: EventId::parse(row.try_get("id")?).map_err(corrupt)?,
                    name: row.try_get("name")?,
                    object_type: row.try_get("object_type")?,
                    object_id: row.try_get("object_id")?,
                    inquiry_id: InquiryId::parse(row.try_get("inquiry_id")?).map_err(corrupt)?,
                    sequence: row.try_get("sequence")?,
                    payload: serde_json::from_str(&payload).map_err(corrupt)?,
                    created_at: from_millis(row.try_get("created_at")?),
                })
            })
            .collect()
    }

    async fn overdue_inquiries(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<InquiryId>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM inquiries WHERE status IN ('created', 'pending') AND expires_at <= ? ORDER BY expires_at LIMIT ?",
        )
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| InquiryId::parse(row.try_get("id")?).map_err(corrupt))
            .collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
