//! `verity api-key create|list|revoke` through the built binary: what it prints, what it stores
//! (only the hash), and that the keys it makes authenticate until they are revoked.

use engine::api_keys;
use engine::Engine;
use sqlx::{Connection, Row, SqliteConnection};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates")
}

fn verity_with_log_filter(args: &[&str], data_dir: &Path, rust_log: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verity"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VERITY_DATA_DIR", data_dir)
        .env("VERITY_TEMPLATES_DIR", templates_dir())
        .env("RUST_LOG", rust_log)
        .output()
        .expect("the verity binary runs")
}

fn verity(args: &[&str], data_dir: &Path) -> Output {
    verity_with_log_filter(args, data_dir, "warn")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `api-key create`, checks it succeeded, and returns the key it printed.
fn create_key(data_dir: &Path, name: &str) -> String {
    let output = verity(&["api-key", "create", "--name", name], data_dir);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = stdout(&output);
    let key = stdout
        .strip_suffix('\n')
        .expect("the key ends with a newline");
    assert!(!key.contains('\n'), "only the key is on stdout: {stdout:?}");
    key.to_owned()
}

/// One parsed line of `api-key list`.
#[derive(Debug)]
struct Listed {
    id: String,
    name: String,
    prefix: String,
    created_at: String,
    status: String,
    last_used: String,
}

fn list_keys(data_dir: &Path) -> (String, Vec<Listed>) {
    let output = verity(&["api-key", "list"], data_dir);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = stdout(&output);
    let rows = stdout
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            assert_eq!(columns.len(), 6, "six tab-separated columns: {line:?}");
            Listed {
                id: columns[0].to_owned(),
                name: columns[1].to_owned(),
                prefix: columns[2].to_owned(),
                created_at: columns[3].to_owned(),
                status: columns[4].to_owned(),
                last_used: columns[5].to_owned(),
            }
        })
        .collect();
    (stdout, rows)
}

fn assert_rfc3339_utc(text: &str) -> OffsetDateTime {
    assert!(text.ends_with('Z'), "UTC: {text}");
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|error| panic!("{text}: {error}"))
}

async fn open_engine(data_dir: &Path) -> Engine {
    Engine::open_default(data_dir, &templates_dir())
        .await
        .expect("the engine opens the CLI's data folder")
}

#[test]
fn create_prints_the_key_alone_and_never_logs_it() {
    let data = tempfile::tempdir().unwrap();
    // The most verbose logging there is: still no key on stderr.
    let output = verity_with_log_filter(
        &["api-key", "create", "--name", "billing backend"],
        data.path(),
        "trace",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = stdout(&output);
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    let key = stdout.strip_suffix('\n').expect("a trailing newline");
    assert!(key.starts_with("verity_"), "{key}");
    assert!(api_keys::is_well_formed(key), "{key}");
    let stderr = stderr(&output);
    assert!(!stderr.contains(key), "the key leaked to stderr: {stderr}");
    assert!(stderr.contains("Created API key key_"), "{stderr}");
    assert!(stderr.contains("billing backend"), "{stderr}");
    assert!(stderr.contains("shown only once"), "{stderr}");
    // A second key is a different key.
    assert_ne!(create_key(data.path(), "second"), key);
}

#[tokio::test]
async fn only_the_hash_of_the_key_is_stored() {
    let data = tempfile::tempdir().unwrap();
    let key = create_key(data.path(), "stored");
    let url = format!("sqlite://{}", data.path().join("verity.sqlite3").display());
    let mut db = SqliteConnection::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT * FROM api_keys")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let key_hash: String = row.try_get("key_hash").unwrap();
    let key_prefix: String = row.try_get("key_prefix").unwrap();
    assert_eq!(key_hash, api_keys::hash(&key));
    assert_eq!(key_prefix, api_keys::display_prefix(&key));
    assert!(key.starts_with(&key_prefix) && key_prefix.len() < key.len());
    // No column of the row holds the key, or contains it.
    for index in 0..row.len() {
        if let Ok(Some(text)) = row.try_get::<Option<String>, _>(index) {
            assert!(!text.contains(&key), "column {index} holds the key");
        }
    }
    db.close().await.unwrap();
}

#[test]
fn list_shows_id_name_prefix_and_status_but_never_the_key() {
    let data = tempfile::tempdir().unwrap();
    let (stdout, rows) = list_keys(data.path());
    assert!(
        rows.is_empty() && stdout.is_empty(),
        "no keys, no output: {stdout:?}"
    );

    let before = OffsetDateTime::now_utc().unix_timestamp();
    let first = create_key(data.path(), "billing backend");
    let second = create_key(data.path(), "  reporting job ");
    let (stdout, rows) = list_keys(data.path());
    assert!(
        !stdout.contains(&first) && !stdout.contains(&second),
        "{stdout}"
    );
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(rows[0].id.starts_with("key_"), "{rows:?}");
    assert_eq!(rows[0].name, "billing backend");
    assert_eq!(rows[0].prefix, api_keys::display_prefix(&first));
    assert_eq!(rows[0].status, "active");
    assert_eq!(rows[0].last_used, "-");
    let created = assert_rfc3339_utc(&rows[0].created_at).unix_timestamp();
    assert!(created >= before && created <= OffsetDateTime::now_utc().unix_timestamp());
    // The name is trimmed.
    assert_eq!(rows[1].name, "reporting job");
    assert_eq!(rows[1].prefix, api_keys::display_prefix(&second));

    let revoke = verity(&["api-key", "revoke", &rows[0].id], data.path());
    assert!(revoke.status.success(), "{}", stderr(&revoke));
    assert!(revoke.stdout.is_empty());
    assert_eq!(stderr(&revoke).trim(), format!("revoked {}", rows[0].id));

    let (stdout, after) = list_keys(data.path());
    assert!(!stdout.contains(&first), "{stdout}");
    assert_eq!(after[0].id, rows[0].id);
    let revoked_at = after[0]
        .status
        .strip_prefix("revoked ")
        .unwrap_or_else(|| panic!("revoked: {:?}", after[0]));
    assert!(assert_rfc3339_utc(revoked_at).unix_timestamp() >= created);
    assert_eq!(after[1].status, "active");
}

#[tokio::test]
async fn a_created_key_authenticates_until_it_is_revoked() {
    let data = tempfile::tempdir().unwrap();
    let key = create_key(data.path(), "integration");
    let other = create_key(data.path(), "other");
    let engine = open_engine(data.path()).await;

    let record = engine
        .authenticate_api_key(&key)
        .await
        .unwrap()
        .expect("the key authenticates");
    assert_eq!(record.name, "integration");
    assert_eq!(record.key_hash, api_keys::hash(&key));
    // The list shows when a key was last used; a key never used shows "-".
    let (stdout, rows) = list_keys(data.path());
    let used = rows.iter().find(|row| row.name == "integration").unwrap();
    assert_rfc3339_utc(&used.last_used);
    let unused = rows.iter().find(|row| row.name == "other").unwrap();
    assert_eq!(unused.last_used, "-", "{stdout}");

    // One character changed (in the body, then in the checksum): refused.
    for index in [api_keys::API_KEY_PREFIX.len() + 2, key.len() - 1] {
        let mut chars: Vec<char> = key.chars().collect();
        chars[index] = if chars[index] == 'A' { 'B' } else { 'A' };
        let typo: String = chars.into_iter().collect();
        assert_ne!(typo, key);
        assert!(
            engine.authenticate_api_key(&typo).await.unwrap().is_none(),
            "{index}"
        );
    }

    let revoke = verity(&["api-key", "revoke", record.id.as_str()], data.path());
    assert!(revoke.status.success(), "{}", stderr(&revoke));
    assert!(
        engine.authenticate_api_key(&key).await.unwrap().is_none(),
        "revoked keys are refused"
    );
    // Revoking one key leaves the others alone.
    assert!(engine.authenticate_api_key(&other).await.unwrap().is_some());

    // Revoking again is refused: the key is no longer active.
    let again = verity(&["api-key", "revoke", record.id.as_str()], data.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains(&format!("no active API key {}", record.id)),
        "{}",
        stderr(&again)
    );
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let data = tempfile::tempdir().unwrap();

    let unknown = verity(
        &["api-key", "revoke", "key_01JUNKNOWNUNKNOWNUNKNOWN00"],
        data.path(),
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(unknown.stdout.is_empty());
    assert!(
        stderr(&unknown).contains("no active API key key_01JUNKNOWNUNKNOWNUNKNOWN00"),
        "{}",
        stderr(&unknown)
    );

    let malformed = verity(&["api-key", "revoke", "inq_123"], data.path());
    assert!(!malformed.status.success());
    assert!(
        stderr(&malformed).contains("not a valid API key id"),
        "{}",
        stderr(&malformed)
    );

    for name in ["", "   ", &"x".repeat(101)] {
        let output = verity(&["api-key", "create", "--name", name], data.path());
        assert!(!output.status.success(), "name {name:?} must be refused");
        assert!(output.stdout.is_empty(), "no key printed for {name:?}");
        assert!(
            stderr(&output).contains("1 to 100 printable characters"),
            "{}",
            stderr(&output)
        );
    }
    let missing = verity(&["api-key", "create"], data.path());
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("--name"), "{}", stderr(&missing));

    let (stdout, rows) = list_keys(data.path());
    assert!(rows.is_empty(), "nothing was created: {stdout}");
}
