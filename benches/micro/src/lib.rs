//! Micro-benchmarks of Parley's hot paths; the code is in `benches/hot_paths.rs`:
//! `cargo bench -p parley-micro` (release profile), or `cargo xtask bench --micro`.
//! They use only public APIs: the store is measured through `Core::send` (its grouped-commit
//! writer), fan-out through the `Hub`, tokens through `TokenService`, frames through serde
//! and `hub::encode`, receipts through `Core::mark`, `Core::chat` and `Core::message_info`.
