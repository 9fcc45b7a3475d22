//! `topic`: parse, build, match and lint topics and patterns, offline.

use std::fmt::Write as _;

use anyhow::Context;
use bytebot_core::pattern::{Pattern, Severity, lint};
use bytebot_core::{Direction, Space, Topic};

/// `topic parse`: the topic's parts, one per line, and its reply topic.
pub fn parse(topic: &str) -> anyhow::Result<String> {
    let parsed: Topic = topic
        .parse()
        .with_context(|| format!("`{topic}` is not a valid topic"))?;
    let mut out = String::new();
    let space = if parsed.space().is_direct() {
        "@me (direct message)".to_owned()
    } else {
        parsed.space().to_string()
    };
    let _ = writeln!(out, "direction: {}", parsed.direction());
    let _ = writeln!(out, "platform:  {}", parsed.platform());
    let _ = writeln!(out, "space:     {space}");
    let _ = writeln!(out, "room:      {}", parsed.room());
    let _ = writeln!(out, "user:      {}", parsed.user());
    if parsed.direction() == Direction::Inbound {
        let _ = writeln!(out, "reply on:  {}", parsed.reply());
    }
    Ok(out)
}

/// `topic build`: a topic from raw (unescaped) parts.
pub fn build(
    direction: Direction,
    platform: &str,
    space: Option<&str>,
    room: &str,
    user: &str,
) -> anyhow::Result<String> {
    let topic = Topic::builder(direction, platform)
        .space(space.map_or(Space::Direct, Space::id))
        .room(room)
        .user(user)
        .build()
        .context("building the topic")?;
    Ok(topic.to_string())
}

/// `topic match`: one line per topic (`match` / `no match`), plus the pattern's lints;
/// returns whether every topic matched.
pub fn matches(pattern: &str, topics: &[String]) -> (String, bool) {
    let pattern = Pattern::parse_raw(pattern);
    let mut out = String::new();
    let mut all = true;
    for topic in topics {
        let matched = pattern.matches(topic);
        all &= matched;
        let verdict = if matched { "match" } else { "no match" };
        if topics.len() == 1 {
            let _ = writeln!(out, "{verdict}");
        } else {
            let _ = writeln!(out, "{verdict}: {topic}");
        }
    }
    for lint in pattern.lint() {
        let _ = writeln!(out, "note: {lint}");
    }
    (out, all)
}

/// `topic lint`: `ok`, or each problem with its suggested fix; returns whether the
/// pattern is free of errors (warnings alone still pass).
pub fn lint_report(pattern: &str) -> (String, bool) {
    let lints = lint(pattern);
    if lints.is_empty() {
        return (format!("{pattern}: ok\n"), true);
    }
    let mut out = String::new();
    for lint in &lints {
        let _ = writeln!(out, "{lint}");
        if let Some(suggestion) = &lint.suggestion {
            let _ = writeln!(out, "  suggestion: {suggestion}");
        }
    }
    let clean = !lints.iter().any(|lint| lint.severity == Severity::Error);
    (out, clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_shows_the_parts_and_the_reply_topic() {
        let out = parse("inbound.irc.libera.#rust%2Ebeginners.alice").unwrap();
        assert!(out.contains("room:      #rust.beginners"), "{out}");
        assert!(out.contains("reply on:  outbound.irc.libera.#rust%2Ebeginners.alice"));
        assert!(parse("inbound.discord").is_err());
    }

    #[test]
    fn build_escapes_and_marks_direct_messages() {
        let topic = build(Direction::Inbound, "discord", None, "42", "a b").unwrap();
        assert_eq!(topic, "inbound.discord.@me.42.a%20b");
    }

    #[test]
    fn match_and_lint_report_the_classic_trap() {
        let (out, all) = matches("inbound.discord.G1*", &["inbound.discord.G10.c.u".into()]);
        assert!(all);
        assert!(out.starts_with("match\n"), "{out}");
        assert!(out.contains("partial-segment-wildcard"), "{out}");
        let (out, clean) = lint_report("inbound.discord.G1.*.*.*");
        assert!(!clean);
        assert!(out.contains("suggestion: inbound.discord.G1.*.*"), "{out}");
        assert_eq!(
            lint_report("inbound.*.*.*.*"),
            ("inbound.*.*.*.*: ok\n".into(), true)
        );
    }
}
