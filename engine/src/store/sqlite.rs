//! The embedded default store: one SQLite file in WAL mode, migrated at start-up.

use super::{
    DeliveryNext, EventFilter, IdempotencyClaim, InquiryFilter, NewEvent, Page, PageRequest,
    ReplayFrom, Store, StoreError, Write,
};
use crate::clock::{from_millis, to_millis};
use crate::records::{
    AccountRecord, ApiKeyRecord, DocumentRecord, DueDelivery, EventRecord, InquiryRecord,
    ObjectSnapshot, SessionRecord, TemplateVersionRecord, VerificationRecord, WebhookAttemptRecord,
    WebhookRecord, WebhookStatus,
};
use anyhow::Context;
use async_trait::async_trait;
use domain::ids::{
    AccountId, ApiKeyId, DocumentId, EventId, InquiryId, SessionId, TemplateId, TemplateVersionId,
    VerificationId, WebhookAttemptId, WebhookId,
};
use domain::inquiry::InquiryStatus;
use domain::verification::VerificationStatus;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, Notify};

/// A SQLite database: a small pool for reads, and one writer task that owns the only write
/// connection and commits concurrent batches together.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: mpsc::Sender<WriteJob>,
    /// Woken after a commit queued webhook deliveries.
    deliveries_queued: Arc<Notify>,
}

/// One caller's batch of writes, answered once its group has committed.
#[derive(Debug)]
struct WriteJob {
    writes: Vec<Write>,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// How many callers' batches share one commit at most.
const MAX_GROUP: usize = 64;

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

    /// The row (if any) that `sql` selects with one text parameter, mapped to a record.
    async fn optional_by<T>(
        &self,
        sql: &'static str,
        key: &str,
        map: fn(&SqliteRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let row = sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(map).transpose()
    }

    /// Every row that `sql` selects with one text parameter, mapped to records.
    async fn all_by<T>(
        &self,
        sql: &'static str,
        key: &str,
        map: fn(&SqliteRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = sqlx::query(sql).bind(key).fetch_all(&self.pool).await?;
        rows.iter().map(map).collect()
    }

    /// Finishes a newest-first list query with the page's cursor and order, runs it, and maps
    /// the rows; `has_where` tells whether the query already has a WHERE clause.
    async fn fetch_page<T>(
        &self,
        mut query: QueryBuilder<Sqlite>,
        has_where: bool,
        page: &PageRequest,
        map: fn(&SqliteRow) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        push_page(&mut query, page, has_where);
        let rows = query.build().fetch_all(&self.pool).await?;
        let items = rows.iter().map(map).collect::<Result<Vec<_>, _>>()?;
        Ok(finish_page(items, page))
    }

    async fn connect(options: SqliteConnectOptions) -> anyhow::Result<SqliteStore> {
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await
            .context("connecting to SQLite")?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .context("running SQLite migrations")?;
        let connection = options
            .connect()
            .await
            .context("opening the SQLite write connection")?;
        let (writer, jobs) = mpsc::channel(1024);
        let deliveries_queued = Arc::new(Notify::new());
        tokio::spawn(run_writer(connection, jobs, deliveries_queued.clone()));
        Ok(SqliteStore {
            pool,
            writer,
            deliveries_queued,
        })
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
        account_id: row
            .try_get::<Option<&str>, _>("account_id")?
            .map(AccountId::parse)
            .transpose()
            .map_err(corrupt)?,
        note: row.try_get("note")?,
        tags: serde_json::from_str(row.try_get("tags")?).map_err(corrupt)?,
        redirect_uri: row.try_get("redirect_uri")?,
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
        country_code: row.try_get("country_code")?,
        id_class: row.try_get("id_class")?,
        back_document_id: row
            .try_get::<Option<&str>, _>("back_document_id")?
            .map(DocumentId::parse)
            .transpose()
            .map_err(corrupt)?,
        extracted_sealed: row.try_get("extracted")?,
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

/// What replaying an idempotency key answers once the resource it created was redacted.
const REDACTED_REPLAY_BODY: &str = r#"{"errors":[{"status":"410","code":"redacted","title":"Redacted","detail":"The response stored for this Idempotency-Key was erased when its inquiry was redacted."}]}"#;

/// A guarded write must touch exactly one row; otherwise the row was not in the state it
/// expected and the whole batch is refused.
fn exactly_one(result: sqlx::sqlite::SqliteQueryResult) -> Result<(), StoreError> {
    if result.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

/// A unique-constraint violation means another writer got there first.
fn unique_as_conflict(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::Database(error),
    }
}

fn api_key_from_row(row: &SqliteRow) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: ApiKeyId::parse(row.try_get("id")?).map_err(corrupt)?,
        name: row.try_get("name")?,
        key_hash: row.try_get("key_hash")?,
        key_prefix: row.try_get("key_prefix")?,
        created_at: from_millis(row.try_get("created_at")?),
        last_used_at: optional_time(row, "last_used_at")?,
        revoked_at: optional_time(row, "revoked_at")?,
    })
}

fn account_from_row(row: &SqliteRow) -> Result<AccountRecord, StoreError> {
    Ok(AccountRecord {
        id: AccountId::parse(row.try_get("id")?).map_err(corrupt)?,
        reference_id: row.try_get("reference_id")?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

/// The stored payload of an event: its object's snapshot and the status it left.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredEventPayload {
    #[serde(default)]
    object: Option<ObjectSnapshot>,
    #[serde(default, rename = "previous-status")]
    previous_status: Option<String>,
}

fn event_from_row(row: &SqliteRow) -> Result<EventRecord, StoreError> {
    let payload: StoredEventPayload =
        serde_json::from_str(row.try_get("payload")?).map_err(corrupt)?;
    Ok(EventRecord {
        id: EventId::parse(row.try_get("id")?).map_err(corrupt)?,
        name: row.try_get("name")?,
        object_type: row.try_get("object_type")?,
        object_id: row.try_get("object_id")?,
        inquiry_id: row
            .try_get::<Option<&str>, _>("inquiry_id")?
            .map(InquiryId::parse)
            .transpose()
            .map_err(corrupt)?,
        sequence: row.try_get("sequence")?,
        object: payload.object,
        previous_status: payload.previous_status,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

fn webhook_from_row(row: &SqliteRow) -> Result<WebhookRecord, StoreError> {
    Ok(WebhookRecord {
        id: WebhookId::parse(row.try_get("id")?).map_err(corrupt)?,
        url: row.try_get("url")?,
        enabled_events: serde_json::from_str(row.try_get("enabled_events")?).map_err(corrupt)?,
        status: WebhookStatus::parse(row.try_get("status")?)
            .ok_or_else(|| corrupt("unknown webhook status"))?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
        disabled_at: optional_time(row, "disabled_at")?,
    })
}

fn webhook_attempt_from_row(row: &SqliteRow) -> Result<WebhookAttemptRecord, StoreError> {
    Ok(WebhookAttemptRecord {
        id: WebhookAttemptId::parse(row.try_get("id")?).map_err(corrupt)?,
        webhook_id: WebhookId::parse(row.try_get("webhook_id")?).map_err(corrupt)?,
        delivery_id: row.try_get("delivery_id")?,
        event_id: EventId::parse(row.try_get("event_id")?).map_err(corrupt)?,
        event_name: row.try_get("event_name")?,
        attempt: u32::try_from(row.try_get::<i64, _>("attempt")?).map_err(corrupt)?,
        attempted_at: from_millis(row.try_get("attempted_at")?),
        status_code: row
            .try_get::<Option<i64>, _>("status_code")?
            .map(u16::try_from)
            .transpose()
            .map_err(corrupt)?,
        latency_ms: u64::try_from(row.try_get::<i64, _>("latency_ms")?).map_err(corrupt)?,
        error: row.try_get("error")?,
        succeeded: row.try_get("succeeded")?,
    })
}

/// Appends the cursor condition and order of a newest-first page; `has_where` tells whether a
/// WHERE clause was already started.
fn push_page(query: &mut QueryBuilder<Sqlite>, page: &PageRequest, has_where: bool) {
    let mut joiner = if has_where { " AND " } else { " WHERE " };
    if let Some(after) = &page.after {
        query.push(joiner).push("id < ").push_bind(after.clone());
        joiner = " AND ";
    }
    if let Some(before) = &page.before {
        query.push(joiner).push("id > ").push_bind(before.clone());
    }
    // Walking backwards (before=) reads oldest-first from the cursor, then flips.
    let order = if page.before.is_some() && page.after.is_none() {
        " ORDER BY id ASC"
    } else {
        " ORDER BY id DESC"
    };
    query
        .push(order)
        .push(" LIMIT ")
        .push_bind(i64::from(page.size) + 1);
}

fn finish_page<T>(mut items: Vec<T>, page: &PageRequest) -> Page<T> {
    let has_more = items.len() > page.size as usize;
    items.truncate(page.size as usize);
    if page.before.is_some() && page.after.is_none() {
        items.reverse();
    }
    Page { items, has_more }
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

/// Applies one write; returns how many webhook deliveries it queued.
async fn apply(conn: &mut SqliteConnection, write: Write) -> Result<u64, StoreError> {
    match write {
        Write::InsertInquiry(inquiry) => {
            sqlx::query(
                "INSERT INTO inquiries (id, template_id, template_version_id, status, reference_id, fields, \
                 created_at, expires_at, updated_at, account_id, note, tags, redirect_uri) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            .bind(inquiry.account_id.as_ref().map(AccountId::as_str))
            .bind(inquiry.note.as_deref())
            .bind(serde_json::to_string(&inquiry.tags).map_err(corrupt)?)
            .bind(inquiry.redirect_uri.as_deref())
            .execute(&mut *conn)
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
            exactly_one(
                sqlx::query(sql)
                    .bind(to.as_str())
                    .bind(at)
                    .bind(at)
                    .bind(id.as_str())
                    .bind(from.as_str())
                    .execute(&mut *conn)
                    .await?,
            )?;
        }
        Write::SubmitInquiryFields { id, fields, at } => {
            exactly_one(sqlx::query(
                "UPDATE inquiries SET fields = ?, field_draft = NULL, fields_submitted_at = ?, updated_at = ? \
                 WHERE id = ? AND fields_submitted_at IS NULL",
            )
            .bind(serde_json::to_string(&fields).map_err(corrupt)?)
            .bind(to_millis(at))
            .bind(to_millis(at))
            .bind(id.as_str())
            .execute(&mut *conn).await?)?;
        }
        Write::SaveFieldDraft { id, draft } => {
            exactly_one(sqlx::query(
                "UPDATE inquiries SET field_draft = ? WHERE id = ? AND fields_submitted_at IS NULL",
            )
            .bind(serde_json::to_string(&draft).map_err(corrupt)?)
            .bind(id.as_str())
            .execute(&mut *conn).await?)?;
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
            .execute(&mut *conn)
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
            .execute(&mut *conn)
            .await?;
        }
        Write::InsertVerification(verification) => {
            let inserted = sqlx::query(
                "INSERT INTO verifications (id, inquiry_id, kind, attempt, status, document_id, checks, created_at, \
                 submitted_at, completed_at, country_code, id_class, back_document_id, extracted) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
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
            .bind(verification.country_code.as_deref())
            .bind(verification.id_class.as_deref())
            .bind(verification.back_document_id.as_ref().map(DocumentId::as_str))
            .bind(verification.extracted_sealed.as_deref())
            .execute(&mut *conn)
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
            exactly_one(sqlx::query(
                "UPDATE verifications SET status = ?, submitted_at = COALESCE(?, submitted_at), \
                 completed_at = COALESCE(?, completed_at), checks = COALESCE(?, checks) WHERE id = ? AND status = ?",
            )
            .bind(to.as_str())
            .bind(submitted_at)
            .bind(completed_at)
            .bind(checks)
            .bind(id.as_str())
            .bind(from.as_str())
            .execute(&mut *conn).await?)?;
        }
        Write::InsertEvent(event) => return insert_event(conn, event).await,
        Write::InsertAccount(account) => {
            sqlx::query("INSERT INTO accounts (id, reference_id, created_at, updated_at) VALUES (?, ?, ?, ?)")
                .bind(account.id.as_str())
                .bind(account.reference_id.as_deref())
                .bind(to_millis(account.created_at))
                .bind(to_millis(account.updated_at))
                .execute(&mut *conn)
                .await
                .map_err(unique_as_conflict)?;
        }
        Write::UpdateInquiryAttributes {
            id,
            fields,
            tags,
            note,
            at,
        } => {
            exactly_one(
                sqlx::query(
                    "UPDATE inquiries SET fields = ?, tags = ?, note = ?, updated_at = ? \
                 WHERE id = ? AND status IN ('created', 'pending') AND redacted_at IS NULL",
                )
                .bind(serde_json::to_string(&fields).map_err(corrupt)?)
                .bind(serde_json::to_string(&tags).map_err(corrupt)?)
                .bind(note)
                .bind(to_millis(at))
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?,
            )?;
        }
        Write::RedactInquiry { id, at } => {
            exactly_one(sqlx::query(
                "UPDATE inquiries SET fields = '{}', field_draft = NULL, note = NULL, redacted_at = ?, updated_at = ? \
                 WHERE id = ? AND redacted_at IS NULL",
            )
            .bind(to_millis(at))
            .bind(to_millis(at))
            .bind(id.as_str())
            .execute(&mut *conn).await?)?;
            sqlx::query("UPDATE verifications SET extracted = NULL WHERE inquiry_id = ?")
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?;
            // The snapshots in its events (and so in deliveries not yet sent) lose it too.
            sqlx::query(
                "UPDATE events SET payload = json_set(payload, '$.object.inquiry.fields', json('{}'), \
                 '$.object.inquiry.field_draft', NULL, '$.object.inquiry.note', NULL) \
                 WHERE inquiry_id = ? AND object_type = 'inquiry'",
            )
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
        }
        Write::EraseIdempotentResponses { resource_id } => {
            sqlx::query(
                "UPDATE idempotency_keys SET response_status = 410, response_body = ? WHERE resource_id = ?",
            )
            .bind(REDACTED_REPLAY_BODY.as_bytes())
            .bind(resource_id)
            .execute(&mut *conn)
            .await?;
        }
        Write::RevokeSessions { inquiry_id, at } => {
            sqlx::query("UPDATE inquiry_sessions SET revoked_at = ? WHERE inquiry_id = ? AND revoked_at IS NULL")
                .bind(to_millis(at))
                .bind(inquiry_id.as_str())
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "UPDATE one_time_links SET used_at = ? WHERE inquiry_id = ? AND used_at IS NULL",
            )
            .bind(to_millis(at))
            .bind(inquiry_id.as_str())
            .execute(&mut *conn)
            .await?;
        }
        Write::InsertOneTimeLink {
            code_hash,
            inquiry_id,
            created_at,
            expires_at,
        } => {
            sqlx::query("INSERT INTO one_time_links (code_hash, inquiry_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
                .bind(code_hash)
                .bind(inquiry_id.as_str())
                .bind(to_millis(created_at))
                .bind(to_millis(expires_at))
                .execute(&mut *conn)
                .await?;
        }
        Write::SetPendingGovernmentId {
            id,
            country_code,
            id_class,
            document_id,
            back_document_id,
        } => {
            exactly_one(
                sqlx::query(
                    "UPDATE verifications SET country_code = ?, id_class = ?, document_id = ?, \
                 back_document_id = ? WHERE id = ? AND status = 'created'",
                )
                .bind(country_code)
                .bind(id_class)
                .bind(document_id.as_ref().map(DocumentId::as_str))
                .bind(back_document_id.as_ref().map(DocumentId::as_str))
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?,
            )?;
        }
        Write::SetVerificationExtracted { id, sealed } => {
            sqlx::query("UPDATE verifications SET extracted = ? WHERE id = ?")
                .bind(sealed)
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?;
        }
        Write::CompleteIdempotencyKey {
            api_key_id,
            key,
            status,
            body,
            resource_id,
        } => {
            sqlx::query(
                "UPDATE idempotency_keys SET response_status = ?, response_body = ?, resource_id = ? \
                 WHERE api_key_id = ? AND idempotency_key = ?",
            )
            .bind(i64::from(status))
            .bind(body)
            .bind(resource_id)
            .bind(api_key_id.as_str())
            .bind(key)
            .execute(&mut *conn)
            .await?;
        }
        Write::InsertWebhook {
            webhook,
            sealed_secret,
        } => {
            sqlx::query(
                "INSERT INTO webhooks (id, url, enabled_events, status, secret, created_at, updated_at, disabled_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(webhook.id.as_str())
            .bind(&webhook.url)
            .bind(serde_json::to_string(&webhook.enabled_events).map_err(corrupt)?)
            .bind(webhook.status.as_str())
            .bind(sealed_secret)
            .bind(to_millis(webhook.created_at))
            .bind(to_millis(webhook.updated_at))
            .bind(webhook.disabled_at.map(to_millis))
            .execute(&mut *conn)
            .await?;
        }
        Write::UpdateWebhook {
            id,
            url,
            enabled_events,
            status,
            at,
        } => {
            let at = to_millis(at);
            exactly_one(sqlx::query(
                "UPDATE webhooks SET url = ?, enabled_events = ?, status = ?, updated_at = ?, \
                 disabled_at = CASE WHEN ? = 'disabled' THEN COALESCE(disabled_at, ?) ELSE NULL END, \
                 last_success_at = CASE WHEN status = 'disabled' AND ? = 'enabled' THEN NULL ELSE last_success_at END \
                 WHERE id = ?",
            )
            .bind(url)
            .bind(serde_json::to_string(&enabled_events).map_err(corrupt)?)
            .bind(status.as_str())
            .bind(at)
            .bind(status.as_str())
            .bind(at)
            .bind(status.as_str())
            .bind(id.as_str())
            .execute(&mut *conn).await?)?;
        }
        Write::DeleteWebhook { id } => {
            exactly_one(
                sqlx::query("DELETE FROM webhooks WHERE id = ?")
                    .bind(id.as_str())
                    .execute(&mut *conn)
                    .await?,
            )?;
        }
        Write::RotateWebhookSecret {
            id,
            sealed_secret,
            sealed_previous,
            previous_expires_at,
            at,
        } => {
            exactly_one(sqlx::query(
                "UPDATE webhooks SET secret = ?, previous_secret = ?, previous_secret_expires_at = ?, updated_at = ? \
                 WHERE id = ?",
            )
            .bind(sealed_secret)
            .bind(sealed_previous)
            .bind(to_millis(previous_expires_at))
            .bind(to_millis(at))
            .bind(id.as_str())
            .execute(&mut *conn).await?)?;
        }
        Write::DisableFailingWebhook {
            id,
            failing_since,
            at,
        } => {
            exactly_one(sqlx::query(
                "UPDATE webhooks SET status = 'disabled', disabled_at = ?, updated_at = ? \
                 WHERE id = ? AND status = 'enabled' AND (last_success_at IS NULL OR last_success_at < ?)",
            )
            .bind(to_millis(at))
            .bind(to_millis(at))
            .bind(id.as_str())
            .bind(to_millis(failing_since))
            .execute(&mut *conn).await?)?;
        }
        Write::RecordDeliveryAttempt { attempt, next } => {
            let at = to_millis(attempt.attempted_at);
            let updated = match next {
                DeliveryNext::Succeeded => sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'succeeded', attempts = ?, claimed_until = NULL, \
                     first_attempt_at = COALESCE(first_attempt_at, ?), completed_at = ? WHERE id = ?",
                )
                .bind(i64::from(attempt.attempt))
                .bind(at)
                .bind(at)
                .bind(attempt.delivery_id),
                DeliveryNext::RetryAt(next_at) => sqlx::query(
                    "UPDATE webhook_deliveries SET attempts = ?, claimed_until = NULL, next_attempt_at = ?, \
                     first_attempt_at = COALESCE(first_attempt_at, ?) WHERE id = ?",
                )
                .bind(i64::from(attempt.attempt))
                .bind(to_millis(next_at))
                .bind(at)
                .bind(attempt.delivery_id),
                DeliveryNext::GiveUp => sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'failed', attempts = ?, claimed_until = NULL, \
                     first_attempt_at = COALESCE(first_attempt_at, ?), completed_at = ? WHERE id = ?",
                )
                .bind(i64::from(attempt.attempt))
                .bind(at)
                .bind(at)
                .bind(attempt.delivery_id),
            }
            .execute(&mut *conn)
            .await?;
            if updated.rows_affected() == 1 {
                sqlx::query(
                    "INSERT INTO webhook_attempts (id, webhook_id, delivery_id, event_id, event_name, attempt, \
                     attempted_at, status_code, latency_ms, error, succeeded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(attempt.id.as_str())
                .bind(attempt.webhook_id.as_str())
                .bind(attempt.delivery_id)
                .bind(attempt.event_id.as_str())
                .bind(&attempt.event_name)
                .bind(i64::from(attempt.attempt))
                .bind(at)
                .bind(attempt.status_code.map(i64::from))
                .bind(i64::try_from(attempt.latency_ms).unwrap_or(i64::MAX))
                .bind(attempt.error.as_deref())
                .bind(attempt.succeeded)
                .execute(&mut *conn)
                .await?;
                if next == DeliveryNext::Succeeded {
                    sqlx::query(
                        "UPDATE webhooks SET last_success_at = MAX(COALESCE(last_success_at, 0), ?) WHERE id = ?",
                    )
                    .bind(at)
                    .bind(attempt.webhook_id.as_str())
                    .execute(&mut *conn)
                    .await?;
                }
            }
        }
    }
    Ok(0)
}

/// The object an event is about, as this transaction has it now.
async fn snapshot_of(
    conn: &mut SqliteConnection,
    object_type: &str,
    object_id: &str,
) -> Result<Option<ObjectSnapshot>, StoreError> {
    type Snapshot = fn(&SqliteRow) -> Result<ObjectSnapshot, StoreError>;
    let (sql, map): (&str, Snapshot) = match object_type {
        "inquiry" => ("SELECT * FROM inquiries WHERE id = ?", |row| {
            inquiry_from_row(row).map(|r| ObjectSnapshot::Inquiry(Box::new(r)))
        }),
        "verification" => ("SELECT * FROM verifications WHERE id = ?", |row| {
            verification_from_row(row).map(|r| ObjectSnapshot::Verification(Box::new(r)))
        }),
        "webhook" => ("SELECT * FROM webhooks WHERE id = ?", |row| {
            webhook_from_row(row).map(|r| ObjectSnapshot::Webhook(Box::new(r)))
        }),
        _ => return Ok(None),
    };
    let row = sqlx::query(sql)
        .bind(object_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(map).transpose()
}

/// Appends an event with its object's snapshot and queues it for every enabled webhook that
/// subscribes to its name; returns how many deliveries it queued.
async fn insert_event(conn: &mut SqliteConnection, event: NewEvent) -> Result<u64, StoreError> {
    let payload = StoredEventPayload {
        object: snapshot_of(conn, event.object_type, &event.object_id).await?,
        previous_status: event.previous_status.map(str::to_owned),
    };
    sqlx::query(
        "INSERT INTO events (id, name, object_type, object_id, inquiry_id, sequence, payload, created_at) \
         VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM events WHERE object_id = ?), ?, ?)",
    )
    .bind(event.id.as_str())
    .bind(event.name)
    .bind(event.object_type)
    .bind(&event.object_id)
    .bind(event.inquiry_id.as_ref().map(InquiryId::as_str))
    .bind(&event.object_id)
    .bind(serde_json::to_string(&payload).map_err(corrupt)?)
    .bind(to_millis(event.created_at))
    .execute(&mut *conn)
    .await?;
    let queued = sqlx::query(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, status, next_attempt_at, created_at) \
         SELECT id, ?, 'pending', ?, ? FROM webhooks WHERE status = 'enabled' \
         AND EXISTS (SELECT 1 FROM json_each(webhooks.enabled_events) WHERE value IN ('*', ?))",
    )
    .bind(event.id.as_str())
    .bind(to_millis(event.created_at))
    .bind(to_millis(event.created_at))
    .bind(event.name)
    .execute(&mut *conn)
    .await?;
    Ok(queued.rows_affected())
}

/// Takes whatever batches are waiting (up to [`MAX_GROUP`]) and commits them in one
/// transaction, each inside its own savepoint: a batch whose guard fails is rolled back alone
/// and answered `Conflict`, the others commit. Grouping saves a lock hand-off, a WAL sync and a
/// checkpoint share per request, and no writer of this process ever waits on SQLite's busy timer.
async fn run_writer(
    mut conn: SqliteConnection,
    mut jobs: mpsc::Receiver<WriteJob>,
    deliveries_queued: Arc<Notify>,
) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let batches: Vec<Vec<Write>> = group
            .iter_mut()
            .map(|job| std::mem::take(&mut job.writes))
            .collect();
        match commit_group(&mut conn, batches).await {
            Ok((outcomes, queued)) => {
                if queued > 0 {
                    deliveries_queued.notify_one();
                }
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    let _ = job.reply.send(outcome);
                }
            }
            Err(error) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
                tracing::error!(error = %error, grouped = group.len(), "a grouped SQLite commit failed");
                for job in group {
                    let _ = job.reply.send(Err(StoreError::Unavailable(format!(
                        "the commit failed: {error}"
                    ))));
                }
            }
        }
    }
}

/// Commits the batches in one transaction; returns each batch's outcome and how many webhook
/// deliveries the committed batches queued.
async fn commit_group(
    conn: &mut SqliteConnection,
    batches: Vec<Vec<Write>>,
) -> Result<(Vec<Result<(), StoreError>>, u64), sqlx::Error> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    let mut outcomes = Vec::with_capacity(batches.len());
    let mut queued = 0;
    for writes in batches {
        sqlx::query("SAVEPOINT batch").execute(&mut *conn).await?;
        let mut outcome = Ok(());
        let mut batch_queued = 0;
        for write in writes {
            match apply(conn, write).await {
                Ok(count) => batch_queued += count,
                Err(error) => {
                    outcome = Err(error);
                    break;
                }
            }
        }
        if outcome.is_err() {
            sqlx::query("ROLLBACK TO batch").execute(&mut *conn).await?;
        } else {
            queued += batch_queued;
        }
        sqlx::query("RELEASE batch").execute(&mut *conn).await?;
        outcomes.push(outcome);
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    Ok((outcomes, queued))
}

#[async_trait]
impl Store for SqliteStore {
    async fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the SQLite writer stopped".into());
        self.writer
            .send(WriteJob { writes, reply })
            .await
            .map_err(|_| stopped())?;
        // The writer owns the job now: if this caller goes away, its batch still commits whole.
        answer.await.map_err(|_| stopped())?
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
        self.optional_by(
            "SELECT * FROM inquiries WHERE id = ?",
            id.as_str(),
            inquiry_from_row,
        )
        .await
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
        self.all_by(
            "SELECT * FROM verifications WHERE inquiry_id = ? ORDER BY kind, attempt",
            inquiry_id.as_str(),
            verification_from_row,
        )
        .await
    }

    async fn documents_of(
        &self,
        inquiry_id: &InquiryId,
    ) -> Result<Vec<DocumentRecord>, StoreError> {
        self.all_by(
            "SELECT * FROM documents WHERE inquiry_id = ? ORDER BY id",
            inquiry_id.as_str(),
            document_from_row,
        )
        .await
    }

    async fn events_of(&self, inquiry_id: &InquiryId) -> Result<Vec<EventRecord>, StoreError> {
        self.all_by(
            "SELECT * FROM events WHERE inquiry_id = ? ORDER BY id",
            inquiry_id.as_str(),
            event_from_row,
        )
        .await
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

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, key_prefix, created_at, last_used_at, revoked_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id.as_str())
        .bind(&key.name)
        .bind(&key.key_hash)
        .bind(&key.key_prefix)
        .bind(to_millis(key.created_at))
        .bind(key.last_used_at.map(to_millis))
        .bind(key.revoked_at.map(to_millis))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.optional_by(
            "SELECT * FROM api_keys WHERE key_hash = ?",
            key_hash,
            api_key_from_row,
        )
        .await
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM api_keys ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn revoke_api_key(&self, id: &ApiKeyId, at: OffsetDateTime) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(to_millis(at))
                .bind(id.as_str())
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn account(&self, id: &AccountId) -> Result<Option<AccountRecord>, StoreError> {
        self.optional_by(
            "SELECT * FROM accounts WHERE id = ?",
            id.as_str(),
            account_from_row,
        )
        .await
    }

    async fn account_by_reference(
        &self,
        reference_id: &str,
    ) -> Result<Option<AccountRecord>, StoreError> {
        self.optional_by(
            "SELECT * FROM accounts WHERE reference_id = ?",
            reference_id,
            account_from_row,
        )
        .await
    }

    async fn list_accounts(
        &self,
        reference_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AccountRecord>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new("SELECT * FROM accounts");
        if let Some(reference_id) = reference_id {
            query
                .push(" WHERE reference_id = ")
                .push_bind(reference_id.to_owned());
        }
        self.fetch_page(query, reference_id.is_some(), page, account_from_row)
            .await
    }

    async fn list_inquiries(
        &self,
        filter: &InquiryFilter,
        page: &PageRequest,
    ) -> Result<Page<InquiryRecord>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new("SELECT * FROM inquiries WHERE 1 = 1");
        if !filter.statuses.is_empty() {
            query.push(" AND status IN (");
            let mut list = query.separated(", ");
            for status in &filter.statuses {
                list.push_bind(status.as_str());
            }
            list.push_unseparated(")");
        }
        if let Some(reference_id) = &filter.reference_id {
            query
                .push(" AND reference_id = ")
                .push_bind(reference_id.clone());
        }
        if let Some(account_id) = &filter.account_id {
            query
                .push(" AND account_id = ")
                .push_bind(account_id.to_string());
        }
        if let Some(template_id) = &filter.template_id {
            query
                .push(" AND template_id = ")
                .push_bind(template_id.to_string());
        }
        if let Some(after) = filter.created_after {
            query.push(" AND created_at > ").push_bind(to_millis(after));
        }
        if let Some(before) = filter.created_before {
            query
                .push(" AND created_at < ")
                .push_bind(to_millis(before));
        }
        self.fetch_page(query, true, page, inquiry_from_row).await
    }

    async fn verification(
        &self,
        id: &VerificationId,
    ) -> Result<Option<VerificationRecord>, StoreError> {
        self.optional_by(
            "SELECT * FROM verifications WHERE id = ?",
            id.as_str(),
            verification_from_row,
        )
        .await
    }

    async fn document(&self, id: &DocumentId) -> Result<Option<DocumentRecord>, StoreError> {
        self.optional_by(
            "SELECT * FROM documents WHERE id = ?",
            id.as_str(),
            document_from_row,
        )
        .await
    }

    async fn event(&self, id: &EventId) -> Result<Option<EventRecord>, StoreError> {
        self.optional_by(
            "SELECT * FROM events WHERE id = ?",
            id.as_str(),
            event_from_row,
        )
        .await
    }

    async fn list_events(
        &self,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> Result<Page<EventRecord>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new("SELECT * FROM events WHERE 1 = 1");
        if !filter.names.is_empty() {
            query.push(" AND name IN (");
            let mut list = query.separated(", ");
            for name in &filter.names {
                list.push_bind(name.clone());
            }
            list.push_unseparated(")");
        }
        if let Some(object_id) = &filter.object_id {
            query.push(" AND object_id = ").push_bind(object_id.clone());
        }
        self.fetch_page(query, true, page, event_from_row).await
    }

    async fn claim_idempotency_key(
        &self,
        api_key_id: &ApiKeyId,
        key: &str,
        request_hash: &str,
        now: OffsetDateTime,
    ) -> Result<IdempotencyClaim, StoreError> {
        // A claim that never completed within the in-flight limit belongs to a request whose
        // process died: the retry takes it over (and runs the request again).
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (api_key_id, idempotency_key, request_hash, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (api_key_id, idempotency_key) DO UPDATE SET request_hash = excluded.request_hash, \
             created_at = excluded.created_at WHERE response_status IS NULL AND created_at < ?",
        )
        .bind(api_key_id.as_str())
        .bind(key)
        .bind(request_hash)
        .bind(to_millis(now))
        .bind(to_millis(now - super::IDEMPOTENCY_IN_FLIGHT_LIMIT))
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(IdempotencyClaim::Claimed);
        }
        let row = sqlx::query(
            "SELECT request_hash, response_status, response_body FROM idempotency_keys \
             WHERE api_key_id = ? AND idempotency_key = ?",
        )
        .bind(api_key_id.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            // Released between our insert and read: the caller may try again.
            return Ok(IdempotencyClaim::InFlight {
                request_hash: request_hash.to_owned(),
            });
        };
        let stored_hash: String = row.try_get("request_hash")?;
        match row.try_get::<Option<i64>, _>("response_status")? {
            None => Ok(IdempotencyClaim::InFlight {
                request_hash: stored_hash,
            }),
            Some(status) => Ok(IdempotencyClaim::Completed {
                request_hash: stored_hash,
                status: u16::try_from(status).map_err(corrupt)?,
                body: row
                    .try_get::<Option<Vec<u8>>, _>("response_body")?
                    .unwrap_or_default(),
            }),
        }
    }

    async fn complete_idempotency_key(
        &self,
        api_key_id: &ApiKeyId,
        key: &str,
        status: u16,
        body: &[u8],
        resource_id: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE idempotency_keys SET response_status = ?, response_body = ?, resource_id = ? \
             WHERE api_key_id = ? AND idempotency_key = ?",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(resource_id)
        .bind(api_key_id.as_str())
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn release_idempotency_key(
        &self,
        api_key_id: &ApiKeyId,
        key: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE api_key_id = ? AND idempotency_key = ? AND response_status IS NULL")
            .bind(api_key_id.as_str())
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_idempotency_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ?")
            .bind(to_millis(before))
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    async fn redeem_one_time_link(
        &self,
        code_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<InquiryId>, StoreError> {
        let row = sqlx::query(
            "UPDATE one_time_links SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? \
             RETURNING inquiry_id",
        )
        .bind(to_millis(now))
        .bind(code_hash)
        .bind(to_millis(now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| InquiryId::parse(row.try_get("inquiry_id")?).map_err(corrupt))
            .transpose()
    }

    async fn webhook(&self, id: &WebhookId) -> Result<Option<WebhookRecord>, StoreError> {
        self.optional_by(
            "SELECT * FROM webhooks WHERE id = ?",
            id.as_str(),
            webhook_from_row,
        )
        .await
    }

    async fn list_webhooks(&self, page: &PageRequest) -> Result<Page<WebhookRecord>, StoreError> {
        let query = QueryBuilder::<Sqlite>::new("SELECT * FROM webhooks");
        self.fetch_page(query, false, page, webhook_from_row).await
    }

    async fn webhook_secrets(
        &self,
        id: &WebhookId,
    ) -> Result<Option<(String, Option<(String, OffsetDateTime)>)>, StoreError> {
        let row = sqlx::query(
            "SELECT secret, previous_secret, previous_secret_expires_at FROM webhooks WHERE id = ?",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let previous = match (
                row.try_get::<Option<String>, _>("previous_secret")?,
                optional_time(&row, "previous_secret_expires_at")?,
            ) {
                (Some(secret), Some(until)) => Some((secret, until)),
                _ => None,
            };
            Ok((row.try_get("secret")?, previous))
        })
        .transpose()
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let now = to_millis(now);
        let claimed = sqlx::query(
            "UPDATE webhook_deliveries SET claimed_until = ? WHERE id IN ( \
                 SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                 WHERE d.status = 'pending' AND d.next_attempt_at <= ? \
                 AND (d.claimed_until IS NULL OR d.claimed_until <= ?) AND w.status = 'enabled' \
                 ORDER BY d.next_attempt_at, d.id LIMIT ?) \
             RETURNING id",
        )
        .bind(to_millis(lease_until))
        .bind(now)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT d.id AS delivery_id, d.webhook_id, d.attempts, d.first_attempt_at, w.url, w.secret, \
             w.previous_secret, w.previous_secret_expires_at, e.* \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN events e ON e.id = d.event_id \
             WHERE d.id IN (",
        );
        let mut ids = query.separated(", ");
        for row in &claimed {
            ids.push_bind(row.try_get::<i64, _>("id")?);
        }
        ids.push_unseparated(") ORDER BY d.next_attempt_at, d.id");
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(DueDelivery {
                    delivery_id: row.try_get("delivery_id")?,
                    webhook_id: WebhookId::parse(row.try_get("webhook_id")?).map_err(corrupt)?,
                    url: row.try_get("url")?,
                    attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).map_err(corrupt)?,
                    first_attempt_at: optional_time(row, "first_attempt_at")?,
                    secret: row.try_get("secret")?,
                    previous_secret: row.try_get("previous_secret")?,
                    previous_secret_expires_at: optional_time(row, "previous_secret_expires_at")?,
                    event: event_from_row(row)?,
                })
            })
            .collect()
    }

    async fn next_delivery_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(MAX(d.next_attempt_at, COALESCE(d.claimed_until, 0))) \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.status = 'pending' AND w.status = 'enabled'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(due.map(from_millis))
    }

    async fn list_webhook_attempts(
        &self,
        webhook_id: &WebhookId,
        event_id: Option<&EventId>,
        page: &PageRequest,
    ) -> Result<Page<WebhookAttemptRecord>, StoreError> {
        let mut query =
            QueryBuilder::<Sqlite>::new("SELECT * FROM webhook_attempts WHERE webhook_id = ");
        query.push_bind(webhook_id.to_string());
        if let Some(event_id) = event_id {
            query
                .push(" AND event_id = ")
                .push_bind(event_id.to_string());
        }
        self.fetch_page(query, true, page, webhook_attempt_from_row)
            .await
    }

    async fn replay_events(
        &self,
        webhook_id: &WebhookId,
        from: &ReplayFrom,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, status, next_attempt_at, created_at) \
             SELECT w.id, e.id, 'pending', ",
        );
        query
            .push_bind(to_millis(now))
            .push(", ")
            .push_bind(to_millis(now))
            .push(" FROM webhooks w JOIN events e WHERE w.id = ")
            .push_bind(webhook_id.to_string());
        match from {
            ReplayFrom::Event(id) => query.push(" AND e.id >= ").push_bind(id.to_string()),
            ReplayFrom::Time(at) => query
                .push(" AND e.created_at >= ")
                .push_bind(to_millis(*at)),
        };
        query.push(
            " AND EXISTS (SELECT 1 FROM json_each(w.enabled_events) WHERE value IN ('*', e.name)) ORDER BY e.id",
        );
        let result = query.build().execute(&self.pool).await?;
        if result.rows_affected() > 0 {
            self.deliveries_queued.notify_one();
        }
        Ok(result.rows_affected())
    }

    fn deliveries_queued(&self) -> Arc<Notify> {
        self.deliveries_queued.clone()
    }
}
