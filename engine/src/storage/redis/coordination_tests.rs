//! The lease and status-board scripts against a real `redis-server` (skipped when it
//! is not installed).

use std::time::{Duration, Instant};

use super::lease::{LEASE_TTL, LeaseKeys, RedisClaim, held};
use super::server_tests::TestRedis;
use super::status_board::{HISTORY, RedisStatusBoard};
use super::tests::config;
use crate::coordination::{PipelineClaim, StatusBoard};

fn keys() -> LeaseKeys {
    LeaseKeys {
        lease: "ws_pipeline_lease".into(),
        fence: "ws_pipeline_fence".into(),
    }
}

fn pttl(server: &TestRedis) -> i64 {
    redis::cmd("PTTL")
        .arg("ws_pipeline_lease")
        .query(&mut server.conn())
        .unwrap()
}

#[test]
fn a_lease_is_exclusive_fenced_and_released_only_by_its_holder() {
    let Some(server) = TestRedis::start(&[]) else {
        return;
    };
    let pool = super::pool(&config(&server.uri())).unwrap();
    let first = RedisClaim::take(pool.clone(), keys()).unwrap();
    assert!(first.still_held() && held(&pool, &keys()).unwrap());
    assert!(RedisClaim::take(pool.clone(), keys()).is_none());
    let ttl = pttl(&server);
    assert!(ttl > 0 && ttl <= LEASE_TTL.as_millis() as i64, "{ttl}");
    // The holder is taken for dead: its lease lapses and another takes it.
    redis::cmd("DEL")
        .arg("ws_pipeline_lease")
        .query::<()>(&mut server.conn())
        .unwrap();
    let second = RedisClaim::take(pool.clone(), keys()).unwrap();
    assert!(second.token() > first.token());
    assert!(!first.still_held(), "the old holder sees it lost the lease");
    drop(first);
    assert!(
        second.still_held(),
        "the old holder's release left the new lease"
    );
    drop(second);
    assert!(!held(&pool, &keys()).unwrap());
    let third = RedisClaim::take(pool, keys()).unwrap();
    assert!(third.token() > 2, "the fence never goes back");
}

#[test]
fn a_held_lease_is_renewed() {
    let Some(server) = TestRedis::start(&[]) else {
        return;
    };
    let pool = super::pool(&config(&server.uri())).unwrap();
    let claim = RedisClaim::take(pool, keys()).unwrap();
    redis::cmd("PEXPIRE")
        .arg("ws_pipeline_lease")
        .arg(4_000)
        .query::<()>(&mut server.conn())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while pttl(&server) <= 4_000 {
        assert!(Instant::now() < deadline, "the lease was not renewed");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(claim.still_held());
}

#[test]
fn the_status_board_is_shared_and_cancellation_reaches_the_runner() {
    let Some(server) = TestRedis::start(&[]) else {
        return;
    };
    let pool = super::pool(&config(&server.uri())).unwrap();
    let runner = RedisStatusBoard::new(pool.clone(), "ws_pipeline_status".into());
    let other = RedisStatusBoard::new(pool, "ws_pipeline_status".into());
    assert!(!other.request_cancel(), "nothing runs");
    assert!(!runner.cancellation_requested());
    runner.start("Default Job", 3, 1_700_000_000);
    runner.progress(2);
    for i in 0..HISTORY + 6 {
        runner.message(&format!("message {i}"));
    }
    let seen = other.snapshot();
    assert_eq!(seen, runner.snapshot());
    assert!(seen.busy && other.busy());
    assert_eq!(
        (
            seen.job_name.as_str(),
            seen.job_start,
            seen.docs,
            seen.cur_batch
        ),
        ("Default Job", Some(1_700_000_000), 3, 2)
    );
    assert_eq!(seen.history_messages.len(), HISTORY as usize);
    assert_eq!(seen.history_messages[0], "message 6");
    assert_eq!(seen.latest_message, format!("message {}", HISTORY + 5));
    assert!(other.request_cancel());
    assert!(runner.cancellation_requested());
    runner.finish();
    let done = other.snapshot();
    assert!(!done.busy && !done.cancellation_requested);
}

#[test]
fn failed_logins_are_counted_across_throttles_until_a_success() {
    use super::RedisThrottle;
    use crate::coordination::LoginThrottle;
    let Some(server) = TestRedis::start(&[]) else {
        return;
    };
    let ip: std::net::IpAddr = "10.0.0.1".parse().unwrap();
    let window = Duration::from_secs(300);
    let node_a = RedisThrottle::new(&config(&server.uri()), 3, window).unwrap();
    let node_b = RedisThrottle::new(&config(&server.uri()), 3, window).unwrap();
    assert_eq!(node_a.reserve(ip, "bob"), Ok(()));
    assert_eq!(node_b.reserve(ip, "bob"), Ok(()));
    assert_eq!(node_a.reserve(ip, "bob"), Ok(()));
    let locked = node_b.reserve(ip, "bob").unwrap_err();
    assert!((299..=300).contains(&locked.retry_after_secs), "{locked:?}");
    assert_eq!(node_b.reserve(ip, "alice"), Ok(()), "per user");
    assert_eq!(
        node_b.reserve("10.0.0.2".parse().unwrap(), "bob"),
        Ok(()),
        "per client"
    );
    node_a.record_success(ip, "alice");
    assert!(node_a.reserve(ip, "bob").is_err(), "bob stays locked");
    node_a.record_success(ip, "bob");
    assert_eq!(node_b.reserve(ip, "bob"), Ok(()));
    let off = RedisThrottle::new(&config(&server.uri()), 0, window).unwrap();
    for _ in 0..10 {
        assert_eq!(off.reserve(ip, "carol"), Ok(()));
    }
}
