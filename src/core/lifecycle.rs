//! When the user will have to consent again. Atlassian's refresh tokens die 90 days after they
//! were issued unless rotated (inactivity; each rotation restarts the 90 days) and 365 days after
//! the first consent whatever happens in between (absolute). The refresh record keeps both dates
//! by Atlassian's clock, as the broker reports it in every token response (`issued_at`), with the
//! offset between that clock and this device's, so a context that only reads storage can tell
//! the date on its own clock.

use super::json::{JsonValue, MAX_SAFE_INTEGER};

const DAY_MS: u64 = 86_400_000;
/// A grant dies this long after the first consent (reference §3.3).
pub const ABSOLUTE_LIMIT_MS: u64 = 365 * DAY_MS;
/// A refresh token dies this long after it was issued (reference §3.3).
pub const INACTIVITY_LIMIT_MS: u64 = 90 * DAY_MS;
/// The user is asked to reconnect this long before the absolute limit: refreshing cannot
/// postpone it, only a new consent can.
pub const WARN_BEFORE_ABSOLUTE_MS: u64 = 14 * DAY_MS;

/// Which of the two limits comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// 365 days after the consent.
    Absolute,
    /// 90 days after the last rotation (any use of the grant postpones it).
    Inactivity,
}

/// When the grant will stop working unless the user consents again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// Milliseconds since the epoch on this device's clock (comparable with `Date.now()`).
    pub by_ms: u64,
    pub limit: Limit,
    /// True from [`WARN_BEFORE_ABSOLUTE_MS`] before the absolute limit on (and after it).
    pub warn: bool,
}

/// The grant's dates as the refresh record keeps them: both by Atlassian's clock (ms), and
/// Atlassian's clock minus this device's at the last token response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantDates {
    pub consented_at_ms: u64,
    pub rotated_at_ms: u64,
    pub clock_offset_ms: i64,
}

/// Reconnect date, limit and warning at `local_now_ms`: `min(consent + 365 d, rotation + 90 d)`,
/// told on this device's clock.
pub fn reconnect(dates: &GrantDates, local_now_ms: u64) -> Reconnect {
    let absolute = dates.consented_at_ms.saturating_add(ABSOLUTE_LIMIT_MS);
    let inactivity = dates.rotated_at_ms.saturating_add(INACTIVITY_LIMIT_MS);
    let (by, limit) = if absolute <= inactivity {
        (absolute, Limit::Absolute)
    } else {
        (inactivity, Limit::Inactivity)
    };
    let server_now = local_now_ms.saturating_add_signed(dates.clock_offset_ms);
    Reconnect {
        by_ms: by
            .saturating_add_signed(dates.clock_offset_ms.saturating_neg())
            .min(MAX_SAFE_INTEGER),
        limit,
        warn: server_now.saturating_add(WARN_BEFORE_ABSOLUTE_MS) >= absolute,
    }
}

/// Atlassian's time of a token response (ms) and its offset from this device's clock: the
/// response's `issued_at` (Unix seconds) when it is a usable number, else this device's time
/// (offset 0; a broker of an older version sends none).
pub fn issued_at(value: Option<&JsonValue>, local_now_ms: u64) -> (u64, i64) {
    let server_ms = value
        .and_then(JsonValue::as_u64)
        .filter(|s| *s > 0 && *s <= MAX_SAFE_INTEGER / 1000)
        .map(|s| s * 1000);
    match server_ms {
        Some(ms) => (ms, ms as i64 - local_now_ms as i64),
        None => (local_now_ms, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn dates(consent_day: u64, rotation_day: u64, offset_days: i64) -> GrantDates {
        GrantDates {
            consented_at_ms: T0 + consent_day * DAY_MS,
            rotated_at_ms: T0 + rotation_day * DAY_MS,
            clock_offset_ms: offset_days * DAY_MS as i64,
        }
    }

    #[test]
    fn the_earlier_limit_wins() {
        // Consent on day 0, last rotation on day 100: inactivity on day 190 comes first.
        let r = reconnect(&dates(0, 100, 0), T0 + 101 * DAY_MS);
        assert_eq!(
            (r.by_ms, r.limit, r.warn),
            (T0 + 190 * DAY_MS, Limit::Inactivity, false)
        );
        // Rotation on day 300: day 390 is after day 365, the absolute limit is first.
        let r = reconnect(&dates(0, 300, 0), T0 + 301 * DAY_MS);
        assert_eq!((r.by_ms, r.limit), (T0 + 365 * DAY_MS, Limit::Absolute));
        // A tie is the absolute limit (refreshing would not move it).
        assert_eq!(reconnect(&dates(0, 275, 0), T0).limit, Limit::Absolute);
    }

    #[test]
    fn warns_from_14_days_before_the_absolute_limit_only() {
        let d = dates(0, 340, 0);
        let at = |day: u64, ms: i64| reconnect(&d, (T0 + day * DAY_MS).saturating_add_signed(ms));
        assert!(!at(351, -1).warn);
        assert!(at(351, 0).warn);
        assert!(at(352, 0).warn);
        assert!(at(400, 0).warn, "past the limit: still a warning");
        // Close to the inactivity limit, far from the absolute one: no warning (using the
        // grant postpones it).
        let r = reconnect(&dates(0, 10, 0), T0 + 99 * DAY_MS);
        assert_eq!((r.limit, r.warn), (Limit::Inactivity, false));
    }

    #[test]
    fn dates_are_told_on_this_devices_clock() {
        // Atlassian's clock is 352 days ahead of this device's: the consent it dated at T0 is
        // 352 days in the past, the limit 13 days ahead on this clock, and the warning is due.
        let r = reconnect(&dates(0, 352, 352), T0);
        assert_eq!((r.by_ms, r.limit), (T0 + 13 * DAY_MS, Limit::Absolute));
        assert!(r.warn);
        // A device clock a day ahead of Atlassian's: the date moves with it.
        let r = reconnect(&dates(0, 300, -1), T0);
        assert_eq!(r.by_ms, T0 + 366 * DAY_MS);
        assert!(!r.warn);
    }

    #[test]
    fn issued_at_is_used_when_it_is_a_plausible_number() {
        let now = T0 + 5;
        assert_eq!(
            issued_at(Some(&JsonValue::from(1_700_000_100u64)), now),
            (1_700_000_100_000, 1_700_000_100_000 - now as i64)
        );
        for bad in [
            JsonValue::from("1700000000"),
            JsonValue::from(-5),
            JsonValue::from(0),
            JsonValue::from(1.5e300),
            JsonValue::from(u64::MAX),
            JsonValue::Null,
        ] {
            assert_eq!(issued_at(Some(&bad), now), (now, 0), "{bad}");
        }
        assert_eq!(issued_at(None, now), (now, 0));
    }

    #[test]
    fn extreme_dates_saturate() {
        let d = GrantDates {
            consented_at_ms: u64::MAX,
            rotated_at_ms: u64::MAX,
            clock_offset_ms: i64::MIN,
        };
        let r = reconnect(&d, u64::MAX);
        assert_eq!(r.by_ms, MAX_SAFE_INTEGER);
    }
}
