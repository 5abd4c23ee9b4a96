//! Integration tests of glompo-core: the manager end to end on the thread backend, and the example
//! of a user's own optimizer.

mod manager;
mod own_optimizer;
