//! Approvals (`APPROVALS`, `APPROVAL_STAGES`, `APPROVAL_TIMEOUT_SECS`): who
//! lets a generation go on past its gates, which gates ask, and how long a
//! gate waits for an answer.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{ConfigError, Lookup, get, parse_num};
use crate::domain::Gate;

/// Who decides at a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalMode {
    /// The user whose request started the generation.
    Requester,
    /// Any id in `ADMIN_USER_IDS`; each gets the prompt.
    Operators,
}

/// Approvals as configured; `None` in [`super::Settings`] when `APPROVALS=off`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalSettings {
    pub mode: ApprovalMode,
    /// The gates that ask (never empty).
    pub gates: BTreeSet<Gate>,
    /// A gate with no answer after this fails the generation.
    pub timeout: Duration,
}

impl ApprovalSettings {
    pub fn asks_at(&self, gate: Gate) -> bool {
        self.gates.contains(&gate)
    }

    /// `None` when approvals are off (the default).
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Option<Self>, ConfigError> {
        let mode = match get(lookup, "APPROVALS").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("off") => return Ok(None),
            Some("requester") => ApprovalMode::Requester,
            Some("operators") => ApprovalMode::Operators,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "APPROVALS",
                    reason: format!("`{other}`: use off, requester or operators"),
                });
            }
        };
        let gates = match get(lookup, "APPROVAL_STAGES") {
            None => Gate::ALL.into_iter().collect(),
            Some(raw) => raw
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.parse::<Gate>().map_err(|e| ConfigError::Invalid { name: "APPROVAL_STAGES", reason: e.to_string() }))
                .collect::<Result<BTreeSet<_>, _>>()?,
        };
        if gates.is_empty() {
            return Err(ConfigError::Invalid {
                name: "APPROVAL_STAGES",
                reason: "name at least one of script, images, clips".into(),
            });
        }
        let secs: u64 = parse_num(lookup, "APPROVAL_TIMEOUT_SECS", 600)?;
        if secs == 0 {
            return Err(ConfigError::Invalid { name: "APPROVAL_TIMEOUT_SECS", reason: "must be at least 1".into() });
        }
        Ok(Some(Self { mode, gates, timeout: Duration::from_secs(secs) }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<ApprovalSettings>, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        ApprovalSettings::from_lookup(&|name| map.get(name).cloned())
    }

    #[test]
    fn off_by_default() {
        assert_eq!(read(&[]).expect("valid"), None);
        assert_eq!(read(&[("APPROVALS", "off"), ("APPROVAL_STAGES", "bogus")]).expect("valid"), None);
    }

    #[test]
    fn stages_and_timeout() {
        let s = read(&[("APPROVALS", "operators"), ("APPROVAL_STAGES", "clips, script"), ("APPROVAL_TIMEOUT_SECS", "5")])
            .expect("valid")
            .expect("on");
        assert_eq!(s.mode, ApprovalMode::Operators);
        assert!(s.asks_at(Gate::Script) && s.asks_at(Gate::Clips) && !s.asks_at(Gate::Images));
        assert_eq!(s.timeout, Duration::from_secs(5));
        let all = read(&[("APPROVALS", "requester")]).expect("valid").expect("on");
        assert_eq!(all.gates.len(), 3);
        assert_eq!(all.timeout, Duration::from_secs(600));
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(read(&[("APPROVALS", "everyone")]).is_err());
        assert!(read(&[("APPROVALS", "requester"), ("APPROVAL_STAGES", "voice")]).is_err());
        assert!(read(&[("APPROVALS", "requester"), ("APPROVAL_STAGES", ",")]).is_err());
        assert!(read(&[("APPROVALS", "requester"), ("APPROVAL_TIMEOUT_SECS", "0")]).is_err());
    }
}
