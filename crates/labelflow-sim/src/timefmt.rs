//! The three timestamp spellings GitLab uses, so each payload matches its documented example.

use chrono::{DateTime, SecondsFormat, Utc};

/// REST API: `2016-01-04T15:31:51.081Z`.
pub fn api(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Issue Hook attributes and label objects: `2013-12-03T17:15:43Z`.
pub fn hook_iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Note Hook attributes and `changes` values: `2015-05-17 17:06:40 UTC`.
pub fn hook_utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn spellings_match_gitlab_examples() {
        let t = Utc.with_ymd_and_hms(2015, 5, 17, 17, 6, 40).unwrap()
            + chrono::Duration::milliseconds(81);
        assert_eq!(api(t), "2015-05-17T17:06:40.081Z");
        assert_eq!(hook_iso(t), "2015-05-17T17:06:40Z");
        assert_eq!(hook_utc(t), "2015-05-17 17:06:40 UTC");
    }
}
