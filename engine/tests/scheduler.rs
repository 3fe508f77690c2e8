//! Engine integration tests of the scheduled and automatic transitions: expiry at `expires-at`
//! (no verification left open, its session and one-time link revoked) and a template's
//! decision rules applied in the same batch as the completion or failure they follow.
//!
//! Time is a `ManualClock`; templates are written into a temporary folder per test (the example
//! `basic-kyc.toml` with another id, another lifetime, other check requirements or rules).

use bytes::Bytes;
use domain::flow::FlowStep;
use domain::ids::{InquiryId, TemplateId};
use domain::inquiry::InquiryStatus;
use domain::verification::VerificationStatus;
use engine::flow::{FieldsOutcome, NewInquiry};
use engine::records::{EventRecord, ObjectSnapshot};
use engine::{Engine, EngineError, EngineSettings, ManualClock};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use time::macros::datetime;
use time::Duration;

const RULES: &str = r#"
[[decision-rules]]
on = "completed"
action = "approve"

[[decision-rules]]
on = "failed"
action = "decline"
"#;

const REVIEW_RULES: &str = r#"
[[decision-rules]]
on = "completed"
if-check-failed = "id_glare_detection"
action = "mark-for-review"

[[decision-rules]]
on = "completed"
action = "approve"

[[decision-rules]]
on = "failed"
action = "decline"
"#;

fn basic_kyc() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/basic-kyc.toml"),
    )
    .unwrap()
}

/// The example template under another id, with `edit` applied and `extra` appended.
fn variant(id: &str, edit: impl Fn(String) -> String, extra: &str) -> String {
    let content = basic_kyc();
    assert!(content.contains("id = \"itmpl_basic_kyc\""));
    let content = content.replace("id = \"itmpl_basic_kyc\"", &format!("id = \"{id}\""));
    format!("{}\n{extra}", edit(content))
}

struct TestEngine {
    engine: Engine,
    clock: Arc<ManualClock>,
    _data: tempfile::TempDir,
    _templates: tempfile::TempDir,
}

/// An engine over a fresh data folder and a templates folder holding the example template and
/// its variants: `itmpl_rules` (approve on completion, decline on failure), `itmpl_review`
/// (glare not required; review when it failed, else approve) and `itmpl_short` (2 hours).
async fn spawn_engine() -> TestEngine {
    let data = tempfile::tempdir().unwrap();
    let templates = tempfile::tempdir().unwrap();
    let write = |file: &str, content: String| {
        std::fs::write(templates.path().join(file), content).unwrap();
    };
    write("basic-kyc.toml", basic_kyc());
    write("rules.toml", variant("itmpl_rules", |c| c, RULES));
    write(
        "review.toml",
        variant(
            "itmpl_review",
            |c| {
                assert!(c.contains("id_glare_detection = \"required\""));
                c.replace(
                    "id_glare_detection = \"required\"",
                    "id_glare_detection = \"not_required\"",
                )
            },
            REVIEW_RULES,
        ),
    );
    write(
        "short.toml",
        variant(
            "itmpl_short",
            |c| {
                assert!(c.contains("expires-after-hours = 24"));
                c.replace("expires-after-hours = 24", "expires-after-hours = 2")
            },
            "",
        ),
    );
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-27 10:00 UTC)));
    let engine = Engine::open_local(
        data.path(),
        None,
        templates.path(),
        clock.clone(),
        EngineSettings::default(),
    )
    .await
    .unwrap();
    TestEngine {
        engine,
        clock,
        _data: data,
        _templates: templates,
    }
}

fn sharp_photo() -> Bytes {
    static PHOTO: OnceLock<Bytes> = OnceLock::new();
    PHOTO
        .get_or_init(|| {
            Bytes::from(checks::fixtures::encode_jpeg(
                &checks::fixtures::id_card_image(1600, 1000),
                90,
            ))
        })
        .clone()
}

fn blurred_photo() -> Bytes {
    static PHOTO: OnceLock<Bytes> = OnceLock::new();
    PHOTO
        .get_or_init(|| {
            let card = checks::fixtures::id_card_image(1600, 1000);
            Bytes::from(checks::fixtures::encode_jpeg(
                &checks::fixtures::blurred(&card, 6.0),
                90,
            ))
        })
        .clone()
}

/// A sharp card with a glare spot over a fifth of it: only the glare check fails.
fn glare_photo() -> Bytes {
    static PHOTO: OnceLock<Bytes> = OnceLock::new();
    PHOTO
        .get_or_init(|| {
            let card = checks::fixtures::id_card_image(1600, 1000);
            Bytes::from(checks::fixtures::encode_jpeg(
                &checks::fixtures::with_glare(&card, 0.2),
                85,
            ))
        })
        .clone()
}

fn details() -> BTreeMap<String, String> {
    [
        ("name-first", "Jane"),
        ("name-last", "Doe"),
        ("birthdate", "1990-01-31"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A new inquiry from `template`; its id and session token.
async fn new_inquiry(engine: &Engine, template: &str) -> (InquiryId, String) {
    let created = engine
        .create_inquiry(NewInquiry {
            template_id: Some(TemplateId::parse(template).unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    (created.inquiry.id, created.session_token)
}

/// A new inquiry from `template` past the details step.
async fn started_inquiry(engine: &Engine, template: &str) -> InquiryId {
    let (id, _) = new_inquiry(engine, template).await;
    assert_eq!(
        engine.submit_fields(&id, details()).await.unwrap(),
        FieldsOutcome::Accepted
    );
    id
}

async fn events(engine: &Engine, id: &InquiryId) -> Vec<EventRecord> {
    engine.events_of(id).await.unwrap()
}

async fn event_names(engine: &Engine, id: &InquiryId) -> Vec<String> {
    events(engine, id)
        .await
        .into_iter()
        .map(|event| event.name)
        .collect()
}

/// The inquiry's own events (not its verifications'), oldest first.
async fn inquiry_events(engine: &Engine, id: &InquiryId) -> Vec<EventRecord> {
    events(engine, id)
        .await
        .into_iter()
        .filter(|event| event.object_type == "inquiry")
        .collect()
}

/// The status an inquiry event's snapshot shows.
fn snapshot_status(event: &EventRecord) -> InquiryStatus {
    match &event.object {
        Some(ObjectSnapshot::Inquiry(inquiry)) => inquiry.status,
        other => panic!("{} carries no inquiry snapshot: {other:?}", event.name),
    }
}

/// Every inquiry event's sequence counts 1, 2, 3 … and its snapshot is the status it announced.
fn assert_inquiry_events_are_consistent(events: &[EventRecord], current: InquiryStatus) {
    let sequences: Vec<i64> = events.iter().map(|event| event.sequence).collect();
    let counting: Vec<i64> = (1..=events.len() as i64).collect();
    assert_eq!(sequences, counting, "{events:#?}");
    assert_eq!(
        snapshot_status(events.last().unwrap()),
        current,
        "the newest event explains the current status"
    );
}

// ---------------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_inquiry_expires_at_its_expires_at_and_not_a_moment_before() {
    let t = spawn_engine().await;
    let (id, token) = new_inquiry(&t.engine, "itmpl_basic_kyc").await;
    let (_, code) = t.engine.generate_one_time_link(&id).await.unwrap();
    assert_eq!(
        t.engine.submit_fields(&id, details()).await.unwrap(),
        FieldsOutcome::Accepted
    );
    // One failed attempt; the inquiry stays pending with attempts left.
    let outcome = t
        .engine
        .submit_government_id(&id, blurred_photo())
        .await
        .unwrap();
    assert_eq!(outcome.inquiry_status, InquiryStatus::Pending);
    let inquiry = t.engine.touch(&id).await.unwrap();
    assert_eq!(inquiry.expires_at, inquiry.created_at + Duration::hours(24));
    let before = event_names(&t.engine, &id).await;

    // A second before its time: nothing happens.
    t.clock
        .advance(inquiry.expires_at - t.engine.now() - Duration::seconds(1));
    assert_eq!(t.engine.expire_overdue().await.unwrap(), 0);
    assert_eq!(
        t.engine.touch(&id).await.unwrap().status,
        InquiryStatus::Pending
    );
    assert_eq!(event_names(&t.engine, &id).await, before);

    // Past it: the sweep expires it, once.
    t.clock.advance(Duration::seconds(2));
    assert_eq!(t.engine.expire_overdue().await.unwrap(), 1);
    assert_eq!(t.engine.expire_overdue().await.unwrap(), 0, "only once");
    let expired = t.engine.touch(&id).await.unwrap();
    assert_eq!(expired.status, InquiryStatus::Expired);
    assert_eq!(expired.expired_at, Some(t.engine.now()));
    let mut expected = before.clone();
    expected.push("inquiry.expired".to_owned());
    assert_eq!(event_names(&t.engine, &id).await, expected);
    assert_inquiry_events_are_consistent(
        &inquiry_events(&t.engine, &id).await,
        InquiryStatus::Expired,
    );

    // No verification is left open; the failed attempt keeps its verdict.
    let verifications = t.engine.verifications_of(&id).await.unwrap();
    assert_eq!(verifications.len(), 1);
    assert_eq!(verifications[0].status, VerificationStatus::Failed);

    // The session only shows that it expired; the one-time link no longer opens it.
    match t.engine.open_with_session(&id, &token).await {
        Ok(inquiry) => {
            assert_eq!(inquiry.status, InquiryStatus::Expired);
            assert_eq!(
                t.engine.flow_view(&inquiry).await.unwrap().step,
                FlowStep::Expired
            );
        }
        Err(error) => assert!(matches!(error, EngineError::Unauthorized), "{error:?}"),
    }
    assert!(matches!(
        t.engine.redeem_one_time_link(&code).await,
        Err(EngineError::Unauthorized)
    ));
    assert!(matches!(
        t.engine.resume_inquiry(&id).await,
        Err(EngineError::Conflict { .. })
    ));
    assert!(matches!(
        t.engine.generate_one_time_link(&id).await,
        Err(EngineError::Conflict { .. })
    ));
    assert!(matches!(
        t.engine.submit_government_id(&id, sharp_photo()).await,
        Err(EngineError::WrongStep(_))
    ));
    assert_eq!(event_names(&t.engine, &id).await, expected);
}

#[tokio::test]
async fn an_unvisited_inquiry_expires_and_its_link_and_session_stop_working() {
    let t = spawn_engine().await;
    let (id, token) = new_inquiry(&t.engine, "itmpl_basic_kyc").await;
    let (_, code) = t.engine.generate_one_time_link(&id).await.unwrap();
    t.clock.advance(Duration::hours(24) + Duration::seconds(1));
    assert_eq!(t.engine.expire_overdue().await.unwrap(), 1);
    assert_eq!(
        event_names(&t.engine, &id).await,
        ["inquiry.created", "inquiry.expired"]
    );
    let events = inquiry_events(&t.engine, &id).await;
    assert_inquiry_events_are_consistent(&events, InquiryStatus::Expired);
    assert_eq!(events[1].previous_status.as_deref(), Some("created"));
    assert!(matches!(
        t.engine.redeem_one_time_link(&code).await,
        Err(EngineError::Unauthorized)
    ));
    match t.engine.open_with_session(&id, &token).await {
        Ok(inquiry) => assert_eq!(inquiry.status, InquiryStatus::Expired),
        Err(error) => assert!(matches!(error, EngineError::Unauthorized), "{error:?}"),
    }
    assert!(matches!(
        t.engine.submit_fields(&id, details()).await,
        Err(EngineError::WrongStep(_))
    ));
}

#[tokio::test]
async fn expiry_follows_each_templates_lifetime_and_spares_finished_inquiries() {
    let t = spawn_engine().await;
    let (short, _) = new_inquiry(&t.engine, "itmpl_short").await;
    let (long, _) = new_inquiry(&t.engine, "itmpl_basic_kyc").await;
    let finished = started_inquiry(&t.engine, "itmpl_basic_kyc").await;
    t.engine
        .submit_government_id(&finished, sharp_photo())
        .await
        .unwrap();
    assert_eq!(
        t.engine.touch(&finished).await.unwrap().status,
        InquiryStatus::Completed
    );

    t.clock.advance(Duration::hours(2) - Duration::seconds(1));
    assert_eq!(t.engine.expire_overdue().await.unwrap(), 0);
    t.clock.advance(Duration::seconds(2));
    assert_eq!(t.engine.expire_overdue().await.unwrap(), 1);
    assert_eq!(
        t.engine.touch(&short).await.unwrap().status,
        InquiryStatus::Expired
    );
    assert_eq!(
        t.engine.touch(&long).await.unwrap().status,
        InquiryStatus::Created
    );

    t.clock.advance(Duration::hours(23));
    assert_eq!(t.engine.expire_overdue().await.unwrap(), 1);
    assert_eq!(
        t.engine.touch(&long).await.unwrap().status,
        InquiryStatus::Expired
    );
    // A completed inquiry is past expiry's reach.
    assert_eq!(
        t.engine.touch(&finished).await.unwrap().status,
        InquiryStatus::Completed
    );
    assert_eq!(
        event_names(&t.engine, &finished)
            .await
            .last()
            .map(String::as_str),
        Some("inquiry.completed")
    );
}

#[tokio::test]
async fn one_sweep_expires_many_overdue_inquiries() {
    let t = spawn_engine().await;
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(new_inquiry(&t.engine, "itmpl_short").await.0);
    }
    t.clock.advance(Duration::hours(3));
    assert_eq!(t.engine.expire_overdue().await.unwrap(), 30);
    for id in &ids {
        assert_eq!(
            event_names(&t.engine, id).await,
            ["inquiry.created", "inquiry.expired"]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Decision rules
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_completed_inquiry_is_approved_by_its_rule_in_the_same_batch() {
    let t = spawn_engine().await;
    let id = started_inquiry(&t.engine, "itmpl_rules").await;
    let outcome = t
        .engine
        .submit_government_id(&id, sharp_photo())
        .await
        .unwrap();
    assert_eq!(outcome.status, VerificationStatus::Passed);
    assert_eq!(outcome.inquiry_status, InquiryStatus::Approved);
    let inquiry = t.engine.touch(&id).await.unwrap();
    assert_eq!(inquiry.status, InquiryStatus::Approved);
    assert_eq!(
        event_names(&t.engine, &id).await,
        [
            "inquiry.created",
            "inquiry.started",
            "verification.created",
            "verification.submitted",
            "verification.passed",
            "inquiry.completed",
            "inquiry.approved"
        ]
    );
    let events = inquiry_events(&t.engine, &id).await;
    assert_inquiry_events_are_consistent(&events, InquiryStatus::Approved);
    let (completed, approved) = (&events[2], &events[3]);
    assert_eq!(snapshot_status(completed), InquiryStatus::Completed);
    assert_eq!(approved.previous_status.as_deref(), Some("completed"));
    assert_eq!(
        completed.created_at, approved.created_at,
        "one batch, one time"
    );
}

#[tokio::test]
async fn a_failed_inquiry_is_declined_by_its_rule() {
    let t = spawn_engine().await;
    let id = started_inquiry(&t.engine, "itmpl_rules").await;
    for attempt in 1..=3 {
        let outcome = t
            .engine
            .submit_government_id(&id, blurred_photo())
            .await
            .unwrap();
        assert_eq!(outcome.status, VerificationStatus::Failed);
        let expected = if attempt < 3 {
            InquiryStatus::Pending
        } else {
            InquiryStatus::Declined
        };
        assert_eq!(outcome.inquiry_status, expected, "attempt {attempt}");
    }
    assert_eq!(
        t.engine.touch(&id).await.unwrap().status,
        InquiryStatus::Declined
    );
    let names = event_names(&t.engine, &id).await;
    assert_eq!(
        names[names.len() - 3..],
        ["verification.failed", "inquiry.failed", "inquiry.declined"]
    );
    let events = inquiry_events(&t.engine, &id).await;
    assert_inquiry_events_are_consistent(&events, InquiryStatus::Declined);
    assert_eq!(
        snapshot_status(&events[events.len() - 2]),
        InquiryStatus::Failed
    );
}

#[tokio::test]
async fn a_failed_optional_check_sends_a_completed_inquiry_to_review() {
    let t = spawn_engine().await;
    let id = started_inquiry(&t.engine, "itmpl_review").await;
    let outcome = t
        .engine
        .submit_government_id(&id, glare_photo())
        .await
        .unwrap();
    let glare = outcome
        .checks
        .iter()
        .find(|check| check.name.as_str() == "id_glare_detection")
        .expect("the glare check ran");
    assert_eq!(
        glare.status,
        domain::checks::CheckStatus::Failed,
        "{outcome:#?}"
    );
    assert_eq!(
        outcome.status,
        VerificationStatus::Passed,
        "glare is not required here: {outcome:#?}"
    );
    assert_eq!(outcome.inquiry_status, InquiryStatus::NeedsReview);
    let names = event_names(&t.engine, &id).await;
    assert_eq!(
        names[names.len() - 2..],
        ["inquiry.completed", "inquiry.marked-for-review"]
    );
    assert_inquiry_events_are_consistent(
        &inquiry_events(&t.engine, &id).await,
        InquiryStatus::NeedsReview,
    );

    // Without glare, the next rule approves.
    let clean = started_inquiry(&t.engine, "itmpl_review").await;
    let outcome = t
        .engine
        .submit_government_id(&clean, sharp_photo())
        .await
        .unwrap();
    assert_eq!(outcome.inquiry_status, InquiryStatus::Approved);
    let names = event_names(&t.engine, &clean).await;
    assert_eq!(
        names[names.len() - 2..],
        ["inquiry.completed", "inquiry.approved"]
    );
}

#[tokio::test]
async fn without_rules_a_completed_inquiry_stays_completed() {
    let t = spawn_engine().await;
    let id = started_inquiry(&t.engine, "itmpl_basic_kyc").await;
    let outcome = t
        .engine
        .submit_government_id(&id, sharp_photo())
        .await
        .unwrap();
    assert_eq!(outcome.inquiry_status, InquiryStatus::Completed);
    assert_eq!(
        event_names(&t.engine, &id).await.last().map(String::as_str),
        Some("inquiry.completed")
    );
    assert_inquiry_events_are_consistent(
        &inquiry_events(&t.engine, &id).await,
        InquiryStatus::Completed,
    );
}

#[test]
fn templates_with_invalid_decision_rules_are_refused() {
    let valid = variant("itmpl_valid", |c| c, REVIEW_RULES);
    assert!(engine::templates::parse_template(&valid).is_ok());
    for rules in [
        "[[decision-rules]]\non = \"completed\"\naction = \"launch\"\n",
        "[[decision-rules]]\non = \"expired\"\naction = \"approve\"\n",
        "[[decision-rules]]\non = \"completed\"\n",
        "[[decision-rules]]\naction = \"approve\"\n",
        "[[decision-rules]]\non = \"completed\"\nif-check-failed = \"id_made_up\"\naction = \"approve\"\n",
        "[[decision-rules]]\non = \"completed\"\naction = \"approve\"\nunless = \"never\"\n",
    ] {
        let content = variant("itmpl_invalid", |c| c, rules);
        assert!(
            engine::templates::parse_template(&content).is_err(),
            "accepted:\n{rules}"
        );
    }
}
