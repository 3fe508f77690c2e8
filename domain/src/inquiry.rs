//! The inquiry lifecycle: statuses, the causes of change, and the one transition function.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Where an inquiry is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InquiryStatus {
    Created,
    Pending,
    Completed,
    Failed,
    Expired,
    NeedsReview,
    Approved,
    Declined,
}

impl InquiryStatus {
    /// Every status, for exhaustive tests and documentation.
    pub const ALL: [InquiryStatus; 8] = [
        InquiryStatus::Created,
        InquiryStatus::Pending,
        InquiryStatus::Completed,
        InquiryStatus::Failed,
        InquiryStatus::Expired,
        InquiryStatus::NeedsReview,
        InquiryStatus::Approved,
        InquiryStatus::Declined,
    ];

    /// The status every new inquiry starts in, announced by [`INQUIRY_CREATED_EVENT`].
    pub const INITIAL: InquiryStatus = InquiryStatus::Created;

    /// The stored and wire form, e.g. `needs_review`.
    pub fn as_str(self) -> &'static str {
        match self {
            InquiryStatus::Created => "created",
            InquiryStatus::Pending => "pending",
            InquiryStatus::Completed => "completed",
            InquiryStatus::Failed => "failed",
            InquiryStatus::Expired => "expired",
            InquiryStatus::NeedsReview => "needs_review",
            InquiryStatus::Approved => "approved",
            InquiryStatus::Declined => "declined",
        }
    }

    /// Parses the stored form; an unknown status is an error, never a default.
    pub fn parse(value: &str) -> Result<InquiryStatus, UnknownStatus> {
        InquiryStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
            .ok_or_else(|| UnknownStatus {
                value: value.to_owned(),
            })
    }

    /// True while the individual can still act on the inquiry (created or pending).
    pub fn is_open(self) -> bool {
        matches!(self, InquiryStatus::Created | InquiryStatus::Pending)
    }
}

impl fmt::Display for InquiryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored status string that this version of Verity does not know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown status `{value}` in storage")]
pub struct UnknownStatus {
    pub value: String,
}

/// The event written when an inquiry is created.
pub const INQUIRY_CREATED_EVENT: &str = "inquiry.created";

/// Why an inquiry's status should change. The individual, the organization and scheduled work all
/// speak through these causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InquiryCause {
    /// The individual first submitted information or a document.
    Start,
    /// Every required field was collected and every required verification passed.
    Complete,
    /// A verification used up its allowed attempts.
    Fail,
    /// The expiry time passed.
    Expire,
    /// Someone (or a decision rule) asked for a human review.
    MarkForReview,
    /// Approved by the organization or a decision rule.
    Approve,
    /// Declined by the organization or a decision rule.
    Decline,
}

impl InquiryCause {
    /// Every cause, for exhaustive tests.
    pub const ALL: [InquiryCause; 7] = [
        InquiryCause::Start,
        InquiryCause::Complete,
        InquiryCause::Fail,
        InquiryCause::Expire,
        InquiryCause::MarkForReview,
        InquiryCause::Approve,
        InquiryCause::Decline,
    ];

    /// A short name for messages and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            InquiryCause::Start => "start",
            InquiryCause::Complete => "complete",
            InquiryCause::Fail => "fail",
            InquiryCause::Expire => "expire",
            InquiryCause::MarkForReview => "mark_for_review",
            InquiryCause::Approve => "approve",
            InquiryCause::Decline => "decline",
        }
    }
}

/// A legal change: the new status and the name of the event that records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InquiryTransition {
    pub from: InquiryStatus,
    pub to: InquiryStatus,
    pub event_name: &'static str,
}

/// A refused change; nothing is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("an inquiry that is {from} cannot {}", cause.as_str().replace('_', " "))]
pub struct IllegalInquiryTransition {
    pub from: InquiryStatus,
    pub cause: InquiryCause,
}

/// The inquiry state machine: the only place that decides whether a status may change.
pub fn transition(
    from: InquiryStatus,
    cause: InquiryCause,
) -> Result<InquiryTransition, IllegalInquiryTransition> {
    use InquiryCause as C;
    use InquiryStatus as S;
    let legal = |to, event_name| {
        Ok(InquiryTransition {
            from,
            to,
            event_name,
        })
    };
    let refused = Err(IllegalInquiryTransition { from, cause });
    match (from, cause) {
        (S::Created, C::Start) => legal(S::Pending, "inquiry.started"),
        (S::Pending | S::Completed | S::Failed | S::Expired, C::Start) => refused,
        (S::NeedsReview | S::Approved | S::Declined, C::Start) => refused,

        (S::Pending, C::Complete) => legal(S::Completed, "inquiry.completed"),
        (S::Created | S::Completed | S::Failed | S::Expired, C::Complete) => refused,
        (S::NeedsReview | S::Approved | S::Declined, C::Complete) => refused,

        (S::Pending, C::Fail) => legal(S::Failed, "inquiry.failed"),
        (S::Created | S::Completed | S::Failed | S::Expired, C::Fail) => refused,
        (S::NeedsReview | S::Approved | S::Declined, C::Fail) => refused,

        (S::Created | S::Pending, C::Expire) => legal(S::Expired, "inquiry.expired"),
        (S::Completed | S::Failed | S::Expired, C::Expire) => refused,
        (S::NeedsReview | S::Approved | S::Declined, C::Expire) => refused,

        (S::Completed | S::Failed | S::Expired, C::MarkForReview) => {
            legal(S::NeedsReview, "inquiry.marked-for-review")
        }
        (S::Created | S::Pending, C::MarkForReview) => refused,
        (S::NeedsReview | S::Approved | S::Declined, C::MarkForReview) => refused,

        (S::Completed | S::Failed | S::Expired | S::NeedsReview | S::Declined, C::Approve) => {
            legal(S::Approved, "inquiry.approved")
        }
        (S::Created | S::Pending | S::Approved, C::Approve) => refused,

        (S::Completed | S::Failed | S::Expired | S::NeedsReview | S::Approved, C::Decline) => {
            legal(S::Declined, "inquiry.declined")
        }
        (S::Created | S::Pending | S::Declined, C::Decline) => refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InquiryCause as C;
    use InquiryStatus as S;

    /// The lifecycle table of PRODUCT.md, written out independently of `transition`.
    fn expected(from: S, cause: C) -> Option<(S, &'static str)> {
        let table: &[(&[S], C, S, &str)] = &[
            (&[S::Created], C::Start, S::Pending, "inquiry.started"),
            (
                &[S::Pending],
                C::Complete,
                S::Completed,
                "inquiry.completed",
            ),
            (&[S::Pending], C::Fail, S::Failed, "inquiry.failed"),
            (
                &[S::Created, S::Pending],
                C::Expire,
                S::Expired,
                "inquiry.expired",
            ),
            (
                &[S::Completed, S::Failed, S::Expired],
                C::MarkForReview,
                S::NeedsReview,
                "inquiry.marked-for-review",
            ),
            (
                &[
                    S::Completed,
                    S::Failed,
                    S::Expired,
                    S::NeedsReview,
                    S::Declined,
                ],
                C::Approve,
                S::Approved,
                "inquiry.approved",
            ),
            (
                &[
                    S::Completed,
                    S::Failed,
                    S::Expired,
                    S::NeedsReview,
                    S::Approved,
                ],
                C::Decline,
                S::Declined,
                "inquiry.declined",
            ),
        ];
        table
            .iter()
            .find(|(froms, c, _, _)| *c == cause && froms.contains(&from))
            .map(|(_, _, to, event)| (*to, *event))
    }

    #[test]
    fn every_status_and_cause_pair_matches_the_product_table() {
        let mut legal_pairs = 0;
        for from in S::ALL {
            for cause in C::ALL {
                match (transition(from, cause), expected(from, cause)) {
                    (Ok(t), Some((to, event))) => {
                        assert_eq!(
                            (t.from, t.to, t.event_name),
                            (from, to, event),
                            "{from} + {cause:?}"
                        );
                        legal_pairs += 1;
                    }
                    (Err(refusal), None) => {
                        assert_eq!(refusal, IllegalInquiryTransition { from, cause });
                    }
                    (got, want) => panic!("{from} + {cause:?}: got {got:?}, want {want:?}"),
                }
            }
        }
        assert_eq!(legal_pairs, 1 + 1 + 1 + 2 + 3 + 5 + 5);
    }

    #[test]
    fn refusals_say_what_was_refused() {
        let refusal = transition(S::Approved, C::Approve).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "an inquiry that is approved cannot approve"
        );
        let refusal = transition(S::Created, C::MarkForReview).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "an inquiry that is created cannot mark for review"
        );
    }

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_errors() {
        for status in S::ALL {
            assert_eq!(S::parse(status.as_str()), Ok(status));
        }
        assert!(S::parse("archived").is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_status() -> impl Strategy<Value = S> {
            proptest::sample::select(S::ALL.to_vec())
        }
        fn any_cause() -> impl Strategy<Value = C> {
            proptest::sample::select(C::ALL.to_vec())
        }

        proptest! {
            /// Whatever sequence of causes arrives, an inquiry only ever walks legal edges and
            /// never leaves a decision state for an open one.
            #[test]
            fn random_walks_only_take_legal_edges(start in any_status(), causes in proptest::collection::vec(any_cause(), 0..40)) {
                let mut status = start;
                for cause in causes {
                    if let Ok(t) = transition(status, cause) {
                        prop_assert!(expected(status, cause).is_some());
                        prop_assert!(status.is_open() || !t.to.is_open(), "left a decision for an open status");
                        status = t.to;
                    }
                }
            }
        }
    }
}
