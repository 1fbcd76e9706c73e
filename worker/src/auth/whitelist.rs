//! WHITELIST_PATHS matching: `prefix/*` covers the prefix itself and everything below it
//! on a segment boundary (`/graph/*` does not cover `/graphs`), `/*` covers everything,
//! other entries match exactly.

pub struct Whitelist {
    exact: Vec<String>,
    prefixes: Vec<String>,
    everything: bool,
}

impl Whitelist {
    pub fn new(entries: &[String]) -> Whitelist {
        let mut list = Whitelist {
            exact: Vec::new(),
            prefixes: Vec::new(),
            everything: false,
        };
        for entry in entries {
            match entry.strip_suffix("/*") {
                Some("") => list.everything = true,
                Some(prefix) => list.prefixes.push(prefix.to_owned()),
                None => list.exact.push(entry.clone()),
            }
        }
        list
    }

    pub fn matches(&self, path: &str) -> bool {
        self.everything
            || self.exact.iter().any(|e| e == path)
            || self.prefixes.iter().any(|p| {
                path.strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Whitelist {
        Whitelist::new(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn matches_whole_segments() {
        let w = list(&["/health", "/api/*", "/graph/*"]);
        assert!(w.matches("/health"));
        assert!(!w.matches("/health/x"));
        assert!(w.matches("/api"));
        assert!(w.matches("/api/chat"));
        assert!(!w.matches("/apis"));
        assert!(w.matches("/graph/label/list"));
        assert!(!w.matches("/graphs"));
        assert!(list(&["/*"]).matches("/anything/at/all"));
        assert!(!list(&[]).matches("/health"));
    }
}
