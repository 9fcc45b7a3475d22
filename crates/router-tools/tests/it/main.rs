//! Integration tests of router-tools' library against a private Redis, for what the
//! end-to-end tests cannot reach through the binary (a command-line argument is at
//! most 128 KiB on Linux, far below the 1 MiB payload limit).

mod send;
