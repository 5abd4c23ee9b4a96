//! Integration tests of glompo-backends.

mod command;
mod reaper;
mod thread;
