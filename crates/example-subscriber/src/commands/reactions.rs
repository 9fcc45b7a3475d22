//! `!shrug`, `!tableflip`, `!unflip`: the classic reactions.
//!
//! Three commands in one file (against the one-file-per-command rule) because each is a
//! single constant string: three files would hold one line of logic between them.

/// A reaction command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// `!shrug`.
    Shrug,
    /// `!tableflip`.
    Tableflip,
    /// `!unflip`.
    Unflip,
}

impl Reaction {
    /// The reaction named `name` (lower case, without the prefix).
    pub fn parse(name: &str) -> Option<Reaction> {
        match name {
            "shrug" => Some(Reaction::Shrug),
            "tableflip" => Some(Reaction::Tableflip),
            "unflip" => Some(Reaction::Unflip),
            _ => None,
        }
    }

    /// The reaction's text on `platform`. On Discord the shrug's backslash is doubled:
    /// its markdown would otherwise read `\_` as an escaped `_` and lose the arm.
    pub fn apply(self, platform: &str) -> &'static str {
        match self {
            Reaction::Shrug if platform == "discord" => "¯\\\\_(ツ)_/¯",
            Reaction::Shrug => "¯\\_(ツ)_/¯",
            Reaction::Tableflip => "(╯°□°)╯︵ ┻━┻",
            Reaction::Unflip => "┬─┬ノ( º _ ºノ)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Discord markdown eats a lone `\` before `_`; the console shows text as is.
    #[test]
    fn the_shrug_keeps_its_arm_on_every_platform() {
        assert_eq!(Reaction::Shrug.apply("console"), r"¯\_(ツ)_/¯");
        assert_eq!(Reaction::Shrug.apply("discord"), r"¯\\_(ツ)_/¯");
    }
}
