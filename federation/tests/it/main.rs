//! Integration tests: real QUIC between in-process endpoints on 127.0.0.1. One test binary
//! (see STYLE.md); each test is bounded by `support::bounded`.

mod ca;
mod partition;
mod peering;
mod rogue;
mod support;
