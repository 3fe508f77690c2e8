//! The OpenAPI document: `docs/openapi.json` is the committed copy of what the code generates and
//! must not drift from it, and the generated document keeps the API's contract (OpenAPI 3.1, an
//! API key on every `/api/v1` operation, the error envelope on every 4xx).
//!
//! After changing the API, refresh the committed copy with
//! `VERITY_UPDATE_OPENAPI=1 cargo test -p server --test openapi`.

use serde_json::Value;
use std::path::PathBuf;

const UPDATE_COMMAND: &str = "VERITY_UPDATE_OPENAPI=1 cargo test -p server --test openapi";

/// The committed copy, at the repository root.
fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

/// The generated document as it is committed: pretty JSON with a final newline.
fn generated_text() -> String {
    let json = server::api::openapi_json();
    assert!(
        !json.is_empty(),
        "the OpenAPI document could not be serialized"
    );
    format!("{json}\n")
}

fn generated() -> Value {
    serde_json::from_str(&server::api::openapi_json()).expect("the OpenAPI document is JSON")
}

/// The operations of a path item, as `(method, operation)`.
fn operations(path_item: &Value) -> Vec<(&str, &Value)> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    METHODS
        .iter()
        .filter_map(|method| path_item.get(*method).map(|operation| (*method, operation)))
        .collect()
}

/// Every `(path, method, operation)` of the document.
fn all_operations(document: &Value) -> Vec<(&str, &str, &Value)> {
    document["paths"]
        .as_object()
        .expect("the document has paths")
        .iter()
        .flat_map(|(path, item)| {
            operations(item)
                .into_iter()
                .map(move |(method, operation)| (path.as_str(), method, operation))
        })
        .collect()
}

#[test]
fn committed_document_matches_the_code() {
    let generated = generated_text();
    let path = committed_path();
    if std::env::var("VERITY_UPDATE_OPENAPI").as_deref() == Ok("1") {
        let folder = path.parent().expect("docs/ has a parent");
        std::fs::create_dir_all(folder).expect("docs/ can be created");
        std::fs::write(&path, &generated).expect("docs/openapi.json can be written");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = match std::fs::read_to_string(&path) {
        Ok(committed) => committed,
        Err(error) => panic!(
            "{} cannot be read ({error}); create it with `{UPDATE_COMMAND}`",
            path.display()
        ),
    };
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(old, new)| old != new)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        let line = |text: &str| {
            text.lines()
                .nth(first_difference)
                .unwrap_or("<end of file>")
                .to_owned()
        };
        panic!(
            "docs/openapi.json is out of date with the code (first difference at line {}):\n  \
             committed: {}\n  generated: {}\nRun `{UPDATE_COMMAND}` and commit the result.",
            first_difference + 1,
            line(&committed),
            line(&generated),
        );
    }
}

#[test]
fn document_is_openapi_3_1() {
    let document = generated();
    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("3.1."),
        "the document must be OpenAPI 3.1.x, not `{version}`"
    );
}

#[test]
fn every_api_operation_requires_an_api_key() {
    let document = generated();
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("the document declares security schemes");
    let global = document.get("security");
    let mut checked = 0;
    let mut missing = Vec::new();
    for (path, method, operation) in all_operations(&document) {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        checked += 1;
        // An operation's own `security` replaces the document's; `[]` or `[{}]` would make it public.
        let requirements = operation
            .get("security")
            .or(global)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let protected = !requirements.is_empty()
            && requirements.iter().all(|requirement| {
                requirement
                    .as_object()
                    .is_some_and(|names| !names.is_empty())
            });
        if !protected {
            missing.push(format!("{} {path}", method.to_uppercase()));
        }
        for requirement in &requirements {
            for name in requirement.as_object().into_iter().flat_map(|r| r.keys()) {
                assert!(
                    schemes.contains_key(name),
                    "{} {path} names the security scheme `{name}`, which is not declared",
                    method.to_uppercase()
                );
            }
        }
    }
    assert!(checked > 0, "the document has no /api/v1 operations");
    assert!(
        missing.is_empty(),
        "operations without a security requirement: {missing:?}"
    );
}

#[test]
fn every_4xx_response_is_the_error_envelope() {
    let document = generated();
    assert!(
        document["components"]["schemas"]["ErrorDocument"].is_object(),
        "the ErrorDocument schema is declared"
    );
    let mut wrong = Vec::new();
    for (path, method, operation) in all_operations(&document) {
        let responses = operation["responses"]
            .as_object()
            .expect("every operation has responses");
        for (status, response) in responses {
            if !(status.starts_with('4') && status.len() == 3) {
                continue;
            }
            let content = response["content"].as_object();
            let envelope = content.is_some_and(|content| {
                !content.is_empty()
                    && content.values().all(|media| {
                        media["schema"]["$ref"] == "#/components/schemas/ErrorDocument"
                    })
            });
            if !envelope {
                wrong.push(format!("{} {path} {status}", method.to_uppercase()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "4xx responses that are not the ErrorDocument envelope: {wrong:?}"
    );
}
