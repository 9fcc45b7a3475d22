//! What the server told us about itself and about us: the case mapping of names
//! (ISUPPORT `CASEMAPPING`), the channel prefixes (`CHANTYPES`), our nick and our full
//! source (`nick!user@host`), and the channels we are in.

use std::collections::BTreeMap;

/// How the server compares nick and channel names (ISUPPORT `CASEMAPPING`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaseMapping {
    /// `A-Z` = `a-z` only (ngircd, and `ascii` servers).
    Ascii,
    /// `ascii` plus `[]\~` = `{}|^` (the RFC 1459 default, most networks).
    #[default]
    Rfc1459,
    /// `ascii` plus `[]\` = `{}|`.
    StrictRfc1459,
}

impl CaseMapping {
    /// The mapping an ISUPPORT value names; unknown ones (`rfc7613`...) fall back to
    /// the RFC 1459 default, which folds at least as much as `ascii`.
    pub fn from_isupport(value: &str) -> CaseMapping {
        match value.to_ascii_lowercase().as_str() {
            "ascii" => CaseMapping::Ascii,
            "strict-rfc1459" => CaseMapping::StrictRfc1459,
            _ => CaseMapping::Rfc1459,
        }
    }

    /// `name` folded to lower case under this mapping: two names are the same
    /// channel (or nick) exactly when their folds are equal.
    pub fn fold(self, name: &str) -> String {
        name.chars()
            .map(|character| match (self, character) {
                (_, 'A'..='Z') => character.to_ascii_lowercase(),
                (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, '[') => '{',
                (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, ']') => '}',
                (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, '\\') => '|',
                (CaseMapping::Rfc1459, '~') => '^',
                _ => character,
            })
            .collect()
    }
}

/// The server's rules and our place on it, for one connection.
#[derive(Debug, Clone)]
pub struct Session {
    /// How names compare.
    pub case_mapping: CaseMapping,
    /// The characters that start a channel name (`CHANTYPES`, default `#&`).
    pub chan_types: String,
    /// Our nick now (after a 433 it may be an alternate).
    pub nick: String,
    /// `nick!user@host` as the server relays our messages, once seen (our own JOIN).
    pub source: Option<String>,
    /// The network name the server announced (`NETWORK`), if any.
    pub network: Option<String>,
    /// The channels we are in: folded name -> the server's spelling.
    pub joined: BTreeMap<String, String>,
}

impl Session {
    /// The state before registration, with the nick we are about to ask for.
    pub fn new(nick: &str) -> Session {
        Session {
            case_mapping: CaseMapping::default(),
            chan_types: "#&".to_owned(),
            nick: nick.to_owned(),
            source: None,
            network: None,
            joined: BTreeMap::new(),
        }
    }

    /// Reads the tokens of one `005 RPL_ISUPPORT` (its middle parameters).
    pub fn apply_isupport<'a>(&mut self, tokens: impl IntoIterator<Item = &'a str>) {
        for token in tokens {
            let (key, value) = token.split_once('=').unwrap_or((token, ""));
            match key {
                "CASEMAPPING" => self.case_mapping = CaseMapping::from_isupport(value),
                "CHANTYPES" if !value.is_empty() => self.chan_types = value.to_owned(),
                "NETWORK" if !value.is_empty() => self.network = Some(value.to_owned()),
                _ => {}
            }
        }
    }

    /// Whether `target` names a channel (rather than a nick).
    pub fn is_channel(&self, target: &str) -> bool {
        target
            .chars()
            .next()
            .is_some_and(|first| self.chan_types.contains(first))
    }

    /// `name` folded under the server's case mapping.
    pub fn fold(&self, name: &str) -> String {
        self.case_mapping.fold(name)
    }

    /// Whether `nick` is us.
    pub fn is_me(&self, nick: &str) -> bool {
        self.fold(nick) == self.fold(&self.nick)
    }

    /// Whether we are in `channel` (any case).
    pub fn in_channel(&self, channel: &str) -> bool {
        self.joined.contains_key(&self.fold(channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1459_folds_brackets_and_ascii_does_not() {
        assert_eq!(CaseMapping::Rfc1459.fold("#Rust[Dev]~\\"), "#rust{dev}^|");
        assert_eq!(CaseMapping::StrictRfc1459.fold("[~]"), "{~}");
        assert_eq!(CaseMapping::Ascii.fold("#Rust[Dev]"), "#rust[dev]");
        assert_eq!(CaseMapping::from_isupport("ascii"), CaseMapping::Ascii);
        assert_eq!(CaseMapping::from_isupport("rfc7613"), CaseMapping::Rfc1459);
    }

    #[test]
    fn isupport_sets_case_mapping_channel_types_and_network() {
        let mut session = Session::new("bot");
        session.apply_isupport([
            "CASEMAPPING=ascii",
            "CHANTYPES=#&+",
            "NETWORK=testnet",
            "PENALTY",
        ]);
        assert_eq!(session.case_mapping, CaseMapping::Ascii);
        assert!(session.is_channel("+modeless"));
        assert!(!session.is_channel("alice"));
        assert_eq!(session.network.as_deref(), Some("testnet"));
        assert!(session.is_me("BOT"));
    }
}
