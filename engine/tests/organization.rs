//! Engine tests of the organization's services that the API tests cannot reach with a real clock.

use domain::ids::{InquiryId, TemplateId};
use engine::flow::NewInquiry;
use engine::store::{IdempotencyClaim, InquiryFilter, PageRequest};
use engine::{Clock, Engine, EngineError, EngineSettings, ManualClock};
use std::path::Path;
use std::sync::Arc;
use time::macros::datetime;
use time::Duration;

async fn spawn_engine() -> (Engine, Arc<ManualClock>, tempfile::TempDir) {
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
    (engine, clock, data)
}

#[tokio::test]
async fn idempotency_keys_are_kept_at_least_a_day_then_forgotten() {
    let (engine, clock, _data) = spawn_engine().await;
    let (key, _) = engine.create_api_key("test").await.unwrap();
    assert_eq!(
        engine
            .claim_idempotency_key(&key.id, "old", "h1")
            .await
            .unwrap(),
        IdempotencyClaim::Claimed
    );
    engine
        .complete_idempotency_key(&key.id, "old", 201, b"{}", None)
        .await
        .unwrap();
    clock.advance(Duration::hours(30));
    assert_eq!(
        engine
            .claim_idempotency_key(&key.id, "new", "h2")
            .await
            .unwrap(),
        IdempotencyClaim::Claimed
    );

    // Asking for less than a day still keeps a day.
    assert_eq!(
        engine
            .purge_idempotency_keys(Duration::hours(1))
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        engine
            .claim_idempotency_key(&key.id, "new", "h2")
            .await
            .unwrap(),
        IdempotencyClaim::InFlight { .. }
    ));
    // The old key is gone: the same key starts afresh.
    assert_eq!(
        engine
            .claim_idempotency_key(&key.id, "old", "h3")
            .await
            .unwrap(),
        IdempotencyClaim::Claimed
    );
}

#[tokio::test]
async fn one_time_links_work_once_and_not_after_the_inquiry_expires() {
    let (engine, clock, _data) = spawn_engine().await;
    let created = engine
        .create_inquiry(NewInquiry {
            template_id: Some(TemplateId::parse("itmpl_basic_kyc").unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    let id: InquiryId = created.inquiry.id.clone();
    let (_, code) = engine.generate_one_time_link(&id).await.unwrap();
    let (opened, token) = engine.redeem_one_time_link(&code).await.unwrap();
    assert_eq!(opened.id, id);
    assert!(engine.open_with_session(&id, &token).await.is_ok());
    assert!(matches!(
        engine.redeem_one_time_link(&code).await,
        Err(EngineError::Unauthorized)
    ));

    let (_, late) = engine.generate_one_time_link(&id).await.unwrap();
    clock.advance(Duration::hours(25));
    assert!(matches!(
        engine.redeem_one_time_link(&late).await,
        Err(EngineError::Unauthorized)
    ));
}

#[tokio::test]
async fn a_key_records_its_last_use_to_within_a_minute() {
    let (engine, clock, _data) = spawn_engine().await;
    let (key, secret) = engine.create_api_key("test").await.unwrap();
    let last_used =
        |engine: Engine| async move { engine.api_keys().await.unwrap()[0].last_used_at };
    assert_eq!(last_used(engine.clone()).await, None);

    let first_use = clock.now();
    let record = engine.authenticate_api_key(&secret).await.unwrap().unwrap();
    assert_eq!(record.last_used_at, Some(first_use));
    assert_eq!(last_used(engine.clone()).await, Some(first_use));

    // Within the minute: not written again.
    clock.advance(Duration::seconds(59));
    engine.authenticate_api_key(&secret).await.unwrap().unwrap();
    assert_eq!(last_used(engine.clone()).await, Some(first_use));

    // Later: stamped again.
    clock.advance(Duration::seconds(2));
    let later = clock.now();
    engine.authenticate_api_key(&secret).await.unwrap().unwrap();
    assert_eq!(last_used(engine.clone()).await, Some(later));

    // A revoked key is refused and not stamped.
    assert!(engine.revoke_api_key(&key.id).await.unwrap());
    clock.advance(Duration::minutes(5));
    assert!(engine
        .authenticate_api_key(&secret)
        .await
        .unwrap()
        .is_none());
    assert_eq!(last_used(engine.clone()).await, Some(later));
}

/// Inquiry ids carry the engine clock's time, which the created-after/before filters use to read
/// through the primary key: with a clock hours away from the machine's, the filters still find
/// exactly the inquiries created in their range.
#[tokio::test]
async fn created_after_and_before_follow_the_engine_clock() {
    let (engine, clock, _data) = spawn_engine().await;
    let start = clock.now();
    let mut created = Vec::new();
    for _ in 0..3 {
        let inquiry = engine
            .create_inquiry(NewInquiry {
                template_id: Some(TemplateId::parse("itmpl_basic_kyc").unwrap()),
                ..Default::default()
            })
            .await
            .unwrap()
            .inquiry;
        created.push(inquiry.id);
        clock.advance(Duration::hours(1));
    }
    let list = |after: Option<time::OffsetDateTime>, before: Option<time::OffsetDateTime>| {
        let engine = &engine;
        async move {
            let filter = InquiryFilter {
                created_after: after,
                created_before: before,
                ..InquiryFilter::default()
            };
            let page = PageRequest {
                size: 10,
                after: None,
                before: None,
            };
            let page = engine.list_inquiries(&filter, &page).await.unwrap();
            page.items
                .into_iter()
                .map(|inquiry| inquiry.id)
                .collect::<Vec<_>>()
        }
    };
    let half_hour = Duration::minutes(30);
    assert_eq!(
        list(Some(start + half_hour), None).await,
        [created[2].clone(), created[1].clone()]
    );
    assert_eq!(
        list(None, Some(start + Duration::hours(1) + half_hour)).await,
        [created[1].clone(), created[0].clone()]
    );
    assert_eq!(
        list(
            Some(start + half_hour),
            Some(start + Duration::hours(1) + half_hour)
        )
        .await,
        [created[1].clone()]
    );
    // Bounds are exact to the millisecond: after the first inquiry's time, not including it.
    assert_eq!(list(Some(start), Some(start + half_hour)).await, []);
    assert_eq!(
        list(
            Some(start - Duration::milliseconds(1)),
            Some(start + half_hour)
        )
        .await,
        [created[0].clone()]
    );
}
