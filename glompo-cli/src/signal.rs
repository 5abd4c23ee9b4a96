//! SIGINT and SIGTERM end a run cleanly: the handler only sets the manager's interrupt flag, and the
//! manager stops every optimizer, logs what still arrives and writes the summary at its next tick.
//! The handler resets itself, so a second signal ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// The flag the manager watches. It is created before the handler is installed, so the handler only
/// ever loads it.
static INTERRUPTED: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

extern "C" fn on_signal(_: std::os::raw::c_int) {
    // An atomic store is async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the handler for SIGINT and SIGTERM and returns the flag it sets.
pub(crate) fn install() -> Result<Arc<AtomicBool>, String> {
    let flag = Arc::clone(&INTERRUPTED);
    let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::SA_RESETHAND, SigSet::empty());
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only performs an atomic store on an already initialised static, which is
        // async-signal-safe, and no other code in this program installs handlers for these signals.
        unsafe { sigaction(signal, &action) }.map_err(|e| format!("cannot handle {signal}: {e}"))?;
    }
    Ok(flag)
}
