//! Multi-node integration tests of safemesh live in `tests/tests/`; this crate holds what several of
//! them share: the headless browser of the web UI's tests ([`browser`]).
#![forbid(unsafe_code)]

pub mod browser;
