//! Integration tests: the real server on 127.0.0.1:0 over a temp data dir with the embedded
//! database, driven over HTTP and WebSocket. One test binary (each extra one relinks the
//! whole dependency tree).

mod admin;
mod auth;
mod backup;
mod chats;
mod child;
mod durability;
mod edge;
mod federation;
mod groups;
mod ldap;
mod media;
mod ops;
mod realtime;
mod search;
mod webtransport;
