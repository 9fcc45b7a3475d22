//! `RedisUrl` as a clap argument (feature `clap`): an invalid value is reported by
//! what is wrong with it, never by repeating it.
//!
//! clap's own message for a value its parser refuses is
//! `invalid value '<raw>' for '--redis-url <REDIS_URL>': ...`, which would print a
//! password the checks could not hide (`redis://:p#w0rd@host`). Implementing
//! [`clap::builder::ValueParserFactory`] makes every `redis_url: RedisUrl` field of a
//! `#[derive(Parser)]` use [`RedisUrlParser`] without a word in the binary; and since
//! `RedisUrl` has no `FromStr`, such a field does not compile without this feature, so
//! no program can fall back to clap's message. The error keeps clap's form, usage line
//! and exit status 2.

use std::ffi::OsStr;

use clap::builder::{TypedValueParser, ValueParserFactory};
use clap::error::ErrorKind;

use super::RedisUrl;

/// Parses a [`RedisUrl`] for clap; its error never contains the value.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedisUrlParser;

impl TypedValueParser for RedisUrlParser {
    type Value = RedisUrl;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<RedisUrl, clap::Error> {
        let problem = match value.to_str() {
            Some(text) => match RedisUrl::parse(text) {
                Ok(url) => return Ok(url),
                Err(err) => err.to_string(),
            },
            None => "invalid redis url: it is not valid UTF-8".to_owned(),
        };
        let which = match arg {
            Some(arg) => match arg.get_env() {
                Some(env) => format!("'{arg}' (or {})", env.to_string_lossy()),
                None => format!("'{arg}'"),
            },
            None => "the redis url".to_owned(),
        };
        let message = format!("invalid value for {which}: {problem}");
        Err(clap::Error::raw(ErrorKind::ValueValidation, message).format(&mut command.clone()))
    }
}

impl ValueParserFactory for RedisUrl {
    type Parser = RedisUrlParser;

    fn value_parser() -> RedisUrlParser {
        RedisUrlParser
    }
}
