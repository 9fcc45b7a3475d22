//! `router-tools commands check FILE`: validates a Discord application commands file
//! (the file gateway-discord's `--commands` syncs) offline, against Discord's rules, so
//! a mistake is found before a deploy instead of at the gateway's start.

use std::path::Path;

use discord_commands::{Commands, FileError};
use serde_json::Value;

/// The report for `path` and whether the file passed: a one-line summary when it
/// did, else one line per problem (command, field, what Discord expects).
pub fn check(path: &Path) -> (String, bool) {
    match Commands::load(path) {
        Ok(commands) => (format!("ok: {}\n", summary(&commands)), true),
        Err(FileError::Invalid(problems)) => {
            let mut report = format!("{}: {} problem(s)\n", path.display(), problems.0.len());
            for problem in &problems.0 {
                report.push_str(&format!("  {problem}\n"));
            }
            (report, false)
        }
        Err(err) => (format!("{}: {err}\n", path.display()), false),
    }
}

/// `3 commands: 2 chat input (/ping, /roll), 1 message`.
fn summary(commands: &Commands) -> String {
    let mut chat = Vec::new();
    let (mut user, mut message, mut entry) = (0, 0, 0);
    for command in commands.as_slice() {
        let name = command["name"].as_str().unwrap_or_default();
        match command.get("type").and_then(Value::as_u64).unwrap_or(1) {
            1 => chat.push(format!("/{name}")),
            2 => user += 1,
            3 => message += 1,
            _ => entry += 1,
        }
    }
    let mut parts = vec![format!("{} chat input ({})", chat.len(), chat.join(", "))];
    for (n, what) in [(user, "user"), (message, "message"), (entry, "entry point")] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    format!("{} commands: {}", commands.len(), parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn a_good_file_is_summarised() {
        let good =
            file(r#"[{"name": "ping", "description": "pong"}, {"type": 3, "name": "Quote"}]"#);
        let (report, ok) = check(good.path());
        assert!(ok);
        assert_eq!(report, "ok: 2 commands: 1 chat input (/ping), 1 message\n");
    }

    #[test]
    fn a_bad_file_lists_each_problem_with_its_command_and_field() {
        let bad = file(
            r#"[{"name": "Ping", "description": "pong"},
                {"name": "roll", "description": "dice", "options": [
                    {"type": 3, "name": "dice", "description": "NdM"},
                    {"type": 4, "name": "n", "description": "n", "required": true}]}]"#,
        );
        let (report, ok) = check(bad.path());
        assert!(!ok);
        let lines: Vec<&str> = report.lines().collect();
        assert!(lines[0].ends_with(": 2 problem(s)"), "{report}");
        assert_eq!(
            lines[1..],
            [
                "  commands[0] /Ping: name: must be lowercase for chat input commands and options",
                "  commands[1] /roll: options[1].required: required options must come before optional ones",
            ]
        );
    }

    #[test]
    fn unreadable_and_non_json_files_say_so() {
        let (report, ok) = check(Path::new("/nonexistent/commands.json"));
        assert!(!ok);
        assert!(report.contains("cannot read the commands file"), "{report}");
        let (report, ok) = check(file("[{").path());
        assert!(!ok);
        assert!(
            report.contains("is not JSON: EOF while parsing"),
            "{report}"
        );
    }
}
