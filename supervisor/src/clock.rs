//! One clock both sides of a fork agree on: CLOCK_MONOTONIC is system-wide, so a
//! heartbeat written by a worker compares directly with the master's reading.

/// Milliseconds of the system-wide monotonic clock.
pub fn monotonic_ms() -> u64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always available");
    ts.tv_sec() as u64 * 1000 + ts.tv_nsec() as u64 / 1_000_000
}
