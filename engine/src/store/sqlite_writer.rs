//! The SQLite store's own rusqlite connections: the writer thread, which owns the only write
//! connection and commits the batches that are waiting together in one transaction, and the
//! read connections for point reads. Statements are prepared once and cached.

use super::sqlite::{
    corrupt, inquiry_from_row, verification_from_row, webhook_from_row, Columns,
    REDACTED_REPLAY_BODY,
};
use super::sqlite_read_cache::OutsideCommits;
use super::{DeliveryNext, NewEvent, StoreError, Write};
use crate::clock::{from_millis, to_millis};
use crate::records::{InquiryRecord, ObjectSnapshot};
use domain::ids::{AccountId, DocumentId};
use domain::inquiry::InquiryStatus;
use domain::verification::VerificationStatus;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, Notify};

/// One caller's batch of writes, answered once its group has committed.
#[derive(Debug)]
pub(super) struct WriteJob {
    batch: Batch,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

impl WriteJob {
    /// A job for `writes`; the payloads of events whose snapshot needs no read are rendered
    /// here, on the caller's thread, rather than on the writer's (7 % of its instructions).
    pub(super) fn new(
        writes: Vec<Write>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    ) -> Result<WriteJob, StoreError> {
        let rendered = writes
            .iter()
            .enumerate()
            .map(|(index, write)| match write {
                Write::InsertEvent(event) => {
                    let previous = index.checked_sub(1).map(|before| &writes[before]);
                    known_snapshot(event, previous)
                        .map(|object| event_payload(event, Some(object)))
                        .transpose()
                }
                _ => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        Ok(WriteJob {
            batch: Batch { writes, rendered },
            reply,
        })
    }
}

/// A batch of writes, with the event payloads rendered before it reached the writer.
#[derive(Debug, Default)]
struct Batch {
    writes: Vec<Write>,
    /// By write: the payload of an event, when it could be rendered without a read.
    rendered: Vec<Option<String>>,
}

/// How many callers' batches share one commit at most.
const MAX_GROUP: usize = 64;

/// Distinct statements the writer prepares; all of them stay cached.
const STATEMENT_CACHE: usize = 64;

impl Columns for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        self.get(column).map_err(corrupt)
    }
    fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.get(column).map_err(corrupt)
    }
    fn integer(&self, column: &str) -> Result<i64, StoreError> {
        self.get(column).map_err(corrupt)
    }
    fn optional_integer(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.get(column).map_err(corrupt)
    }
}

/// A connection of this thread or task alone (no SQLite mutex), waiting up to 10 s for another
/// process's lock, its statements cached.
fn open(path: &Path, mode: OpenFlags) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Opens the write connection to the (already migrated) database file and starts the writer
/// thread; returns the queue it takes jobs from. The writer tells `outside_commits` of commits
/// by other connections.
pub(super) fn start(
    path: &Path,
    deliveries_queued: Arc<Notify>,
    outside_commits: Arc<OutsideCommits>,
) -> anyhow::Result<mpsc::Sender<WriteJob>> {
    let conn = open(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Statement journals (savepoints, statements that may abort) in memory, not temp files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_FRAMES)?;
    // A log that grew past this during a burst is cut back to it when it starts over.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    let (writer, jobs) = mpsc::channel(1024);
    let checkpointer = start_checkpointer(path)?;
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || {
            let mut watch = OutsideWatch {
                last_data_version: None,
                commits: outside_commits,
            };
            run_writer(conn, jobs, &deliveries_queued, &checkpointer, &mut watch);
        })?;
    Ok(writer)
}

/// The checkpointer's rest after each checkpoint while commits go on. A checkpoint that copies
/// anything syncs the log and the database file (two `fsync`s, whose write-back is most of the
/// checkpointer's CPU) and copies every page the commits since the last one touched, mostly the
/// same B-tree leaves again. Checkpointing after every commit (at most every 2 ms) cost ~8 %
/// of the create throughput against this pause (median of 5 interleaved runs each).
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(20);

/// Log length (in frames, ~4 KiB each) from which the checkpointer has the log start over.
const RESTART_FRAMES: i64 = 4096;

/// The writer's own automatic checkpoint: a bound on the log in case restarts keep failing
/// (a restart needs every reader off the log).
const WRITER_AUTOCHECKPOINT_FRAMES: i64 = 4 * RESTART_FRAMES;

/// Starts the thread that copies committed pages from the write-ahead log back into the
/// database file on its own connection (a PASSIVE checkpoint, which never blocks the writer or
/// the readers), so that the copying and the `fsync`s it needs run beside the writer instead of
/// inside its commits. The writer wakes it after each commit through the returned sender; it
/// checkpoints at most once per [`CHECKPOINT_INTERVAL`]. The log can only start over after a
/// checkpoint that copied every frame, which under steady commits only the writer can run (no
/// commit lands during its own); so once the log is [`RESTART_FRAMES`] long, the checkpointer
/// copies all it can twice in a row and then sets the returned flag, and the writer's next
/// checkpoint has only the last few milliseconds of frames to copy. The thread ends with the
/// writer.
fn start_checkpointer(
    path: &Path,
) -> anyhow::Result<(std::sync::mpsc::SyncSender<()>, Arc<AtomicBool>)> {
    let conn = open(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
    let restart_due = Arc::new(AtomicBool::new(false));
    let restart_flag = restart_due.clone();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while woken.recv().is_ok() {
                match checkpoint(&conn) {
                    Ok(log_frames)
                        if log_frames >= RESTART_FRAMES
                            && !restart_flag.load(Ordering::Relaxed) =>
                    {
                        // Copies what was committed during the first pass.
                        match checkpoint(&conn) {
                            Ok(_) => restart_flag.store(true, Ordering::Release),
                            Err(error) => {
                                tracing::warn!(error = %error, "a background WAL checkpoint failed");
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(error = %error, "a background WAL checkpoint failed");
                    }
                }
                // Commits woken meanwhile wait for the next round.
                std::thread::sleep(CHECKPOINT_INTERVAL);
            }
        })?;
    Ok((wake, restart_due))
}

/// The writer's watch on commits by other connections: `PRAGMA data_version` on the write
/// connection changes exactly when another connection committed (the checkpointer's checkpoints
/// change no content, so they do not count).
struct OutsideWatch {
    last_data_version: Option<i64>,
    commits: Arc<OutsideCommits>,
}

impl OutsideWatch {
    /// Reads `data_version`; run inside a transaction, where it is current.
    fn look(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let version: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |row| row.get(0))?;
        // The first look counts as a change: keys may have been cached before it.
        let changed = self.last_data_version.is_none_or(|last| last != version);
        self.last_data_version = Some(version);
        self.commits.looked(changed);
        Ok(())
    }
}

/// Runs a PASSIVE checkpoint; returns the log's length in frames.
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}

/// Takes whatever batches are waiting (up to [`MAX_GROUP`]) and commits them in one
/// transaction ([`commit_group`]): a batch whose guard fails is refused alone and answered
/// `Conflict`, the others commit. Grouping saves a lock hand-off, a WAL sync and a
/// checkpoint share per request, and no writer of this process ever waits on SQLite's busy timer.
/// Ends when every sender is gone.
fn run_writer(
    mut conn: Connection,
    mut jobs: mpsc::Receiver<WriteJob>,
    deliveries_queued: &Notify,
    (checkpointer, restart_due): &(std::sync::mpsc::SyncSender<()>, Arc<AtomicBool>),
    watch: &mut OutsideWatch,
) {
    while let Some(first) = jobs.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let batches: Vec<Batch> = group
            .iter_mut()
            .map(|job| std::mem::take(&mut job.batch))
            .collect();
        match commit_group(&mut conn, &batches, watch) {
            Ok((outcomes, queued)) => {
                // Full: a wake-up is already pending.
                let _ = checkpointer.try_send(());
                if queued > 0 {
                    deliveries_queued.notify_one();
                }
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    let _ = job.reply.send(outcome);
                }
                if restart_due.swap(false, Ordering::Acquire) {
                    if let Err(error) = checkpoint(&conn) {
                        tracing::warn!(error = %error, "the WAL checkpoint before a log restart failed");
                    }
                }
            }
            Err(error) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
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
///
/// The group first runs without savepoints, since a savepoint makes SQLite copy every page the
/// batch touches into a statement journal first (15 % of the writer's time in a profile). Guards
/// hold almost always; when one fails, the transaction is rolled back and the group runs again
/// with a savepoint per batch, so that only the failing batch is refused. A batch refused at its
/// first write, when that write leaves nothing behind ([`leaves_nothing_when_refused`]), is
/// refused alone without either.
fn commit_group(
    conn: &mut Connection,
    batches: &[Batch],
    watch: &mut OutsideWatch,
) -> Result<(Vec<Result<(), StoreError>>, u64), rusqlite::Error> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    watch.look(conn)?;
    let mut queued = 0;
    let mut outcomes = Vec::with_capacity(batches.len());
    for batch in batches {
        match apply_batch(conn, batch) {
            Ok(count) => {
                queued += count;
                outcomes.push(Ok(()));
            }
            // Nothing of this batch was written: refuse it alone, without a savepoint.
            Err((0, StoreError::Conflict)) if leaves_nothing_when_refused(&batch.writes[0]) => {
                outcomes.push(Err(StoreError::Conflict));
            }
            Err(_) => {
                conn.prepare_cached("ROLLBACK")?.execute([])?;
                return commit_group_batch_by_batch(conn, batches);
            }
        }
    }
    conn.prepare_cached("COMMIT")?.execute([])?;
    Ok((outcomes, queued))
}

/// A write that, refused, leaves the transaction as it was: a single INSERT, which SQLite backs
/// out whole when it breaks a constraint. An inquiry create whose reference-id already has an
/// account starts with one (it inserts the account without reading first).
fn leaves_nothing_when_refused(write: &Write) -> bool {
    matches!(write, Write::InsertAccount(_))
}

/// Commits the batches in one transaction, each inside its own savepoint: a batch whose guard
/// fails is rolled back alone and answered with its error, the others commit.
fn commit_group_batch_by_batch(
    conn: &mut Connection,
    batches: &[Batch],
) -> Result<(Vec<Result<(), StoreError>>, u64), rusqlite::Error> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let mut outcomes = Vec::with_capacity(batches.len());
    let mut queued = 0;
    for batch in batches {
        conn.prepare_cached("SAVEPOINT batch")?.execute([])?;
        let outcome = apply_batch(conn, batch).map_err(|(_, error)| error);
        match outcome {
            Ok(count) => queued += count,
            Err(_) => {
                conn.prepare_cached("ROLLBACK TO batch")?.execute([])?;
            }
        }
        conn.prepare_cached("RELEASE batch")?.execute([])?;
        outcomes.push(outcome.map(|_| ()));
    }
    conn.prepare_cached("COMMIT")?.execute([])?;
    Ok((outcomes, queued))
}

/// Applies one batch's writes in order, stopping at the first that fails; returns how many
/// webhook deliveries they queued, or the index of the write that failed and why.
fn apply_batch(conn: &Connection, batch: &Batch) -> Result<u64, (usize, StoreError)> {
    let mut queued = 0;
    for (index, write) in batch.writes.iter().enumerate() {
        let rendered = batch.rendered.get(index).and_then(Option::as_deref);
        queued += apply(conn, write, rendered).map_err(|error| (index, error))?;
    }
    Ok(queued)
}

/// Runs `sql` with `params`; returns how many rows it changed.
fn run(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// A guarded write must touch exactly one row; otherwise the row was not in the state it
/// expected and the whole batch is refused.
fn exactly_one(changed: usize) -> Result<(), StoreError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

/// Runs an INSERT whose unique keys another writer may have taken first (`Conflict` then).
fn insert_unique(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    match statement.execute(params) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(failure, _))
            if failure.code == ErrorCode::ConstraintViolation
                && matches!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
        {
            Err(StoreError::Conflict)
        }
        Err(error) => Err(error.into()),
    }
}

/// `value` as JSON text, written into a buffer sized for an event snapshot so that it is not
/// grown several times on the way.
fn json(value: &impl Serialize) -> Result<String, StoreError> {
    let mut text = Vec::with_capacity(1024);
    serde_json::to_writer(&mut text, value).map_err(corrupt)?;
    String::from_utf8(text).map_err(corrupt)
}

/// The guarded UPDATE that moves an inquiry into `to`, stamping the time column of that status;
/// `None` for `created`, which no transition enters.
fn inquiry_transition_sql(to: InquiryStatus) -> Option<&'static str> {
    Some(match to {
        InquiryStatus::Created => return None,
        InquiryStatus::Pending => "UPDATE inquiries SET status = ?, updated_at = ?, started_at = ? WHERE id = ? AND status = ?",
        InquiryStatus::Completed => "UPDATE inquiries SET status = ?, updated_at = ?, completed_at = ? WHERE id = ? AND status = ?",
        InquiryStatus::Failed => "UPDATE inquiries SET status = ?, updated_at = ?, failed_at = ? WHERE id = ? AND status = ?",
        InquiryStatus::Expired => "UPDATE inquiries SET status = ?, updated_at = ?, expired_at = ? WHERE id = ? AND status = ?",
        InquiryStatus::NeedsReview | InquiryStatus::Approved | InquiryStatus::Declined => {
            "UPDATE inquiries SET status = ?, updated_at = ?, decisioned_at = ? WHERE id = ? AND status = ?"
        }
    })
}

/// Applies one write; `rendered` is an event's payload, when it was rendered before. Returns how
/// many webhook deliveries it queued.
fn apply(conn: &Connection, write: &Write, rendered: Option<&str>) -> Result<u64, StoreError> {
    match write {
        Write::InsertInquiry(inquiry) => {
            run(
                conn,
                "INSERT INTO inquiries (id, template_id, template_version_id, status, reference_id, fields, \
                 created_at, expires_at, updated_at, account_id, note, tags, redirect_uri) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params![
                    inquiry.id.as_str(),
                    inquiry.template_id.as_str(),
                    inquiry.template_version_id.as_str(),
                    inquiry.status.as_str(),
                    inquiry.reference_id.as_deref(),
                    json(&inquiry.fields)?,
                    to_millis(inquiry.created_at),
                    to_millis(inquiry.expires_at),
                    to_millis(inquiry.updated_at),
                    inquiry.account_id.as_ref().map(AccountId::as_str),
                    inquiry.note.as_deref(),
                    json(&inquiry.tags)?,
                    inquiry.redirect_uri.as_deref(),
                ],
            )?;
        }
        Write::TransitionInquiry { id, from, to, at } => {
            let sql = inquiry_transition_sql(*to)
                .ok_or_else(|| StoreError::Corrupt(format!("no transition enters {to}")))?;
            let at = to_millis(*at);
            exactly_one(run(
                conn,
                sql,
                params![to.as_str(), at, at, id.as_str(), from.as_str()],
            )?)?;
        }
        Write::SubmitInquiryFields { id, fields, at } => {
            exactly_one(run(
                conn,
                "UPDATE inquiries SET fields = ?, field_draft = NULL, fields_submitted_at = ?, updated_at = ? \
                 WHERE id = ? AND fields_submitted_at IS NULL",
                params![json(&fields)?, to_millis(*at), to_millis(*at), id.as_str()],
            )?)?;
        }
        Write::SaveFieldDraft { id, draft } => {
            exactly_one(run(
                conn,
                "UPDATE inquiries SET field_draft = ? WHERE id = ? AND fields_submitted_at IS NULL",
                params![json(&draft)?, id.as_str()],
            )?)?;
        }
        Write::InsertSession(session) => {
            run(
                conn,
                "INSERT INTO inquiry_sessions (id, inquiry_id, token_hash, created_at, expires_at, revoked_at) \
                 VALUES (?, ?, ?, ?, ?, ?)",
                params![
                    session.id.as_str(),
                    session.inquiry_id.as_str(),
                    session.token_hash,
                    to_millis(session.created_at),
                    to_millis(session.expires_at),
                    session.revoked_at.map(to_millis),
                ],
            )?;
        }
        Write::InsertDocument(document) => {
            run(
                conn,
                "INSERT INTO documents (id, inquiry_id, kind, side, object_key, content_type, byte_size, sha256, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params![
                    document.id.as_str(),
                    document.inquiry_id.as_str(),
                    document.kind,
                    document.side,
                    document.object_key,
                    document.content_type,
                    i64::try_from(document.byte_size).map_err(corrupt)?,
                    document.sha256,
                    to_millis(document.created_at),
                ],
            )?;
        }
        Write::InsertVerification(verification) => {
            let inserted = run(
                conn,
                "INSERT INTO verifications (id, inquiry_id, kind, attempt, status, document_id, checks, created_at, \
                 submitted_at, completed_at, country_code, id_class, back_document_id, extracted) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (inquiry_id, kind, attempt) DO NOTHING",
                params![
                    verification.id.as_str(),
                    verification.inquiry_id.as_str(),
                    verification.kind,
                    i64::from(verification.attempt),
                    verification.status.as_str(),
                    verification.document_id.as_ref().map(DocumentId::as_str),
                    json(&verification.checks)?,
                    to_millis(verification.created_at),
                    verification.submitted_at.map(to_millis),
                    verification.completed_at.map(to_millis),
                    verification.country_code.as_deref(),
                    verification.id_class.as_deref(),
                    verification.back_document_id.as_ref().map(DocumentId::as_str),
                    verification.extracted_sealed.as_deref(),
                ],
            )?;
            if inserted != 1 {
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
            let at = to_millis(*at);
            let (submitted_at, completed_at) = match to {
                VerificationStatus::Submitted => (Some(at), None),
                VerificationStatus::Passed
                | VerificationStatus::Failed
                | VerificationStatus::Canceled => (None, Some(at)),
                VerificationStatus::Created => (None, None),
            };
            let checks = checks.as_ref().map(json).transpose()?;
            exactly_one(run(
                conn,
                "UPDATE verifications SET status = ?, submitted_at = COALESCE(?, submitted_at), \
                 completed_at = COALESCE(?, completed_at), checks = COALESCE(?, checks) WHERE id = ? AND status = ?",
                params![
                    to.as_str(),
                    submitted_at,
                    completed_at,
                    checks,
                    id.as_str(),
                    from.as_str()
                ],
            )?)?;
        }
        Write::InsertEvent(event) => return insert_event(conn, event, rendered),
        Write::InsertAccount(account) => {
            insert_unique(
                conn,
                "INSERT INTO accounts (id, reference_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
                params![
                    account.id.as_str(),
                    account.reference_id.as_deref(),
                    to_millis(account.created_at),
                    to_millis(account.updated_at),
                ],
            )?;
        }
        Write::TouchApiKey {
            id,
            at,
            unless_since,
        } => {
            run(
                conn,
                "UPDATE api_keys SET last_used_at = ? \
                 WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                params![to_millis(*at), id.as_str(), to_millis(*unless_since)],
            )?;
        }
        Write::UpdateInquiryAttributes {
            id,
            fields,
            tags,
            note,
            at,
        } => {
            exactly_one(run(
                conn,
                "UPDATE inquiries SET fields = ?, tags = ?, note = ?, updated_at = ? \
                 WHERE id = ? AND status IN ('created', 'pending') AND redacted_at IS NULL",
                params![
                    json(&fields)?,
                    json(&tags)?,
                    note,
                    to_millis(*at),
                    id.as_str()
                ],
            )?)?;
        }
        Write::RedactInquiry { id, at } => {
            exactly_one(run(
                conn,
                "UPDATE inquiries SET fields = '{}', field_draft = NULL, note = NULL, redacted_at = ?, updated_at = ? \
                 WHERE id = ? AND redacted_at IS NULL",
                params![to_millis(*at), to_millis(*at), id.as_str()],
            )?)?;
            run(
                conn,
                "UPDATE verifications SET extracted = NULL WHERE inquiry_id = ?",
                params![id.as_str()],
            )?;
            // The snapshots in its events (and so in deliveries not yet sent) lose it too.
            run(
                conn,
                "UPDATE events SET payload = json_set(payload, '$.object.inquiry.fields', json('{}'), \
                 '$.object.inquiry.field_draft', NULL, '$.object.inquiry.note', NULL) \
                 WHERE object_id = ? AND object_type = 'inquiry'",
                params![id.as_str()],
            )?;
        }
        Write::EraseIdempotentResponses { resource_id } => {
            run(
                conn,
                "UPDATE idempotency_keys SET response_status = 410, response_body = ? WHERE resource_id = ?",
                params![REDACTED_REPLAY_BODY.as_bytes(), resource_id],
            )?;
        }
        Write::RevokeSessions { inquiry_id, at } => {
            run(
                conn,
                "UPDATE inquiry_sessions SET revoked_at = ? WHERE inquiry_id = ? AND revoked_at IS NULL",
                params![to_millis(*at), inquiry_id.as_str()],
            )?;
            run(
                conn,
                "UPDATE one_time_links SET used_at = ? WHERE inquiry_id = ? AND used_at IS NULL",
                params![to_millis(*at), inquiry_id.as_str()],
            )?;
        }
        Write::InsertOneTimeLink {
            code_hash,
            inquiry_id,
            created_at,
            expires_at,
        } => {
            run(
                conn,
                "INSERT INTO one_time_links (code_hash, inquiry_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                params![
                    code_hash,
                    inquiry_id.as_str(),
                    to_millis(*created_at),
                    to_millis(*expires_at)
                ],
            )?;
        }
        Write::SetPendingGovernmentId {
            id,
            country_code,
            id_class,
            document_id,
            back_document_id,
        } => {
            exactly_one(run(
                conn,
                "UPDATE verifications SET country_code = ?, id_class = ?, document_id = ?, \
                 back_document_id = ? WHERE id = ? AND status = 'created'",
                params![
                    country_code,
                    id_class,
                    document_id.as_ref().map(DocumentId::as_str),
                    back_document_id.as_ref().map(DocumentId::as_str),
                    id.as_str(),
                ],
            )?)?;
        }
        Write::SetVerificationExtracted { id, sealed } => {
            run(
                conn,
                "UPDATE verifications SET extracted = ? WHERE id = ?",
                params![sealed, id.as_str()],
            )?;
        }
        Write::CompleteIdempotencyKey {
            api_key_id,
            key,
            status,
            body,
            resource_id,
        } => {
            run(
                conn,
                "UPDATE idempotency_keys SET response_status = ?, response_body = ?, resource_id = ? \
                 WHERE api_key_id = ? AND idempotency_key = ?",
                params![
                    i64::from(*status),
                    body,
                    resource_id,
                    api_key_id.as_str(),
                    key
                ],
            )?;
        }
        Write::InsertWebhook {
            webhook,
            sealed_secret,
        } => {
            run(
                conn,
                "INSERT INTO webhooks (id, url, enabled_events, status, secret, created_at, updated_at, disabled_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                params![
                    webhook.id.as_str(),
                    webhook.url,
                    json(&webhook.enabled_events)?,
                    webhook.status.as_str(),
                    sealed_secret,
                    to_millis(webhook.created_at),
                    to_millis(webhook.updated_at),
                    webhook.disabled_at.map(to_millis),
                ],
            )?;
        }
        Write::UpdateWebhook {
            id,
            url,
            enabled_events,
            status,
            at,
        } => {
            let at = to_millis(*at);
            exactly_one(run(
                conn,
                "UPDATE webhooks SET url = ?1, enabled_events = ?2, status = ?3, updated_at = ?4, \
                 disabled_at = CASE WHEN ?3 = 'disabled' THEN COALESCE(disabled_at, ?4) ELSE NULL END, \
                 last_success_at = CASE WHEN status = 'disabled' AND ?3 = 'enabled' THEN NULL ELSE last_success_at END \
                 WHERE id = ?5",
                params![
                    url,
                    json(&enabled_events)?,
                    status.as_str(),
                    at,
                    id.as_str()
                ],
            )?)?;
        }
        Write::DeleteWebhook { id } => {
            exactly_one(run(
                conn,
                "DELETE FROM webhooks WHERE id = ?",
                params![id.as_str()],
            )?)?;
        }
        Write::RotateWebhookSecret {
            id,
            sealed_secret,
            sealed_previous,
            previous_expires_at,
            at,
        } => {
            exactly_one(run(
                conn,
                "UPDATE webhooks SET secret = ?, previous_secret = ?, previous_secret_expires_at = ?, updated_at = ? \
                 WHERE id = ?",
                params![
                    sealed_secret,
                    sealed_previous,
                    to_millis(*previous_expires_at),
                    to_millis(*at),
                    id.as_str()
                ],
            )?)?;
        }
        Write::DisableFailingWebhook {
            id,
            failing_since,
            at,
        } => {
            exactly_one(run(
                conn,
                "UPDATE webhooks SET status = 'disabled', disabled_at = ?, updated_at = ? \
                 WHERE id = ? AND status = 'enabled' AND (last_success_at IS NULL OR last_success_at < ?)",
                params![
                    to_millis(*at),
                    to_millis(*at),
                    id.as_str(),
                    to_millis(*failing_since)
                ],
            )?)?;
        }
        Write::RecordDeliveryAttempt { attempt, next } => {
            let at = to_millis(attempt.attempted_at);
            let attempts = i64::from(attempt.attempt);
            let updated = match next {
                DeliveryNext::Succeeded | DeliveryNext::GiveUp => run(
                    conn,
                    "UPDATE webhook_deliveries SET status = ?, attempts = ?, claimed_until = NULL, \
                     first_attempt_at = COALESCE(first_attempt_at, ?), completed_at = ? WHERE id = ?",
                    params![
                        if *next == DeliveryNext::Succeeded {
                            "succeeded"
                        } else {
                            "failed"
                        },
                        attempts,
                        at,
                        at,
                        attempt.delivery_id
                    ],
                )?,
                DeliveryNext::RetryAt(next_at) => run(
                    conn,
                    "UPDATE webhook_deliveries SET attempts = ?, claimed_until = NULL, next_attempt_at = ?, \
                     first_attempt_at = COALESCE(first_attempt_at, ?) WHERE id = ?",
                    params![attempts, to_millis(*next_at), at, attempt.delivery_id],
                )?,
            };
            if updated == 1 {
                run(
                    conn,
                    "INSERT INTO webhook_attempts (id, webhook_id, delivery_id, event_id, event_name, attempt, \
                     attempted_at, status_code, latency_ms, error, succeeded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        attempt.id.as_str(),
                        attempt.webhook_id.as_str(),
                        attempt.delivery_id,
                        attempt.event_id.as_str(),
                        attempt.event_name,
                        attempts,
                        at,
                        attempt.status_code.map(i64::from),
                        i64::try_from(attempt.latency_ms).unwrap_or(i64::MAX),
                        attempt.error.as_deref(),
                        attempt.succeeded,
                    ],
                )?;
                if *next == DeliveryNext::Succeeded {
                    run(
                        conn,
                        "UPDATE webhooks SET last_success_at = MAX(COALESCE(last_success_at, 0), ?) WHERE id = ?",
                        params![at, attempt.webhook_id.as_str()],
                    )?;
                }
            }
        }
    }
    Ok(0)
}

/// The object an event is about, as this transaction has it now.
fn snapshot_of(
    conn: &Connection,
    object_type: &str,
    object_id: &str,
) -> Result<Option<ObjectSnapshot>, StoreError> {
    let sql = match object_type {
        "inquiry" => "SELECT * FROM inquiries WHERE id = ?",
        "verification" => "SELECT * FROM verifications WHERE id = ?",
        "webhook" => "SELECT * FROM webhooks WHERE id = ?",
        _ => return Ok(None),
    };
    let mut statement = conn.prepare_cached(sql)?;
    let snapshot = statement
        .query_row([object_id], |row| {
            Ok(match object_type {
                "inquiry" => inquiry_from_row(row).map(|r| ObjectSnapshot::Inquiry(Box::new(r))),
                "verification" => {
                    verification_from_row(row).map(|r| ObjectSnapshot::Verification(Box::new(r)))
                }
                _ => webhook_from_row(row).map(|r| ObjectSnapshot::Webhook(Box::new(r))),
            })
        })
        .optional()?;
    snapshot.transpose()
}

/// The inquiry as its INSERT stores it (times to the millisecond; the columns it leaves empty,
/// empty): what reading the row back would give.
fn as_inserted(inquiry: &InquiryRecord) -> InquiryRecord {
    let stored = |at: OffsetDateTime| from_millis(to_millis(at));
    InquiryRecord {
        field_draft: None,
        fields_submitted_at: None,
        started_at: None,
        completed_at: None,
        failed_at: None,
        expired_at: None,
        decisioned_at: None,
        redacted_at: None,
        created_at: stored(inquiry.created_at),
        expires_at: stored(inquiry.expires_at),
        updated_at: stored(inquiry.updated_at),
        ..inquiry.clone()
    }
}

/// The snapshot an event's payload carries when it needs no read: when the write just before
/// the event inserted its inquiry, that inquiry as stored.
fn known_snapshot(event: &NewEvent, previous: Option<&Write>) -> Option<ObjectSnapshot> {
    match previous {
        Some(Write::InsertInquiry(inquiry))
            if event.object_type == "inquiry" && inquiry.id.as_str() == event.object_id =>
        {
            Some(ObjectSnapshot::Inquiry(Box::new(as_inserted(inquiry))))
        }
        _ => None,
    }
}

/// An event's stored payload (JSON): its object's snapshot and the status it left.
fn event_payload(event: &NewEvent, object: Option<ObjectSnapshot>) -> Result<String, StoreError> {
    json(&super::sqlite::StoredEventPayload {
        object,
        previous_status: event.previous_status.map(str::to_owned),
    })
}

/// Appends an event with its object's snapshot and queues it for every enabled webhook that
/// subscribes to its name; returns how many deliveries it queued. `rendered` is the payload when
/// it was rendered before (see [`known_snapshot`]); otherwise the snapshot is read here.
fn insert_event(
    conn: &Connection,
    event: &NewEvent,
    rendered: Option<&str>,
) -> Result<u64, StoreError> {
    let read;
    let payload = match rendered {
        Some(payload) => payload,
        None => {
            read = event_payload(
                event,
                snapshot_of(conn, event.object_type, &event.object_id)?,
            )?;
            read.as_str()
        }
    };
    let created_at = to_millis(event.created_at);
    run(
        conn,
        "INSERT INTO events (id, name, object_type, object_id, inquiry_id, sequence, payload, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM events WHERE object_id = ?4), ?6, ?7)",
        params![
            event.id.as_str(),
            event.name,
            event.object_type,
            event.object_id,
            event.inquiry_id.as_ref().map(|id| id.as_str()),
            payload,
            created_at,
        ],
    )?;
    let queued = run(
        conn,
        "INSERT INTO webhook_deliveries (webhook_id, event_id, status, next_attempt_at, created_at) \
         SELECT id, ?1, 'pending', ?2, ?2 FROM webhooks WHERE status = 'enabled' \
         AND EXISTS (SELECT 1 FROM json_each(webhooks.enabled_events) WHERE value IN ('*', ?3))",
        params![event.id.as_str(), created_at, event.name],
    )?;
    Ok(queued as u64)
}

/// Read-only connections for point reads, reused across requests; one is opened when all are
/// busy, and at most [`IDLE_READERS`] are kept.
#[derive(Debug)]
pub(super) struct ReadConnections {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<Connection>>,
}

/// How many idle read connections are kept open.
const IDLE_READERS: usize = 8;

impl ReadConnections {
    pub(super) fn new(path: &Path) -> ReadConnections {
        ReadConnections {
            path: path.to_owned(),
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on an idle connection (or a new one), then keeps the connection for the next.
    pub(super) fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let conn = match taken {
            Some(conn) => conn,
            None => open(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)?,
        };
        let result = read(&conn);
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::RESTART_FRAMES;
    use crate::records::AccountRecord;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{Store, Write};
    use domain::ids::AccountId;
    use time::OffsetDateTime;

    /// Under steady commits only the writer's own checkpoint can let the log start over; the
    /// checkpointer asks for it once the log is [`RESTART_FRAMES`] long. Without that hand-off
    /// the log would grow to the writer's automatic checkpoint (four times as long) first.
    #[tokio::test]
    async fn the_write_ahead_log_starts_over_under_steady_commits() {
        let data = tempfile::tempdir().unwrap();
        let path = data.path().join("verity.sqlite3");
        let store = SqliteStore::open(&path).await.unwrap();
        let frame = 4096 + 24;
        // An account's commit writes at least three frames (its table and two indexes), so
        // these write at least three times RESTART_FRAMES.
        for n in 0..RESTART_FRAMES + 100 {
            let now = OffsetDateTime::now_utc();
            let account = AccountRecord {
                id: AccountId::new(),
                reference_id: Some(format!("log-restart-{n}")),
                created_at: now,
                updated_at: now,
            };
            store
                .commit(vec![Write::InsertAccount(account)])
                .await
                .unwrap();
        }
        let log_length = std::fs::metadata(data.path().join("verity.sqlite3-wal"))
            .unwrap()
            .len() as i64;
        assert!(
            log_length < 3 * RESTART_FRAMES * frame,
            "the log never started over: {} frames",
            log_length / frame
        );
    }

    /// `.cargo/config.toml` builds the bundled SQLite without memory statistics and without one
    /// page cache shared by all connections, each of which put a global mutex on the writer's
    /// hot path; a build that bypassed that file would lose both without any other sign.
    #[test]
    fn the_bundled_sqlite_has_no_global_mutex_on_allocations_or_page_fetches() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            options.iter().any(|option| option == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options
                .iter()
                .any(|option| option == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }
}
