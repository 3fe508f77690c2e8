//! The `verity` command line through its public door: the built binary, its exit codes and output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn verity(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verity"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VERITY_DATA_DIR", data_dir)
        .env("VERITY_TEMPLATES_DIR", templates_dir())
        .env("RUST_LOG", "warn")
        .output()
        .expect("the verity binary runs")
}

fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates")
}

#[test]
fn template_check_prints_ids_and_content_versions() {
    let data = tempfile::tempdir().unwrap();
    let file = templates_dir().join("basic-kyc.toml");
    let output = verity(&["template", "check", file.to_str().unwrap()], data.path());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let columns: Vec<&str> = stdout.trim().split('\t').collect();
    assert_eq!(columns.len(), 3, "{stdout}");
    assert_eq!(columns[1], "itmpl_basic_kyc");
    assert!(columns[2].starts_with("itmplv_"), "{stdout}");
    // The same content always gives the same version id.
    let again = verity(&["template", "check", file.to_str().unwrap()], data.path());
    assert_eq!(String::from_utf8(again.stdout).unwrap(), stdout);
}

#[test]
fn template_check_refuses_an_invalid_template_with_its_reason() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("broken.toml");
    std::fs::write(&file, "id = \"itmpl_broken\"\nname = \"Broken\"\n[[verifications]]\ntype = \"government-id\"\nmax-attempts = 0\n").unwrap();
    let output = verity(&["template", "check", file.to_str().unwrap()], data.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("between 1 and 10 attempts"), "{stderr}");
}

#[test]
fn migrate_creates_the_database_and_is_idempotent() {
    let data = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = verity(&["migrate"], data.path());
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(data.path().join("verity.sqlite3").exists());
    assert!(data.path().join("documents").is_dir());
}

#[test]
fn a_database_that_cannot_be_migrated_stops_the_process() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("verity.sqlite3"),
        b"this is not a SQLite database, not even close....",
    )
    .unwrap();
    for command in [&["migrate"][..], &["serve"][..]] {
        let output = verity(command, data.path());
        assert!(!output.status.success(), "`verity {command:?}` must fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("SQLite") || stderr.contains("migrations"),
            "{stderr}"
        );
    }
}

#[test]
fn bad_configuration_is_refused_before_anything_starts() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_verity"))
        .arg("serve")
        .env("VERITY_DATA_DIR", data.path())
        .env("LEPTOS_SITE_ADDR", "not-an-address")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("LEPTOS_SITE_ADDR"));
    assert!(
        !data.path().join("verity.sqlite3").exists(),
        "nothing is created on a refused start"
    );
}
