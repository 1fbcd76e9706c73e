//! The query-mode prefixes of a chat message (LightRAG's `parse_query_mode`):
//! `/local `, `/global `, `/naive `, `/hybrid `, `/mix `, `/bypass `, `/context` (mix,
//! context only) and `/<mode>context`, optionally preceded by a bracketed user prompt
//! (`/mix[answer in French] question`, `/[be brief] question`). No prefix means mix.

use lightrag_engine::query::Mode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub query: String,
    pub mode: Mode,
    pub only_need_context: bool,
    pub user_prompt: Option<String>,
}

/// Checked in this order; mode prefixes include their trailing space.
const PREFIXES: &[(&str, Mode, bool)] = &[
    ("/local ", Mode::Local, false),
    ("/global ", Mode::Global, false),
    ("/naive ", Mode::Naive, false),
    ("/hybrid ", Mode::Hybrid, false),
    ("/mix ", Mode::Mix, false),
    ("/bypass ", Mode::Bypass, false),
    ("/context", Mode::Mix, true),
    ("/localcontext", Mode::Local, true),
    ("/globalcontext", Mode::Global, true),
    ("/hybridcontext", Mode::Hybrid, true),
    ("/naivecontext", Mode::Naive, true),
    ("/mixcontext", Mode::Mix, true),
];

/// `/<letters>[<prompt>]<rest>` → (`/<letters> <rest>`, prompt).
fn bracket(text: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix('/')?;
    let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    let (mode, rest) = rest.split_at(letters);
    let rest = rest.strip_prefix('[')?;
    let (prompt, after) = rest.split_once(']')?;
    if prompt.contains('\n') {
        return None;
    }
    Some((
        format!("/{mode} {}", after.trim_start()).trim().to_owned(),
        prompt.to_owned(),
    ))
}

pub fn route(text: &str) -> Routed {
    let (text, user_prompt) = match bracket(text) {
        Some((text, prompt)) => (text, Some(prompt)),
        None => (text.to_owned(), None),
    };
    for (prefix, mode, only_need_context) in PREFIXES {
        if let Some(rest) = text.strip_prefix(prefix) {
            return Routed {
                query: rest.trim_start().to_owned(),
                mode: *mode,
                only_need_context: *only_need_context,
                user_prompt,
            };
        }
    }
    // `/[prompt] question` leaves a bare "/ " behind.
    let query = match (&user_prompt, text.strip_prefix("/ ")) {
        (Some(_), Some(rest)) => rest.to_owned(),
        _ => text,
    };
    Routed {
        query,
        mode: Mode::Mix,
        only_need_context: false,
        user_prompt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> (String, Mode, bool, Option<String>) {
        let routed = route(text);
        (
            routed.query,
            routed.mode,
            routed.only_need_context,
            routed.user_prompt,
        )
    }

    #[test]
    fn prefixes_select_modes() {
        assert_eq!(
            r("who is Wukong?"),
            ("who is Wukong?".into(), Mode::Mix, false, None)
        );
        assert_eq!(r("/local who?"), ("who?".into(), Mode::Local, false, None));
        assert_eq!(
            r("/global  themes"),
            ("themes".into(), Mode::Global, false, None)
        );
        assert_eq!(r("/naive q"), ("q".into(), Mode::Naive, false, None));
        assert_eq!(r("/hybrid q"), ("q".into(), Mode::Hybrid, false, None));
        assert_eq!(r("/mix q"), ("q".into(), Mode::Mix, false, None));
        assert_eq!(r("/bypass hi"), ("hi".into(), Mode::Bypass, false, None));
        assert_eq!(r("/context q"), ("q".into(), Mode::Mix, true, None));
        assert_eq!(r("/localcontext q"), ("q".into(), Mode::Local, true, None));
        assert_eq!(r("/naivecontext q"), ("q".into(), Mode::Naive, true, None));
        // A mode prefix needs its space.
        assert_eq!(r("/localq"), ("/localq".into(), Mode::Mix, false, None));
    }

    #[test]
    fn bracketed_user_prompts() {
        assert_eq!(
            r("/local[answer in French] who is Wukong?"),
            (
                "who is Wukong?".into(),
                Mode::Local,
                false,
                Some("answer in French".into())
            )
        );
        assert_eq!(
            r("/[be brief] who?"),
            ("who?".into(), Mode::Mix, false, Some("be brief".into()))
        );
    }
}
