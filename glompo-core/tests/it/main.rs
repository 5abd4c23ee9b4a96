//! Integration tests of glompo-core: the manager end to end on the thread backend.

mod manager;
