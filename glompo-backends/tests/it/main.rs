//! Integration tests of glompo-backends.

mod thread;
