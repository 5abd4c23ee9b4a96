//! Integration tests of glompo-backends.

mod command;
mod link;
mod process;
mod reaper;
mod thread;

/// Serialises the tests that start processes when they run as threads of one process (plain
/// `cargo test`; cargo-nextest runs each test in a process of its own). The reaper tests plant orphans
/// as children of the test process, which the reaper rightly leaves alone while the command tests make
/// that process a live run's manager by starting marked workers.
fn processes() -> std::sync::MutexGuard<'static, ()> {
    static PROCESSES: std::sync::Mutex<()> = std::sync::Mutex::new(());
    PROCESSES.lock().unwrap_or_else(|e| e.into_inner())
}
