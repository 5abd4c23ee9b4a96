//! SIGINT, SIGTERM, SIGUSR1 and SIGHUP end a run cleanly: the handler only raises the manager's
//! [`Interrupt`], and the manager takes a checkpoint, stops every optimizer, gives the evaluations in
//! flight a few seconds, and writes the summary. A second signal (of any of these kinds) abandons the
//! evaluations in flight at once; the run still writes its summary and its processes are still
//! killed. SIGUSR1 is what Slurm sends before a job's walltime with `--signal=B:USR1@300`.

use std::sync::{Arc, LazyLock};

use glompo_core::manager::Interrupt;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// The interrupt the manager watches. It is created before the handler is installed, so the handler
/// only ever uses it.
static INTERRUPT: LazyLock<Arc<Interrupt>> = LazyLock::new(|| Arc::new(Interrupt::new()));

extern "C" fn on_signal(signal: std::os::raw::c_int) {
    // Atomic operations are async-signal-safe.
    INTERRUPT.raise(signal);
}

/// The signals that end a run.
const SIGNALS: [Signal; 4] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGUSR1, Signal::SIGHUP];

/// Installs the handler for the signals that end a run and returns the interrupt it raises. It also
/// makes writes past a file-size limit fail (EFBIG) instead of killing the process with SIGXFSZ, so
/// that a run that cannot write its logs still reports its result.
pub(crate) fn install() -> Result<Arc<Interrupt>, String> {
    let interrupt = Arc::clone(&INTERRUPT);
    let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::SA_RESTART, SigSet::empty());
    for signal in SIGNALS {
        // SAFETY: the handler only performs atomic operations on an already initialised static, which
        // is async-signal-safe, and no other code in this program installs handlers for these signals.
        unsafe { sigaction(signal, &action) }.map_err(|e| format!("cannot handle {signal}: {e}"))?;
    }
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: ignoring a signal installs no code at all.
    unsafe { sigaction(Signal::SIGXFSZ, &ignore) }.map_err(|e| format!("cannot ignore SIGXFSZ: {e}"))?;
    Ok(interrupt)
}
