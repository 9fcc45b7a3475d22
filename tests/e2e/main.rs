//! End-to-end tests: the built binaries against private Redis servers.
