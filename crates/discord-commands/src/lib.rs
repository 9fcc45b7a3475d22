//! Discord application commands files: load one, check it against Discord's rules
//! offline, and tell whether what Discord holds already matches it.
//!
//! A commands file is exactly what Discord's "Bulk Overwrite Global Application
//! Commands" (`PUT /applications/{app}/commands`) takes: a JSON array of application
//! command objects, so every Discord doc and example applies unchanged. Bytebot declares
//! its commands this way instead of coding them into the gateway: gateway-discord
//! (`--commands FILE`) syncs the file at start, and `router-tools commands check FILE`
//! validates it without a network.
//!
//! - `check.rs`: Discord's rules (names, descriptions, option types and nesting,
//!   choices, limits), each problem pointing at its command and field.
//! - `compare.rs`: the comparison that keeps the sync idempotent. Discord answers
//!   with fields of its own (ids, versions, defaults filled in), so both sides are
//!   reduced to what a write would change before they are compared.
//!
//! This crate knows nothing of HTTP or serenity: router-tools uses it without the
//! gateway's dependencies.

mod check;
mod compare;

use std::fmt;
use std::path::Path;

use serde_json::Value;

pub use check::{Problem, check};
pub use compare::{Changes, changes};

/// A checked commands file: a JSON array of application command objects that passes
/// [`check`].
#[derive(Debug, Clone, PartialEq)]
pub struct Commands {
    commands: Vec<Value>,
}

impl Commands {
    /// Parses and checks a commands file's text.
    pub fn parse(text: &str) -> Result<Commands, FileError> {
        let value: Value = serde_json::from_str(text).map_err(|err| FileError::Json {
            // serde_json's syntax errors name the position, never the input.
            reason: err.to_string(),
        })?;
        let problems = check(&value);
        if !problems.is_empty() {
            return Err(FileError::Invalid(Problems(problems)));
        }
        let Value::Array(commands) = value else {
            unreachable!("check refuses anything but an array");
        };
        Ok(Commands { commands })
    }

    /// Reads, parses and checks the commands file at `path`.
    pub fn load(path: &Path) -> Result<Commands, FileError> {
        let text = std::fs::read_to_string(path).map_err(|err| FileError::Read {
            reason: err.to_string(),
        })?;
        Commands::parse(&text)
    }

    /// The command objects, as the file has them.
    pub fn as_slice(&self) -> &[Value] {
        &self.commands
    }

    /// How many commands the file declares.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether the file declares no command (syncing it deletes every command).
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// What writing this file would change, given the commands Discord holds
    /// (`GET .../commands?with_localizations=true`).
    pub fn changes(&self, existing: &[Value]) -> Changes {
        changes(&self.commands, existing)
    }
}

/// Why a commands file cannot be used. Messages name the command and field, never
/// quote the file beyond command names.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file could not be read.
    #[error("cannot read the commands file: {reason}")]
    Read {
        /// The I/O error.
        reason: String,
    },
    /// The file is not JSON.
    #[error("the commands file is not JSON: {reason}")]
    Json {
        /// The parser's message, with line and column.
        reason: String,
    },
    /// The file breaks Discord's rules.
    #[error("the commands file breaks Discord's rules: {0}")]
    Invalid(Problems),
}

/// Every problem [`check`] found in a file (at least one).
#[derive(Debug, Clone, PartialEq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
