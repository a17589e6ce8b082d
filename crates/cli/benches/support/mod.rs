//! What the devnet benches share.

/// The environment variable `name` as a number, or `default` when unset or not a number.
pub(crate) fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
