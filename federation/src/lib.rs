//! Server-to-server federation over mutual-TLS QUIC (quinn + rustls): transport, frames and
//! peer identity. It will know nothing of chats; `core` drives it.
//!
//! Reserved: the federation issue fills this crate. It sits below `core` in the layering so
//! that the core can use it and it can never reach up into business rules.
