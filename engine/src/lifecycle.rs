//! The lifecycle service: the only code that changes a status.
//!
//! Each function asks the domain's transition function whether a change is legal and returns the
//! guarded status write together with its event, so that callers commit both in one transaction.

use crate::clock::id_millis;
use crate::error::EngineError;
use crate::records::{InquiryRecord, VerificationRecord};
use crate::store::{NewEvent, Store, StoreError, Write};
use domain::checks::{CheckName, CheckResult, CheckStatus};
use domain::ids::{EventId, WebhookId};
use domain::inquiry::{self, InquiryCause, InquiryStatus, INQUIRY_CREATED_EVENT};
use domain::template::{DecisionAction, DecisionTrigger, Template};
use domain::verification::{self, VerificationCause, VERIFICATION_CREATED_EVENT};
use time::OffsetDateTime;

fn inquiry_event(
    inquiry: &InquiryRecord,
    name: &'static str,
    from: Option<InquiryStatus>,
    at: OffsetDateTime,
) -> Write {
    Write::InsertEvent(NewEvent {
        id: EventId::at_millis(id_millis(at)),
        name,
        object_type: "inquiry",
        object_id: inquiry.id.to_string(),
        inquiry_id: Some(inquiry.id.clone()),
        previous_status: from.map(InquiryStatus::as_str),
        created_at: at,
    })
}

/// Writes that create an inquiry in its initial status with its `inquiry.created` event.
pub fn create_inquiry(inquiry: InquiryRecord) -> Vec<Write> {
    debug_assert_eq!(inquiry.status, InquiryStatus::INITIAL);
    let event = inquiry_event(&inquiry, INQUIRY_CREATED_EVENT, None, inquiry.created_at);
    vec![Write::InsertInquiry(Box::new(inquiry)), event]
}

/// The guarded status write and event for `cause` on `inquiry`, or the domain's refusal.
pub fn transition_inquiry(
    inquiry: &InquiryRecord,
    cause: InquiryCause,
    at: OffsetDateTime,
) -> Result<Vec<Write>, EngineError> {
    let change = inquiry::transition(inquiry.status, cause)?;
    Ok(vec![
        Write::TransitionInquiry {
            id: inquiry.id.clone(),
            from: change.from,
            to: change.to,
            at,
        },
        inquiry_event(inquiry, change.event_name, Some(change.from), at),
    ])
}

fn verification_event(v: &VerificationRecord, name: &'static str, at: OffsetDateTime) -> Write {
    Write::InsertEvent(NewEvent {
        id: EventId::at_millis(id_millis(at)),
        name,
        object_type: "verification",
        object_id: v.id.to_string(),
        inquiry_id: Some(v.inquiry_id.clone()),
        previous_status: None,
        created_at: at,
    })
}

/// Writes that create a verification with its `verification.created` event.
pub fn create_verification(v: VerificationRecord) -> Vec<Write> {
    let event = verification_event(&v, VERIFICATION_CREATED_EVENT, v.created_at);
    vec![Write::InsertVerification(v), event]
}

/// The guarded status write and event for `cause` on a verification; `v` is updated in place so
/// that a caller can chain causes (submit, then pass) in one batch.
pub fn transition_verification(
    v: &mut VerificationRecord,
    cause: VerificationCause,
    at: OffsetDateTime,
    checks: Option<Vec<CheckResult>>,
) -> Result<Vec<Write>, EngineError> {
    let change = verification::transition(v.status, cause)?;
    v.status = change.to;
    if let Some(checks) = &checks {
        v.checks = checks.clone();
    }
    Ok(vec![
        Write::TransitionVerification {
            id: v.id.clone(),
            from: change.from,
            to: change.to,
            at,
            checks,
        },
        verification_event(v, change.event_name, at),
    ])
}

/// The writes that complete or fail an inquiry and then apply the first decision rule of its
/// template that matches, in one batch (events `inquiry.completed` then e.g. `inquiry.approved`).
/// `checks` are every check result of the inquiry's verifications (rules look at the failed
/// ones). Returns the writes and the status the inquiry ends in.
pub fn finish_inquiry<'a>(
    inquiry: &InquiryRecord,
    cause: InquiryCause,
    template: &Template,
    checks: impl IntoIterator<Item = &'a CheckResult>,
    at: OffsetDateTime,
) -> Result<(Vec<Write>, InquiryStatus), EngineError> {
    let failed_checks: Vec<CheckName> = checks
        .into_iter()
        .filter(|check| check.status == CheckStatus::Failed)
        .map(|check| check.name)
        .collect();
    let trigger = match cause {
        InquiryCause::Complete => DecisionTrigger::Completed,
        InquiryCause::Fail => DecisionTrigger::Failed,
        other => {
            return Err(EngineError::Internal(anyhow::anyhow!(
                "an inquiry is finished by complete or fail, not {}",
                other.as_str()
            )))
        }
    };
    let mut writes = transition_inquiry(inquiry, cause, at)?;
    let mut finished = inquiry.clone();
    finished.status = inquiry::transition(inquiry.status, cause)?.to;
    if let Some(action) = template.decide(trigger, &failed_checks) {
        let decision = match action {
            DecisionAction::Approve => InquiryCause::Approve,
            DecisionAction::Decline => InquiryCause::Decline,
            DecisionAction::MarkForReview => InquiryCause::MarkForReview,
        };
        writes.extend(transition_inquiry(&finished, decision, at)?);
        finished.status = inquiry::transition(finished.status, decision)?.to;
    }
    Ok((writes, finished.status))
}

/// A webhook's event (e.g. `webhook.disabled`); webhooks belong to no inquiry.
pub fn webhook_event(webhook: &WebhookId, name: &'static str, at: OffsetDateTime) -> Write {
    Write::InsertEvent(NewEvent {
        id: EventId::at_millis(id_millis(at)),
        name,
        object_type: "webhook",
        object_id: webhook.to_string(),
        inquiry_id: None,
        previous_status: None,
        created_at: at,
    })
}

/// Commits a batch; a failed guard becomes [`EngineError::Conflict`] carrying the inquiry's
/// current status, so the caller can say what happened instead.
pub async fn commit(
    store: &dyn Store,
    inquiry: &InquiryRecord,
    writes: Vec<Write>,
) -> Result<(), EngineError> {
    match store.commit(writes).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict) => {
            let current = store
                .inquiry(&inquiry.id)
                .await?
                .map(|now| now.status)
                .unwrap_or(inquiry.status);
            Err(EngineError::Conflict { current })
        }
        Err(other) => Err(other.into()),
    }
}

/// Applies one organization or scheduler cause to an inquiry (approve, decline, expire, …),
/// cancelling its open verifications when it expires.
pub async fn apply_inquiry_cause(
    store: &dyn Store,
    inquiry: &InquiryRecord,
    cause: InquiryCause,
    at: OffsetDateTime,
) -> Result<(), EngineError> {
    let mut writes = transition_inquiry(inquiry, cause, at)?;
    if cause == InquiryCause::Expire {
        // Its sessions and one-time links stop opening it for anything but the expired page.
        writes.push(Write::RevokeSessions {
            inquiry_id: inquiry.id.clone(),
            at,
        });
        for mut open in store.verifications_of(&inquiry.id).await? {
            if matches!(
                open.status,
                verification::VerificationStatus::Created
                    | verification::VerificationStatus::Submitted
            ) {
                writes.extend(transition_verification(
                    &mut open,
                    VerificationCause::Cancel,
                    at,
                    None,
                )?);
            }
        }
    }
    commit(store, inquiry, writes).await
}

/// Writes that redact an inquiry (erase its personal data, end its sessions and links) with its
/// `inquiry.redacted` event. The status does not change.
pub fn redact_inquiry(inquiry: &InquiryRecord, at: OffsetDateTime) -> Vec<Write> {
    vec![
        Write::RedactInquiry {
            id: inquiry.id.clone(),
            at,
        },
        Write::EraseIdempotentResponses {
            resource_id: inquiry.id.to_string(),
        },
        Write::RevokeSessions {
            inquiry_id: inquiry.id.clone(),
            at,
        },
        inquiry_event(inquiry, "inquiry.redacted", None, at),
    ]
}
