//! The built-in benchmark functions (work in progress).
