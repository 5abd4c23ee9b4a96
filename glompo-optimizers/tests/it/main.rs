//! Integration tests of glompo-optimizers: convergence on test functions, bounds, failures, exact
//! save/restore, stop criteria, the registry and property tests.

mod cma_es;
mod common;
mod differential_evolution;
mod nelder_mead;
mod properties;
mod random_search;
mod registry;
mod save_restore;
