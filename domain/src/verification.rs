//! The verification lifecycle: statuses, causes and the one transition function.

use crate::inquiry::UnknownStatus;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Where one verification is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    Created,
    Submitted,
    Passed,
    Failed,
    Canceled,
}

impl VerificationStatus {
    /// Every status.
    pub const ALL: [VerificationStatus; 5] = [
        VerificationStatus::Created,
        VerificationStatus::Submitted,
        VerificationStatus::Passed,
        VerificationStatus::Failed,
        VerificationStatus::Canceled,
    ];

    /// The status every new verification starts in, announced by [`VERIFICATION_CREATED_EVENT`].
    pub const INITIAL: VerificationStatus = VerificationStatus::Created;

    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStatus::Created => "created",
            VerificationStatus::Submitted => "submitted",
            VerificationStatus::Passed => "passed",
            VerificationStatus::Failed => "failed",
            VerificationStatus::Canceled => "canceled",
        }
    }

    /// Parses the stored form; unknown is an error.
    pub fn parse(value: &str) -> Result<VerificationStatus, UnknownStatus> {
        VerificationStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
            .ok_or_else(|| UnknownStatus {
                value: value.to_owned(),
            })
    }
}

impl fmt::Display for VerificationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The event written when a verification is created.
pub const VERIFICATION_CREATED_EVENT: &str = "verification.created";

/// Why a verification's status should change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationCause {
    /// Everything it needs was provided; checks may run.
    Submit,
    /// Every required check passed.
    Pass,
    /// A required check failed.
    Fail,
    /// Timed out, or its inquiry expired.
    Cancel,
}

impl VerificationCause {
    /// Every cause.
    pub const ALL: [VerificationCause; 4] = [
        VerificationCause::Submit,
        VerificationCause::Pass,
        VerificationCause::Fail,
        VerificationCause::Cancel,
    ];
}

/// A legal change and its event name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerificationTransition {
    pub from: VerificationStatus,
    pub to: VerificationStatus,
    pub event_name: &'static str,
}

/// A refused change; nothing is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("a verification that is {from} cannot take `{cause:?}`")]
pub struct IllegalVerificationTransition {
    pub from: VerificationStatus,
    pub cause: VerificationCause,
}

/// The verification state machine.
pub fn transition(
    from: VerificationStatus,
    cause: VerificationCause,
) -> Result<VerificationTransition, IllegalVerificationTransition> {
    use VerificationCause as C;
    use VerificationStatus as S;
    let legal = |to, event_name| {
        Ok(VerificationTransition {
            from,
            to,
            event_name,
        })
    };
    let refused = Err(IllegalVerificationTransition { from, cause });
    match (from, cause) {
        (S::Created, C::Submit) => legal(S::Submitted, "verification.submitted"),
        (S::Submitted | S::Passed | S::Failed | S::Canceled, C::Submit) => refused,
        (S::Submitted, C::Pass) => legal(S::Passed, "verification.passed"),
        (S::Created | S::Passed | S::Failed | S::Canceled, C::Pass) => refused,
        (S::Submitted, C::Fail) => legal(S::Failed, "verification.failed"),
        (S::Created | S::Passed | S::Failed | S::Canceled, C::Fail) => refused,
        (S::Created | S::Submitted, C::Cancel) => legal(S::Canceled, "verification.canceled"),
        (S::Passed | S::Failed | S::Canceled, C::Cancel) => refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use VerificationCause as C;
    use VerificationStatus as S;

    #[test]
    fn every_status_and_cause_pair_matches_the_product_table() {
        let table: &[(S, C, S, &str)] = &[
            (
                S::Created,
                C::Submit,
                S::Submitted,
                "verification.submitted",
            ),
            (S::Submitted, C::Pass, S::Passed, "verification.passed"),
            (S::Submitted, C::Fail, S::Failed, "verification.failed"),
            (S::Created, C::Cancel, S::Canceled, "verification.canceled"),
            (
                S::Submitted,
                C::Cancel,
                S::Canceled,
                "verification.canceled",
            ),
        ];
        for from in S::ALL {
            for cause in C::ALL {
                let want = table.iter().find(|(f, c, _, _)| *f == from && *c == cause);
                match (transition(from, cause), want) {
                    (Ok(t), Some((_, _, to, event))) => {
                        assert_eq!((t.to, t.event_name), (*to, *event));
                    }
                    (Err(refusal), None) => {
                        assert_eq!(refusal, IllegalVerificationTransition { from, cause })
                    }
                    (got, want) => panic!("{from} + {cause:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_errors() {
        for status in S::ALL {
            assert_eq!(S::parse(status.as_str()), Ok(status));
        }
        assert!(S::parse("approved").is_err());
    }
}
