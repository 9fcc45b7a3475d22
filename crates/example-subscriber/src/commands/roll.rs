//! `!roll NdM`: rolls N dice with M sides. Bounded, so `!roll 99999999d99999999`
//! costs nothing and gets a clear refusal.

use std::fmt::Write as _;

/// The most dice one roll may throw.
pub const MAX_DICE: u32 = 100;
/// The most sides a die may have.
pub const MAX_SIDES: u32 = 1000;

const USAGE: &str =
    "usage: !roll NdM, e.g. !roll 2d6 (N from 1 to 100 dice, M from 2 to 1000 sides)";

/// `!roll NdM`: either dice to throw, or why the request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roll {
    /// A valid request.
    Dice {
        /// N, from 1 to `MAX_DICE` (100).
        count: u32,
        /// M, from 2 to `MAX_SIDES` (1000).
        sides: u32,
    },
    /// A request that cannot be rolled; the text says why.
    Refused(String),
}

impl Roll {
    /// Parses `NdM` (`d6` means `1d6`); anything else is refused with an explanation.
    pub fn parse(args: &str) -> Roll {
        let spec = args.trim().to_ascii_lowercase();
        if spec.is_empty() {
            return Roll::Refused(USAGE.to_owned());
        }
        let Some((count, sides)) = spec.split_once('d') else {
            return Roll::Refused(format!("`{}` is not NdM; {USAGE}", shorten(args.trim())));
        };
        let count = if count.is_empty() {
            Some(1)
        } else {
            parse_number(count)
        };
        let sides = parse_number(sides);
        let (Some(count), Some(sides)) = (count, sides) else {
            return Roll::Refused(format!("`{}` is not NdM; {USAGE}", shorten(args.trim())));
        };
        if count == 0 || count > u64::from(MAX_DICE) {
            return Roll::Refused(format!(
                "cannot roll {count} dice: from 1 to {MAX_DICE}, please"
            ));
        }
        if sides < 2 || sides > u64::from(MAX_SIDES) {
            return Roll::Refused(format!(
                "a die cannot have {sides} sides: from 2 to {MAX_SIDES}, please"
            ));
        }
        Roll::Dice {
            count: u32::try_from(count).expect("bounded above"),
            sides: u32::try_from(sides).expect("bounded above"),
        }
    }

    /// `🎲 2d6: 3 + 5 = 8` (or `🎲 d20: 17` for one die), or the refusal.
    pub fn apply(self, rng: &mut fastrand::Rng) -> String {
        let (count, sides) = match self {
            Roll::Dice { count, sides } => (count, sides),
            Roll::Refused(reason) => return reason,
        };
        let rolls: Vec<u32> = (0..count).map(|_| rng.u32(1..=sides)).collect();
        let total: u32 = rolls.iter().sum();
        if count == 1 {
            return format!("🎲 d{sides}: {total}");
        }
        let mut text = format!("🎲 {count}d{sides}: ");
        for (index, roll) in rolls.iter().enumerate() {
            if index > 0 {
                text.push_str(" + ");
            }
            let _ = write!(text, "{roll}");
        }
        let _ = write!(text, " = {total}");
        text
    }
}

/// Digits only (no sign, no spaces), saturating: a huge N must be refused as "too
/// many", not as "not a number".
fn parse_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(20) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_n_d_m_and_a_bare_d_m() {
        assert_eq!(Roll::parse("2d6"), Roll::Dice { count: 2, sides: 6 });
        assert_eq!(
            Roll::parse(" D20 "),
            Roll::Dice {
                count: 1,
                sides: 20
            }
        );
        assert_eq!(
            Roll::parse("100d1000"),
            Roll::Dice {
                count: 100,
                sides: 1000
            }
        );
    }

    /// Every bad input gets a message that says what is allowed, never a panic.
    #[test]
    fn bad_and_huge_input_is_refused_with_a_clear_message() {
        let cases = [
            ("", "usage: !roll NdM"),
            ("banana", "`banana` is not NdM"),
            ("2x6", "is not NdM"),
            ("-1d6", "is not NdM"),
            ("2d", "is not NdM"),
            ("2d6d6", "is not NdM"),
            ("0d6", "cannot roll 0 dice"),
            ("101d6", "cannot roll 101 dice: from 1 to 100"),
            (
                "99999999999999999999999d6",
                "cannot roll 18446744073709551615 dice",
            ),
            ("2d1", "a die cannot have 1 sides: from 2 to 1000"),
            ("2d1001", "cannot have 1001 sides"),
        ];
        for (input, expected) in cases {
            let Roll::Refused(reason) = Roll::parse(input) else {
                panic!("{input:?} was accepted");
            };
            assert!(reason.contains(expected), "{input:?}: {reason}");
        }
    }

    #[test]
    fn rolls_stay_within_the_dice_and_add_up() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..200 {
            let text = Roll::Dice { count: 3, sides: 6 }.apply(&mut rng);
            let (dice, total) = text
                .trim_start_matches("🎲 3d6: ")
                .split_once(" = ")
                .unwrap();
            let dice: Vec<u32> = dice.split(" + ").map(|d| d.parse().unwrap()).collect();
            assert_eq!(dice.len(), 3);
            assert!(dice.iter().all(|d| (1..=6).contains(d)), "{text}");
            assert_eq!(dice.iter().sum::<u32>(), total.parse::<u32>().unwrap());
        }
        let one = Roll::Dice {
            count: 1,
            sides: 20,
        }
        .apply(&mut rng);
        assert!(one.starts_with("🎲 d20: "), "{one}");
    }
}
