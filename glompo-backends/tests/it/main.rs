//! Integration tests of glompo-backends.

mod command;
mod thread;
