//! Credits (`CREDITS`, prices, Stars packages) and fair-use limits
//! (`USER_RATE_LIMIT`, `USER_MAX_WAITING`, `MAX_ACTIVE_GENERATIONS`).

use std::time::Duration;

use super::{ConfigError, Lookup, get, on_off, parse_num};
use crate::domain::StarsPackage;

/// What requests cost, when credits are on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditSettings {
    /// Granted once, on a user's first contact.
    pub free: i64,
    /// A request that starts a generation.
    pub price_new: i64,
    /// A request answered from the cache or joining a generation under way.
    pub price_cached: i64,
    /// Added to either price for Quality (`PRICE_QUALITY_EXTRA`).
    pub price_quality_extra: i64,
    /// Added to either price for Long (`PRICE_LONG_EXTRA`).
    pub price_long_extra: i64,
    /// What `/buy` offers, in order.
    pub packages: Vec<StarsPackage>,
}

impl CreditSettings {
    /// The package an invoice payload names, if it is one on sale.
    pub fn package(&self, payload: &str) -> Option<StarsPackage> {
        StarsPackage::from_payload(payload).filter(|p| self.packages.contains(p))
    }
}

/// At most `max` requests in any `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub max: u32,
    pub per: Duration,
}

/// Limits that hold whether credits are on or off. Operators are exempt.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FairUse {
    /// Requests that start or join a generation, per user (empty: none).
    pub rate: Vec<RateWindow>,
    /// A user's requests waiting at once (0: no limit).
    pub max_waiting: u32,
    /// Generations running at once across every worker (0: no limit).
    pub max_active_generations: u32,
}

/// Parses `5/min,20/h` (units `s`, `min`, `h`, `d`); `off` for none.
pub fn parse_rate(raw: &str) -> Result<Vec<RateWindow>, String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("off") || raw == "0" {
        return Ok(Vec::new());
    }
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|part| {
            let (max, unit) = part.split_once('/').ok_or_else(|| format!("`{part}`: expected <count>/<unit>"))?;
            let max: u32 = max.trim().parse().map_err(|_| format!("`{part}`: the count is not a number"))?;
            let secs = match unit.trim().to_ascii_lowercase().as_str() {
                "s" | "sec" | "second" => 1,
                "m" | "min" | "minute" => 60,
                "h" | "hour" => 3600,
                "d" | "day" => 86_400,
                other => return Err(format!("`{part}`: unknown unit `{other}` (use s, min, h or d)")),
            };
            if max == 0 {
                return Err(format!("`{part}`: the count must be at least 1"));
            }
            Ok(RateWindow { max, per: Duration::from_secs(secs) })
        })
        .collect()
}

/// `CREDITS` and its prices; `None` when credits are off (the default).
pub fn credits_from(lookup: Lookup<'_>) -> Result<Option<CreditSettings>, ConfigError> {
    if !on_off(lookup, "CREDITS", false)? {
        return Ok(None);
    }
    let non_negative = |name: &'static str, default: i64| -> Result<i64, ConfigError> {
        let value: i64 = parse_num(lookup, name, default)?;
        if value < 0 {
            return Err(ConfigError::Invalid { name, reason: format!("{value}: must be 0 or more") });
        }
        Ok(value)
    };
    let raw = get(lookup, "STARS_PACKAGES").unwrap_or_else(|| "50:60,250:350,1000:1600".to_owned());
    let packages = raw
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            StarsPackage::parse(s).ok_or_else(|| ConfigError::Invalid {
                name: "STARS_PACKAGES",
                reason: format!("`{s}`: expected stars:credits, both positive"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if packages.is_empty() || packages.len() > 20 {
        return Err(ConfigError::Invalid { name: "STARS_PACKAGES", reason: "give 1 to 20 packages".into() });
    }
    Ok(Some(CreditSettings {
        free: non_negative("FREE_CREDITS", 20)?,
        price_new: non_negative("PRICE_NEW_VIDEO", 10)?,
        price_cached: non_negative("PRICE_CACHED_VIDEO", 1)?,
        price_quality_extra: non_negative("PRICE_QUALITY_EXTRA", 0)?,
        price_long_extra: non_negative("PRICE_LONG_EXTRA", 0)?,
        packages,
    }))
}

pub fn fair_use_from(lookup: Lookup<'_>) -> Result<FairUse, ConfigError> {
    let raw = get(lookup, "USER_RATE_LIMIT").unwrap_or_else(|| "5/min,20/h".to_owned());
    let rate = parse_rate(&raw).map_err(|reason| ConfigError::Invalid { name: "USER_RATE_LIMIT", reason })?;
    Ok(FairUse {
        rate,
        max_waiting: parse_num(lookup, "USER_MAX_WAITING", 3)?,
        max_active_generations: parse_num(lookup, "MAX_ACTIVE_GENERATIONS", 5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        let rate = parse_rate("5/min, 20/h").expect("valid");
        assert_eq!(
            rate,
            vec![RateWindow { max: 5, per: Duration::from_secs(60) }, RateWindow { max: 20, per: Duration::from_secs(3600) }]
        );
        assert!(parse_rate("off").expect("valid").is_empty());
        for bad in ["5", "5/week", "x/min", "0/min"] {
            assert!(parse_rate(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn credits_default_off_and_parse_when_on() {
        assert_eq!(credits_from(&|_| None).expect("valid"), None);
        let on = credits_from(&|name| (name == "CREDITS").then(|| "on".to_owned())).expect("valid").expect("on");
        assert_eq!((on.free, on.price_new, on.price_cached, on.packages.len()), (20, 10, 1, 3));
        assert_eq!(on.package("pkg:50:60").map(|p| p.credits), Some(60));
        assert_eq!(on.package("pkg:50:61"), None);
    }
}
