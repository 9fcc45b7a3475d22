//! Patterns for PSUBSCRIBE: builder, Redis-exact glob matcher, linter.
