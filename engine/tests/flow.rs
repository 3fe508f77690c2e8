//! Engine integration tests: the flow's services against a fresh SQLite file per test.

use bytes::Bytes;
use domain::checks::CheckStatus;
use domain::flow::FlowStep;
use domain::ids::{InquiryId, TemplateId};
use domain::inquiry::{InquiryCause, InquiryStatus};
use domain::verification::VerificationStatus;
use engine::flow::{FieldsOutcome, NewInquiry};
use engine::records::ObjectSnapshot;
use engine::{Engine, EngineError, EngineSettings, ManualClock};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use time::macros::datetime;
use time::Duration;

struct TestEngine {
    engine: Engine,
    clock: Arc<ManualClock>,
    _data: tempfile::TempDir,
}

async fn spawn_engine() -> TestEngine {
    let data = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-27 10:00 UTC)));
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    let engine = Engine::open_local(
        data.path(),
        None,
        &templates,
        clock.clone(),
        EngineSettings::default(),
    )
    .await
    .unwrap();
    TestEngine {
        engine,
        clock,
        _data: data,
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

async fn new_inquiry(engine: &Engine) -> InquiryId {
    let created = engine
        .create_inquiry(NewInquiry {
            template_id: Some(TemplateId::parse("itmpl_basic_kyc").unwrap()),
            reference_id: Some("user-42".into()),
            prefill: BTreeMap::new(),
            ..Default::default()
        })
        .await
        .unwrap();
    created.inquiry.id
}

async fn event_names(engine: &Engine, id: &InquiryId) -> Vec<String> {
    engine
        .events_of(id)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.name)
        .collect()
}

#[tokio::test]
async fn the_created_event_holds_the_inquiry_exactly_as_stored() {
    let t = spawn_engine().await;
    // A clock finer than the store's milliseconds: the snapshot must still equal the stored row.
    t.clock.advance(Duration::nanoseconds(123_456_789));
    let mut prefill = BTreeMap::new();
    prefill.insert("name-first".to_owned(), "Ada".to_owned());
    let created = t
        .engine
        .create_inquiry(NewInquiry {
            template_id: Some(TemplateId::parse("itmpl_basic_kyc").unwrap()),
            reference_id: Some("user-7".into()),
            prefill,
            ..Default::default()
        })
        .await
        .unwrap();
    let id = created.inquiry.id;
    let stored = t.engine.inquiry(&id).await.unwrap();
    assert_eq!(
        stored.fields.get("name-first").map(String::as_str),
        Some("Ada")
    );
    let events = t.engine.events_of(&id).await.unwrap();
    let created_event = events
        .iter()
        .find(|event| event.name == "inquiry.created")
        .expect("an inquiry.created event");
    assert_eq!(
        created_event.object,
        Some(ObjectSnapshot::Inquiry(Box::new(stored)))
    );
}

/// `count` submissions of the same valid details to `id`, all at once.
fn spawn_detail_submissions(
    engine: &Engine,
    id: &InquiryId,
    count: usize,
) -> Vec<tokio::task::JoinHandle<Result<FieldsOutcome, EngineError>>> {
    (0..count)
        .map(|_| {
            let engine = engine.clone();
            let id = id.clone();
            tokio::spawn(async move { engine.submit_fields(&id, details()).await })
        })
        .collect()
}

/// How many of the racing submissions were accepted; the others must have been refused as a
/// conflict or as no longer the step.
async fn accepted(
    submissions: Vec<tokio::task::JoinHandle<Result<FieldsOutcome, EngineError>>>,
) -> usize {
    let mut accepted = 0;
    for submission in submissions {
        match submission.await.unwrap() {
            Ok(FieldsOutcome::Accepted) => accepted += 1,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(EngineError::Conflict { .. } | EngineError::WrongStep(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    accepted
}

#[tokio::test]
async fn an_inquiry_goes_from_created_to_completed_with_every_event() {
    let t = spawn_engine().await;
    let created = t
        .engine
        .create_inquiry(NewInquiry {
            template_id: Some(TemplateId::parse("itmpl_basic_kyc").unwrap()),
            reference_id: None,
            prefill: BTreeMap::new(),
            ..Default::default()
        })
        .await
        .unwrap();
    let id = created.inquiry.id.clone();
    assert_eq!(created.inquiry.status, InquiryStatus::Created);
    let opened = t
        .engine
        .open_with_session(&id, &created.session_token)
        .await
        .unwrap();
    assert!(matches!(
        t.engine.flow_view(&opened).await.unwrap().step,
        FlowStep::Details { .. }
    ));

    assert_eq!(
        t.engine.submit_fields(&id, details()).await.unwrap(),
        FieldsOutcome::Accepted
    );
    let inquiry = t.engine.touch(&id).await.unwrap();
    assert_eq!(inquiry.status, InquiryStatus::Pending);
    assert_eq!(inquiry.fields["name-first"], "Jane");
    assert!(inquiry.started_at.is_some());
    match t.engine.flow_view(&inquiry).await.unwrap().step {
        FlowStep::GovernmentId {
            attempt: 1,
            max_attempts: 3,
            hints,
            ..
        } => assert!(hints.is_empty()),
        other => panic!("expected the ID step, got {other:?}"),
    }

    let outcome = t
        .engine
        .submit_government_id(&id, sharp_photo())
        .await
        .unwrap();
    assert_eq!(
        outcome.status,
        VerificationStatus::Passed,
        "{:?}",
        outcome.checks
    );
    assert_eq!(outcome.inquiry_status, InquiryStatus::Completed);
    assert!(outcome
        .checks
        .iter()
        .all(|check| check.status == CheckStatus::Passed));
    let inquiry = t.engine.touch(&id).await.unwrap();
    assert_eq!(inquiry.status, InquiryStatus::Completed);
    assert!(inquiry.completed_at.is_some());
    assert_eq!(
        t.engine.flow_view(&inquiry).await.unwrap().step,
        FlowStep::Completed
    );

    assert_eq!(
        event_names(&t.engine, &id).await,
        [
            "inquiry.created",
            "inquiry.started",
            "verification.created",
            "verification.submitted",
            "verification.passed",
            "inquiry.completed"
        ]
    );
    let events = t.engine.events_of(&id).await.unwrap();
    let inquiry_sequences: Vec<i64> = events
        .iter()
        .filter(|e| e.object_type == "inquiry")
        .map(|e| e.sequence)
        .collect();
    assert_eq!(inquiry_sequences, [1, 2, 3]);
    let documents = t.engine.documents_of(&id).await.unwrap();
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].content_type, "image/jpeg");
    assert_eq!(
        t.engine.document_bytes(&documents[0]).await.unwrap(),
        sharp_photo()
    );
}

#[tokio::test]
async fn three_failed_photos_fail_the_inquiry_with_hints_on_the_way() {
    let t = spawn_engine().await;
    let id = new_inquiry(&t.engine).await;
    t.engine.submit_fields(&id, details()).await.unwrap();
    for attempt in 1..=3u8 {
        let outcome = t
            .engine
            .submit_government_id(&id, blurred_photo())
            .await
            .unwrap();
        assert_eq!(outcome.status, VerificationStatus::Failed);
        let blur = outcome
            .checks
            .iter()
            .find(|c| c.name.as_str() == "id_blur_detection")
            .unwrap();
        assert_eq!(blur.status, CheckStatus::Failed);
        let inquiry = t.engine.touch(&id).await.unwrap();
        let view = t.engine.flow_view(&inquiry).await.unwrap();
        if attempt < 3 {
            assert_eq!(inquiry.status, InquiryStatus::Pending);
            match view.step {
                FlowStep::GovernmentId {
                    attempt: next,
                    hints,
                    ..
                } => {
                    assert_eq!(next, attempt + 1);
                    assert!(
                        hints.iter().any(|hint| hint.contains("blurry")),
                        "{hints:?}"
                    );
                }
                other => panic!("expected the ID step again, got {other:?}"),
            }
        } else {
            assert_eq!(inquiry.status, InquiryStatus::Failed);
            assert!(matches!(view.step, FlowStep::Failed { .. }));
        }
    }
    let refused = t
        .engine
        .submit_government_id(&id, sharp_photo())
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::WrongStep(_)), "{refused:?}");
    let names = event_names(&t.engine, &id).await;
    assert_eq!(
        names.iter().filter(|n| *n == "verification.failed").count(),
        3
    );
    assert_eq!(names.last().map(String::as_str), Some("inquiry.failed"));
}

#[tokio::test]
async fn illegal_transitions_are_refused_and_write_nothing() {
    let t = spawn_engine().await;
    let id = new_inquiry(&t.engine).await;
    let before = t.engine.events_of(&id).await.unwrap();
    let refused = t
        .engine
        .apply_cause(&id, InquiryCause::Approve)
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "an inquiry that is created cannot approve"
    );
    let refused = t
        .engine
        .apply_cause(&id, InquiryCause::Complete)
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::IllegalTransition(_)));
    // The ID step is not open before the details, and nothing is stored when it is refused.
    let refused = t
        .engine
        .submit_government_id(&id, sharp_photo())
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::WrongStep(_)));
    assert_eq!(
        t.engine.touch(&id).await.unwrap().status,
        InquiryStatus::Created
    );
    assert_eq!(t.engine.events_of(&id).await.unwrap(), before);
    assert!(t.engine.documents_of(&id).await.unwrap().is_empty());
}

#[tokio::test]
async fn files_that_are_not_images_are_refused_without_using_an_attempt() {
    let t = spawn_engine().await;
    let id = new_inquiry(&t.engine).await;
    t.engine.submit_fields(&id, details()).await.unwrap();
    let refused = t
        .engine
        .submit_government_id(&id, Bytes::from_static(b"%PDF-1.7\n..."))
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::UnsupportedMediaType));
    assert!(t.engine.verifications_of(&id).await.unwrap().is_empty());
    assert!(t.engine.documents_of(&id).await.unwrap().is_empty());
}

#[tokio::test]
async fn invalid_details_are_kept_as_a_draft_with_reasons() {
    let t = spawn_engine().await;
    let id = new_inquiry(&t.engine).await;
    let mut typed = details();
    typed.insert("birthdate".into(), "2030-01-01".into());
    let FieldsOutcome::Invalid(errors) = t.engine.submit_fields(&id, typed).await.unwrap() else {
        panic!("a future birthdate must be refused");
    };
    assert!(errors["birthdate"].contains("past"));
    let inquiry = t.engine.touch(&id).await.unwrap();
    assert_eq!(inquiry.status, InquiryStatus::Created);
    let FlowStep::Details { fields } = t.engine.flow_view(&inquiry).await.unwrap().step else {
        panic!("still on the details step");
    };
    let first = fields.iter().find(|f| f.spec.key == "name-first").unwrap();
    assert_eq!(
        (first.value.as_str(), first.error.as_deref()),
        ("Jane", None)
    );
    let birthdate = fields.iter().find(|f| f.spec.key == "birthdate").unwrap();
    assert_eq!(birthdate.value, "2030-01-01");
    assert!(birthdate.error.as_deref().unwrap().contains("past"));
    assert_eq!(event_names(&t.engine, &id).await, ["inquiry.created"]);
}

#[tokio::test]
async fn concurrent_submissions_make_exactly_one_transition_and_one_event() {
    let t = spawn_engine().await;
    let id = new_inquiry(&t.engine).await;
    let submissions = spawn_detail_submissions(&t.engine, &id, 8);
    assert_eq!(accepted(submissions).await, 1);
    assert_eq!(
        event_names(&t.engine, &id).await,
        ["inquiry.created", "inquiry.started"]
    );

    // Two photos at once: one verification, one set of events.
    let photos: Vec<_> = (0..2)
        .map(|_| {
            let engine = t.engine.clone();
            let id = id.clone();
            tokio::spawn(async move { engine.submit_government_id(&id, sharp_photo()).await })
        })
        .collect();
    let mut passed = 0;
    for photo in photos {
        match photo.await.unwrap() {
            Ok(outcome) => {
                assert_eq!(outcome.status, VerificationStatus::Passed);
                passed += 1;
            }
            Err(EngineError::Conflict { .. } | EngineError::WrongStep(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(passed, 1);
    let names = event_names(&t.engine, &id).await;
    assert_eq!(
        names.iter().filter(|n| *n == "inquiry.completed").count(),
        1
    );
    assert_eq!(t.engine.verifications_of(&id).await.unwrap().len(), 1);
    assert_eq!(
        t.engine.documents_of(&id).await.unwrap().len(),
        1,
        "the loser's file is not left referenced"
    );
}

/// Concurrent writes are committed in shared transactions; a batch refused by its guard must
/// not take the others of its transaction down with it, nor leave anything of itself behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_write_leaves_the_writes_committed_beside_it_intact() {
    let t = spawn_engine().await;
    let id = new_inquiry(&t.engine).await;
    let submissions = spawn_detail_submissions(&t.engine, &id, 8);
    let creates: Vec<_> = (0..24)
        .map(|n| {
            let engine = t.engine.clone();
            tokio::spawn(async move {
                engine
                    .create_inquiry(NewInquiry {
                        template_id: Some(TemplateId::parse("itmpl_basic_kyc").unwrap()),
                        reference_id: Some(format!("beside-{n}")),
                        ..Default::default()
                    })
                    .await
            })
        })
        .collect();
    assert_eq!(accepted(submissions).await, 1);
    assert_eq!(
        event_names(&t.engine, &id).await,
        ["inquiry.created", "inquiry.started"]
    );
    for create in creates {
        let created = create.await.unwrap().expect("every create commits");
        let stored = t.engine.inquiry(&created.inquiry.id).await.unwrap();
        assert_eq!(stored.status, InquiryStatus::Created);
        assert_eq!(
            event_names(&t.engine, &created.inquiry.id).await,
            ["inquiry.created"]
        );
    }
}

#[tokio::test]
async fn inquiries_expire_when_touched_after_their_time() {
    let t = spawn_engine().await;
    let id = new_inquiry(&t.engine).await;
    t.engine.submit_fields(&id, details()).await.unwrap();
    t.clock.advance(Duration::hours(24));
    let inquiry = t.engine.touch(&id).await.unwrap();
    assert_eq!(inquiry.status, InquiryStatus::Expired);
    assert!(inquiry.expired_at.is_some());
    assert_eq!(
        t.engine.flow_view(&inquiry).await.unwrap().step,
        FlowStep::Expired
    );
    assert_eq!(
        event_names(&t.engine, &id).await.last().map(String::as_str),
        Some("inquiry.expired")
    );
    assert!(matches!(
        t.engine.submit_government_id(&id, sharp_photo()).await,
        Err(EngineError::WrongStep(_))
    ));

    let other = new_inquiry(&t.engine).await;
    t.clock.advance(Duration::hours(25));
    assert_eq!(t.engine.expire_overdue().await.unwrap(), 1);
    assert_eq!(
        t.engine.touch(&other).await.unwrap().status,
        InquiryStatus::Expired
    );
}

#[tokio::test]
async fn a_session_token_opens_its_own_inquiry_only() {
    let t = spawn_engine().await;
    let first = t
        .engine
        .create_inquiry(NewInquiry {
            template_id: Some(TemplateId::parse("itmpl_basic_kyc").unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    let second = new_inquiry(&t.engine).await;
    assert!(t
        .engine
        .open_with_session(&first.inquiry.id, &first.session_token)
        .await
        .is_ok());
    assert!(matches!(
        t.engine
            .open_with_session(&second, &first.session_token)
            .await,
        Err(EngineError::Unauthorized)
    ));
    assert!(matches!(
        t.engine
            .open_with_session(&first.inquiry.id, "vst_forged")
            .await,
        Err(EngineError::Unauthorized)
    ));
    assert!(matches!(
        t.engine.open_with_session(&first.inquiry.id, "").await,
        Err(EngineError::Unauthorized)
    ));
}

#[tokio::test]
async fn a_template_that_does_not_exist_creates_nothing() {
    let t = spawn_engine().await;
    let refused = t
        .engine
        .create_inquiry(NewInquiry {
            template_id: Some(TemplateId::parse("itmpl_nope").unwrap()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::NotFound { .. }));
    assert!(t
        .engine
        .start_view(&TemplateId::parse("itmpl_nope").unwrap())
        .is_err());
    assert_eq!(
        t.engine
            .start_view(&TemplateId::parse("itmpl_basic_kyc").unwrap())
            .unwrap()
            .title,
        "Verify your identity"
    );
}
