//! The linter: one test per trap, wording, and output that stays proportional to input.

use proptest::prelude::*;

use super::{Lint, LintKind, MAX_LINTS_PER_KIND, Severity, lint};
use crate::topic::Direction;

fn kinds(pattern: &str) -> Vec<LintKind> {
    lint(pattern).into_iter().map(|lint| lint.kind).collect()
}

fn only_lint(pattern: &str) -> Lint {
    let mut lints = lint(pattern);
    assert_eq!(lints.len(), 1, "{pattern:?}: {lints:#?}");
    lints.remove(0)
}

proptest! {
    /// Linting arbitrary input never panics.
    #[test]
    fn linting_arbitrary_patterns_never_panics(pattern in any::<String>()) {
        let _ = lint(&pattern);
    }

    /// Linting pattern-like input never panics either.
    #[test]
    fn linting_glob_soup_never_panics(pattern in "[a-zA-Z.*?\\[\\]^\\\\%@ -]{0,24}") {
        let _ = lint(&pattern);
    }
}

/// The patterns subscribers are told to write must not drown them in noise.
#[test]
fn clean_patterns_get_no_lints() {
    for pattern in [
        "inbound.discord.123.*.*",
        "inbound.*.*.*.*",
        "inbound.*",
        "*",
        "**",
        "outbound.discord.*",
        "outbound.discord.*.*.*",
        "inbound.*.*",
        "*.*.*.*.*",
        "*.discord.*.*.*",
        "inbound.discord.@me.*.*",
        "inbound.discord.@me.*",
        "inbound.irc.libera.#rust%2Ebeginners.*",
        "inbound.slack.%40me.*.*",
        "inbound.matrix.*.café.zoë",
        "inbound.discord.[12].*.*",
        "inbound.discord.1190804811990446190.1200058256127688735.179258058118135808",
        "receipt.discord.*.*.*",
        "receipt.*",
    ] {
        assert_eq!(lint(pattern), Vec::new(), "{pattern}");
    }
}

/// The motivating mistake: `G1*` is a prefix match that also crosses dots.
#[test]
fn star_sharing_a_segment_warns_and_suggests_whole_segments() {
    let lint = only_lint("inbound.discord.G1*");
    assert_eq!(lint.severity, Severity::Warning);
    assert_eq!(lint.kind, LintKind::PartialSegmentWildcard);
    assert!(lint.message.contains("G10"), "{}", lint.message);
    assert!(lint.message.contains("dots"), "{}", lint.message);
    assert!(
        lint.message.contains("inbound.discord.G1.*.*"),
        "{}",
        lint.message
    );
    assert_eq!(lint.suggestion.as_deref(), Some("inbound.discord.G1.*.*"));
    let confined = only_lint("inbound.discord.G1*.*.*");
    assert_eq!(confined.kind, LintKind::PartialSegmentWildcard);
    assert!(
        !confined.message.contains("runs on"),
        "{}",
        confined.message
    );
}

/// `?` and classes mixed into a segment are one-byte traps.
#[test]
fn question_marks_and_classes_sharing_a_segment_warn() {
    for pattern in ["inbound.discord.G?.*.*", "inbound.discord.G[0-9].*.*"] {
        let lint = only_lint(pattern);
        assert_eq!(lint.kind, LintKind::PartialSegmentWildcard, "{pattern}");
        assert!(lint.message.contains("one byte"), "{}", lint.message);
        assert!(lint.message.contains("exactly 2 bytes"), "{}", lint.message);
    }
}

/// A suggested fix must itself be a pattern that can match.
#[test]
fn wildcard_fixes_are_only_suggested_when_valid() {
    let suffix = only_lint("inbound.discord.*G1.*.*");
    assert!(
        suffix.message.contains("ends with `G1`"),
        "{}",
        suffix.message
    );
    assert_eq!(suffix.suggestion.as_deref(), Some("inbound.discord.G1.*.*"));
    // `in` is no direction and `g]` no topic segment: no "exact" fix to offer.
    assert_eq!(
        lint_suggestion("in*.*.*.*.*", LintKind::PartialSegmentWildcard),
        None
    );
    assert_eq!(
        lint_suggestion("inbound.x.g]*.*.*", LintKind::PartialSegmentWildcard),
        None
    );
    assert_eq!(
        lint_suggestion("inbound.x.[ab.*.*", LintKind::TooFewSegments),
        None,
        "padding would land inside the unclosed class"
    );
}

/// A lone `?` is not "any segment".
#[test]
fn lone_question_mark_segment_warns() {
    let lint = only_lint("inbound.discord.?.*.*");
    assert_eq!(lint.kind, LintKind::SingleByteWildcard);
    assert_eq!(lint.severity, Severity::Warning);
    assert_eq!(lint.suggestion.as_deref(), Some("inbound.discord.*.*.*"));
}

/// Six segments never meet a five-segment topic.
#[test]
fn six_segments_is_an_error_with_the_fixed_pattern() {
    let lint = only_lint("inbound.discord.<guild>.*.*.*");
    assert_eq!(lint.severity, Severity::Error);
    assert_eq!(lint.kind, LintKind::TooManySegments);
    assert!(lint.message.contains("6 segments"), "{}", lint.message);
    assert!(lint.message.contains("exactly 5"), "{}", lint.message);
    assert!(
        lint.message.contains("`inbound.discord.<guild>.*.*`"),
        "{}",
        lint.message
    );
    assert_eq!(
        lint.suggestion.as_deref(),
        Some("inbound.discord.<guild>.*.*")
    );
    assert_eq!(
        only_lint("inbound.a.b.c.d.e").suggestion,
        None,
        "no obvious fix when the extra segment is not `*`"
    );
}

/// Without a `*`, a short pattern only matches short channels, never topics.
#[test]
fn short_pattern_without_star_is_an_error() {
    let lint = only_lint("inbound.discord");
    assert_eq!(lint.kind, LintKind::TooFewSegments);
    assert_eq!(lint.severity, Severity::Error);
    assert_eq!(lint.suggestion.as_deref(), Some("inbound.discord.*.*.*"));
    assert_eq!(kinds("inbound"), vec![LintKind::TooFewSegments]);
}

/// A lone `*` before a fixed segment lets that segment slide.
#[test]
fn lone_star_before_a_fixed_segment_in_a_short_pattern_warns() {
    let lint = only_lint("inbound.*.123.*");
    assert_eq!(lint.kind, LintKind::ShiftingSegments);
    assert!(
        lint.message.contains("the space or the room"),
        "{}",
        lint.message
    );
    assert_eq!(lint.suggestion.as_deref(), Some("inbound.*.123.*.*"));
    assert_eq!(kinds("*.discord"), vec![LintKind::ShiftingSegments]);
}

/// Topic segments are never empty.
#[test]
fn empty_segments_are_errors() {
    let lint = only_lint("inbound..x.*.*");
    assert_eq!(lint.kind, LintKind::EmptySegment);
    assert_eq!(lint.severity, Severity::Error);
    assert_eq!(lint.suggestion.as_deref(), Some("inbound.*.x.*.*"));
    assert_eq!(kinds("inbound."), vec![LintKind::EmptySegment]);
    assert_eq!(kinds(".inbound.*"), vec![LintKind::EmptySegment]);
    assert_eq!(kinds(""), vec![LintKind::EmptySegment]);
}

/// Consecutive empty segments are one mistake, reported once with one fix.
#[test]
fn a_run_of_empty_segments_is_one_lint() {
    let lint = only_lint("inbound...x.*");
    assert_eq!(lint.kind, LintKind::EmptySegment);
    assert!(lint.message.contains("segments 2 to 3"), "{}", lint.message);
    assert_eq!(lint.suggestion.as_deref(), Some("inbound.*.*.x.*"));
    assert_eq!(
        kinds("inbound..x..*"),
        vec![LintKind::EmptySegment, LintKind::EmptySegment],
        "two runs, two lints"
    );
}

/// The total size of what `lint` returns: messages and suggested fixes.
fn output_size(lints: &[Lint]) -> usize {
    lints
        .iter()
        .map(|lint| lint.message.len() + lint.suggestion.as_ref().map_or(0, String::len))
        .sum()
}

/// 64 KB of dots once took 41 s and 2 GB: each of its 64 K empty segments got a lint
/// quoting the whole pattern, with a whole fixed pattern as its suggestion.
#[test]
fn a_pattern_of_dots_lints_in_space_linear_in_its_length() {
    let pattern = ".".repeat(64 * 1024);
    let lints = lint(&pattern);
    let size = output_size(&lints);
    assert!(
        size <= 2 * pattern.len() + 1024,
        "{size} bytes in {} lints for {} bytes of pattern",
        lints.len(),
        pattern.len()
    );
    let kinds: Vec<LintKind> = lints.iter().map(|lint| lint.kind).collect();
    assert_eq!(
        kinds,
        [LintKind::TooManySegments, LintKind::EmptySegment],
        "one lint for the run"
    );
    assert!(
        lints[1].message.contains("segments 1 to 65537 are empty"),
        "{}",
        lints[1].message
    );
}

/// Every other way to get one lint per segment, and five huge segments: the lints stay
/// within a small multiple of the pattern (each was quadratic before: a whole fixed
/// pattern per segment).
#[test]
fn hostile_patterns_lint_in_space_linear_in_their_length() {
    const LENGTH: usize = 64 * 1024;
    let repeated = |unit: &str| unit.repeat(LENGTH / unit.len());
    let huge_segment = |unit: &str| {
        format!(
            "inbound.{0}.{0}.{0}.{0}",
            unit.repeat(LENGTH / 4 / unit.len())
        )
    };
    for pattern in [
        repeated("?."),
        repeated("a b."),
        repeated("a*."),
        repeated("%2e."),
        repeated("@me."),
        repeated("a.."),
        repeated("[]."),
        repeated("x\\."),
        huge_segment("G b*"),
        huge_segment("%2e"),
        huge_segment("?"),
        format!("{}.discord.*.*.*", "inbund".repeat(LENGTH / 6)),
        format!("[{}", ".".repeat(LENGTH)),
    ] {
        let lints = lint(&pattern);
        let size = output_size(&lints);
        assert!(
            size <= 16 * pattern.len() + 16 * 1024,
            "{size} bytes of lints for {} bytes of `{}...`",
            pattern.len(),
            &pattern[..16]
        );
        let mut per_kind = std::collections::HashMap::new();
        for lint in &lints {
            *per_kind.entry(lint.kind).or_insert(0) += 1;
        }
        assert!(
            per_kind.values().all(|n| *n <= MAX_LINTS_PER_KIND),
            "{per_kind:?}"
        );
    }
}

/// A mistake repeated in every segment is listed a few times, then counted.
#[test]
fn a_kind_of_lint_is_listed_a_few_times_then_counted() {
    let pattern = "a b.".repeat(MAX_LINTS_PER_KIND + 12) + "c";
    let unescaped: Vec<Lint> = lint(&pattern)
        .into_iter()
        .filter(|lint| lint.kind == LintKind::UnescapedCharacter)
        .collect();
    assert_eq!(unescaped.len(), MAX_LINTS_PER_KIND);
    let last = unescaped.last().unwrap();
    assert!(
        last.message
            .ends_with("(and 12 more like this, not listed one by one)"),
        "{}",
        last.message
    );
    assert!(
        !unescaped[0].message.contains("more like this"),
        "{}",
        unescaped[0].message
    );
}

/// A misspelt direction silently receives nothing.
#[test]
fn unknown_direction_is_an_error_with_a_guess() {
    let lint = only_lint("inbund.*");
    assert_eq!(lint.kind, LintKind::UnknownDirection);
    assert_eq!(lint.severity, Severity::Error);
    assert_eq!(lint.suggestion.as_deref(), Some("inbound.*.*.*.*"));
    assert!(lint.message.contains("`inbound`"), "{}", lint.message);
    assert_eq!(
        kinds("x[yz]*.*.*.*.*"),
        vec![LintKind::UnknownDirection, LintKind::PartialSegmentWildcard]
    );
    assert_eq!(kinds("in*.*.*.*.*"), vec![LintKind::PartialSegmentWildcard]);
    assert_eq!(
        lint_suggestion("recept.*", LintKind::UnknownDirection).as_deref(),
        Some("receipt.*.*.*.*")
    );
}

/// The wording comes from `Direction::ALL`, so a new direction cannot be left out of it
/// (`receipt` once was).
#[test]
fn unknown_direction_names_every_direction() {
    for pattern in ["sideways.*", "x.*.*.*.*"] {
        let lint = only_lint(pattern);
        assert_eq!(lint.kind, LintKind::UnknownDirection, "{pattern}");
        for direction in Direction::ALL {
            assert!(
                lint.message.contains(&format!("`{direction}`")),
                "{direction} missing: {}",
                lint.message
            );
        }
        assert!(
            !lint.message.contains("only directions"),
            "{}",
            lint.message
        );
    }
    assert!(
        only_lint("x.*.*.*.*")
            .message
            .ends_with("use `inbound`, `outbound`, `receipt` or `*`"),
        "no guess for `x`, so every choice is listed"
    );
}

/// Platform names are lower case; `Discord` never occurs.
#[test]
fn invalid_platform_is_an_error() {
    let lint = only_lint("inbound.Discord.*.*.*");
    assert_eq!(lint.kind, LintKind::InvalidPlatform);
    assert_eq!(lint.severity, Severity::Error);
    assert_eq!(lint.suggestion.as_deref(), Some("inbound.discord.*.*.*"));
    assert_eq!(
        kinds("inbound.Disc*.*.*.*"),
        vec![LintKind::InvalidPlatform, LintKind::PartialSegmentWildcard]
    );
    // With a shifting `*` before it, the second segment need not be the platform.
    assert_eq!(kinds("*.Discord"), vec![LintKind::ShiftingSegments]);
}

/// Raw characters that topics escape never occur in topics.
#[test]
fn characters_topics_escape_are_errors_with_the_escaped_form() {
    let space = only_lint("inbound.discord.my guild.*.*");
    assert_eq!(space.kind, LintKind::UnescapedCharacter);
    assert_eq!(space.severity, Severity::Error);
    assert_eq!(
        space.suggestion.as_deref(),
        Some("inbound.discord.my%20guild.*.*")
    );
    assert!(space.message.contains("my%20guild"), "{}", space.message);

    let percent = only_lint("inbound.x.100%.*.*");
    assert_eq!(percent.suggestion.as_deref(), Some("inbound.x.100%25.*.*"));
    let star = only_lint("inbound.x.a\\*b.*.*");
    assert_eq!(star.suggestion.as_deref(), Some("inbound.x.a%2Ab.*.*"));
    let at = only_lint("inbound.x.@you.*.*");
    assert_eq!(at.suggestion.as_deref(), Some("inbound.x.%40you.*.*"));
    let at_me_room = only_lint("inbound.x.g.@me.*");
    assert_eq!(
        at_me_room.suggestion.as_deref(),
        Some("inbound.x.g.%40me.*")
    );
    let tab = only_lint("inbound.x.g.a\tb.*");
    assert_eq!(tab.kind, LintKind::UnescapedCharacter);
    assert_eq!(
        kinds("inbound.x.g]*.*.*"),
        vec![
            LintKind::UnescapedCharacter,
            LintKind::PartialSegmentWildcard
        ]
    );
    assert_eq!(
        kinds("inbound.x.a\\"),
        vec![LintKind::TooFewSegments, LintKind::UnescapedCharacter]
    );
}

/// Topics print one canonical spelling; any other never matches.
#[test]
fn non_canonical_escapes_are_errors() {
    let lower = only_lint("inbound.irc.libera.#rust%2ebeginners.*");
    assert_eq!(lower.kind, LintKind::NonCanonicalEscape);
    assert_eq!(
        lower.suggestion.as_deref(),
        Some("inbound.irc.libera.#rust%2Ebeginners.*")
    );
    let needless = only_lint("inbound.x.%41.*.*");
    assert_eq!(needless.suggestion.as_deref(), Some("inbound.x.A.*.*"));
    assert_eq!(
        kinds("inbound.x.%FF.*.*"),
        vec![LintKind::NonCanonicalEscape]
    );
}

/// `\.` is a separator to Redis, not a dot inside an id.
#[test]
fn escaped_dot_warns_that_it_matches_a_separator() {
    let lint = only_lint("inbound.irc.#rust\\.beginners.*");
    assert_eq!(lint.kind, LintKind::EscapedSeparator);
    assert_eq!(
        lint.suggestion.as_deref(),
        Some("inbound.irc.#rust%2Ebeginners.*")
    );
    assert_eq!(
        kinds("inbound.irc.libera.#rust\\.beginners.*"),
        vec![LintKind::TooManySegments, LintKind::EscapedSeparator]
    );
    assert_eq!(
        lint_suggestion(
            "inbound.irc.libera.#rust\\.beginners.*",
            LintKind::TooManySegments
        ),
        None,
        "dropping a segment would be the wrong fix"
    );
}

fn lint_suggestion(pattern: &str, kind: LintKind) -> Option<String> {
    lint(pattern)
        .into_iter()
        .find(|lint| lint.kind == kind)
        .and_then(|lint| lint.suggestion)
}

/// Class mistakes that Redis accepts silently.
#[test]
fn empty_and_unterminated_classes_are_reported() {
    assert_eq!(kinds("inbound.x.[].*.*"), vec![LintKind::EmptyClass]);
    assert_eq!(
        kinds("inbound.x.[ab]c.*.*"),
        vec![LintKind::PartialSegmentWildcard]
    );
    // The unclosed class swallows the dots after it, leaving three segments.
    assert_eq!(
        kinds("inbound.x.[ab.*.*"),
        vec![LintKind::TooFewSegments, LintKind::UnterminatedClass]
    );
}

/// Errors come first, and a lint prints like a compiler diagnostic.
#[test]
fn lints_sort_errors_first_and_display_with_severity_and_kind() {
    let lints = lint("inbound.Discord.G1*");
    assert_eq!(lints[0].severity, Severity::Error);
    assert_eq!(lints[1].severity, Severity::Warning);
    let printed = lints[0].to_string();
    assert!(
        printed.starts_with("error[invalid-platform]: the platform segment `Discord`"),
        "{printed}"
    );
    assert!(
        lints[1]
            .to_string()
            .starts_with("warning[partial-segment-wildcard]: ")
    );
}
