//! Process file descriptors (Linux 5.3 and later): a handle on one process that its pid cannot give.
//!
//! A pidfd names the process its pid named when it was opened, even after that process died and its
//! pid was reused, so a signal sent through it never reaches another process; and it becomes readable
//! when the process exits, so `poll` can wait for an exit together with pipes. Older kernels answer
//! `ENOSYS`; callers then fall back to pids.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::signal::Signal;

/// `pidfd_open(pid, 0)`.
pub(crate) fn open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no memory is shared.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    let fd = i32::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: the kernel just returned this descriptor to us, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `pidfd_send_signal(pidfd, signal, NULL, 0)`.
pub(crate) fn send_signal(pidfd: &OwnedFd, signal: Signal) -> Result<(), Errno> {
    let no_info: *const nix::libc::siginfo_t = std::ptr::null();
    // SAFETY: the descriptor is open for the duration of the call, a null siginfo is allowed (the kernel
    // then fills it in as for kill(2)), and no memory is written.
    let rc = unsafe {
        nix::libc::syscall(nix::libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), signal as i32, no_info, 0)
    };
    if rc < 0 { Err(Errno::last()) } else { Ok(()) }
}
