//! Timestamps as LightRAG stores them: ISO 8601 with the UTC offset for document
//! records, epoch seconds on graph elements.

pub fn now_iso8601() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

pub fn now_epoch_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_timestamps_carry_the_offset() {
        let t = super::now_iso8601();
        assert!(t.ends_with("+00:00") && t.len() == 25, "{t}");
        assert!(super::now_epoch_secs() > 1_700_000_000);
    }
}
