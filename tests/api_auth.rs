//! LightRAG's auth contract, black-box, with two workers: every branch of the decision
//! order with its exact status and body, token handling, whitelist, renewal and
//! throttling across workers.

#![cfg(feature = "testing")]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Response, Server, login, send};

const SECRET: &str = "test-secret-for-black-box";

fn get_with(server: &Server, path: &str, headers: &[(&str, &str)]) -> Response {
    send(server.port, "GET", path, headers, b"")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn detail(r: &Response) -> String {
    r.json()["detail"].as_str().unwrap_or_default().to_owned()
}

fn accounts_server(name: &str, extra: &[&str]) -> Server {
    Server::builder(name)
        .args(&["--workers", "2"])
        .env("AUTH_ACCOUNTS", "admin:admin-pw,bob:bob-pw")
        .env("TOKEN_SECRET", SECRET)
        .args(extra)
        .start()
}

fn token_of(r: &Response) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn open_mode_lets_everyone_in_and_hands_out_guest_tokens() {
    let server = Server::builder("auth-open")
        .args(&["--workers", "2"])
        .start();
    let status = server.get("/auth-status").json();
    assert_eq!(status["auth_configured"], false);
    assert_eq!(status["auth_mode"], "disabled");
    assert_eq!(status["token_type"], "bearer");
    assert_eq!(
        status["message"],
        "Authentication is disabled. Using guest access."
    );
    let guest = status["access_token"].as_str().unwrap().to_owned();
    let logged = login(server.port, "username=any&password=thing").json();
    assert_eq!(logged["auth_mode"], "disabled");
    assert_eq!(server.get("/metrics").status, 200);
    assert_eq!(
        get_with(&server, "/metrics", &[("Authorization", &bearer(&guest))]).status,
        200
    );
    let bad = get_with(&server, "/metrics", &[("Authorization", "Bearer garbage")]);
    assert_eq!((bad.status, detail(&bad)), (401, "Invalid token".into()));
    assert_eq!(server.get("/auth/verify").json()["status"], "ok");
    // A user token (signed with the same secret by an accounts server) is refused here.
    let accounts = accounts_server("auth-open-peer", &[]);
    let user = token_of(&login(accounts.port, "username=admin&password=admin-pw"));
    let open_same_secret = Server::builder("auth-open-secret")
        .env("TOKEN_SECRET", SECRET)
        .start();
    let r = get_with(
        &open_same_secret,
        "/metrics",
        &[("Authorization", &bearer(&user))],
    );
    assert_eq!(
        (r.status, detail(&r)),
        (401, "Invalid token. Please login again.".into())
    );
}

#[test]
fn api_key_mode_follows_the_decision_order() {
    let server = Server::builder("auth-key")
        .args(&["--workers", "2"])
        .env("LIGHTRAG_API_KEY", "k3y")
        .start();
    let r = server.get("/metrics");
    assert_eq!((r.status, detail(&r)), (403, "API Key required".into()));
    let r = get_with(&server, "/metrics", &[("X-API-Key", "wrong")]);
    assert_eq!((r.status, detail(&r)), (403, "Invalid API Key".into()));
    assert_eq!(
        get_with(&server, "/metrics", &[("X-API-Key", "k3y")]).status,
        200
    );
    // A present but invalid bearer token is 401 even with a valid key.
    let r = get_with(
        &server,
        "/metrics",
        &[("X-API-Key", "k3y"), ("Authorization", "Bearer x.y.z")],
    );
    assert_eq!((r.status, detail(&r)), (401, "Invalid token".into()));
    // A valid guest token is ignored in key mode: the key decides.
    let guest = server.get("/auth-status").json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = get_with(&server, "/metrics", &[("Authorization", &bearer(&guest))]);
    assert_eq!((r.status, detail(&r)), (403, "API Key required".into()));
    let r = get_with(
        &server,
        "/metrics",
        &[("Authorization", &bearer(&guest)), ("X-API-Key", "k3y")],
    );
    assert_eq!(r.status, 200);
    // /health is whitelisted, tiered.
    let public = server.get("/health").json();
    assert!(public.get("working_directory").is_none());
    assert_eq!(public["auth_mode"], "disabled");
    let full = get_with(&server, "/health", &[("X-API-Key", "k3y")]).json();
    assert!(
        full["working_directory"]
            .as_str()
            .unwrap()
            .ends_with("rag_storage")
    );
    assert_eq!(full["workers"], 2);
    assert_eq!(full["configuration"]["kv_storage"], "JsonKVStorage");
    assert_eq!(
        full["configuration"]["vector_storage"],
        "NanoVectorDBStorage"
    );
    assert_eq!(full["server_mode"], "gunicorn");
    // /auth/verify ignores the whitelist.
    let r = server.get("/auth/verify");
    assert_eq!((r.status, detail(&r)), (403, "API Key required".into()));
}

#[test]
fn accounts_mode_logs_in_and_rejects_every_bad_token() {
    let server = accounts_server("auth-accounts", &["--key", "k3y"]);
    let r = server.get("/metrics");
    assert_eq!(
        (r.status, detail(&r)),
        (401, "No credentials provided. Please login.".into())
    );
    let r = get_with(&server, "/metrics", &[("X-API-Key", "wrong")]);
    assert_eq!(
        (r.status, detail(&r)),
        (401, "No credentials provided. Please login.".into())
    );
    assert_eq!(
        get_with(&server, "/metrics", &[("X-API-Key", "k3y")]).status,
        200
    );
    let status = server.get("/auth-status").json();
    assert_eq!(
        (
            status["auth_configured"].clone(),
            status["auth_mode"].clone()
        ),
        (true.into(), "enabled".into())
    );
    assert!(status.get("access_token").is_none());

    let r = login(server.port, "username=admin&password=nope");
    assert_eq!(
        (r.status, detail(&r)),
        (401, "Incorrect credentials".into())
    );
    let r = login(server.port, "username=ghost&password=admin-pw");
    assert_eq!(
        (r.status, detail(&r)),
        (401, "Incorrect credentials".into())
    );
    let token = token_of(&login(
        server.port,
        "username=admin&password=admin-pw&grant_type=password",
    ));
    let logged = login(server.port, "username=bob&password=bob-pw").json();
    assert_eq!(logged["auth_mode"], "enabled");
    assert_eq!(
        get_with(&server, "/metrics", &[("Authorization", &bearer(&token))]).status,
        200
    );
    let health = get_with(&server, "/health", &[("Authorization", &bearer(&token))]).json();
    assert!(health.get("working_directory").is_some());
    assert!(
        server
            .get("/health")
            .json()
            .get("working_directory")
            .is_none()
    );

    // Tampered tokens: all 401, never 500.
    let parts: Vec<&str> = token.split('.').collect();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    let wrong_sig = format!("{}.{}.{}", parts[0], parts[1], "AAAA".repeat(10));
    let no_sub = format!("{}.eyJleHAiOjQxMDI0NDQ4MDB9.{}", parts[0], parts[2]);
    for bad in [
        alg_none.as_str(),
        wrong_sig.as_str(),
        no_sub.as_str(),
        "garbage",
        "a.b.c",
        "",
    ] {
        let r = get_with(&server, "/metrics", &[("Authorization", &bearer(bad))]);
        assert!(r.status == 401, "{bad}: {} {}", r.status, r.body);
    }
    // A guest token (same secret, from an open server) is refused with accounts.
    let open = Server::builder("auth-accounts-guest")
        .env("TOKEN_SECRET", SECRET)
        .start();
    let guest = open.get("/auth-status").json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = get_with(&server, "/metrics", &[("Authorization", &bearer(&guest))]);
    assert_eq!(
        (r.status, detail(&r)),
        (401, "Invalid token. Please login again.".into())
    );
}

#[test]
fn expired_tokens_are_invalid() {
    let server = accounts_server("auth-expired", &["--token-expire-hours", "0.0003"]);
    let token = token_of(&login(server.port, "username=admin&password=admin-pw"));
    // Several times, so both workers have verified (and cached) the token: a cached
    // token must still expire.
    for _ in 0..8 {
        assert_eq!(
            get_with(&server, "/metrics", &[("Authorization", &bearer(&token))]).status,
            200
        );
    }
    std::thread::sleep(Duration::from_millis(2200));
    for _ in 0..8 {
        let r = get_with(&server, "/metrics", &[("Authorization", &bearer(&token))]);
        assert_eq!((r.status, detail(&r)), (401, "Invalid token".into()));
    }
}

#[test]
fn login_form_errors_are_422_in_fastapi_shape() {
    let server = accounts_server("auth-422", &[]);
    let r = login(server.port, "username=admin");
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body,
        r#"{"detail":[{"type":"missing","loc":["body","password"],"msg":"Field required","input":null}]}"#
    );
    let r = login(
        server.port,
        "username=admin&password=admin-pw&grant_type=client_credentials",
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["detail"][0]["type"], "string_pattern_mismatch");
    assert_eq!(r.json()["detail"][0]["loc"][1], "grant_type");
}

#[test]
fn renewal_happens_once_per_minute_per_user_across_workers() {
    let server = accounts_server("auth-renew", &["--token-renew-threshold", "1.0"]);
    let token = token_of(&login(server.port, "username=admin&password=admin-pw"));
    std::thread::sleep(Duration::from_millis(1100));
    let auth = bearer(&token);
    let mut renewed = Vec::new();
    let mut pids = HashSet::new();
    for _ in 0..30 {
        let r = get_with(&server, "/debug/pid", &[("Authorization", &auth)]);
        pids.insert(r.json()["pid"].as_i64().unwrap());
        renewed.extend(r.header("x-new-token").map(str::to_owned));
    }
    assert_eq!(pids.len(), 2, "requests reached both workers");
    assert_eq!(renewed.len(), 1, "exactly one renewal across workers");
    assert_eq!(
        get_with(
            &server,
            "/metrics",
            &[("Authorization", &bearer(&renewed[0]))]
        )
        .status,
        200
    );
    // /health never renews.
    let other = token_of(&login(server.port, "username=bob&password=bob-pw"));
    std::thread::sleep(Duration::from_millis(1100));
    let r = get_with(&server, "/health", &[("Authorization", &bearer(&other))]);
    assert!(r.header("x-new-token").is_none());
    let r = get_with(&server, "/metrics", &[("Authorization", &bearer(&other))]);
    assert!(r.header("x-new-token").is_some(), "bob's first renewal");
}

#[test]
fn failed_logins_are_throttled_across_workers() {
    let server = accounts_server("auth-throttle", &["--login-max-failed-attempts", "3"]);
    for _ in 0..3 {
        assert_eq!(
            login(server.port, "username=admin&password=wrong").status,
            401
        );
    }
    let r = login(server.port, "username=admin&password=admin-pw");
    assert_eq!(r.status, 429);
    assert_eq!(
        detail(&r),
        "Too many failed login attempts. Please try again later."
    );
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((290..=301).contains(&retry), "{retry}");
    // Another user from the same address is not affected; a success resets that user.
    assert_eq!(
        login(server.port, "username=bob&password=wrong").status,
        401
    );
    assert_eq!(
        login(server.port, "username=bob&password=bob-pw").status,
        200
    );
    for _ in 0..2 {
        assert_eq!(
            login(server.port, "username=bob&password=wrong").status,
            401
        );
    }
    assert_eq!(
        login(server.port, "username=bob&password=bob-pw").status,
        200
    );
}

/// bcrypt hashes at cost 4 (`$2b$04$`), so that thousands of logins take seconds: the
/// stand-in hash unknown names are verified against takes the accounts' cost.
const PW_COST_4: &str = "$2b$04$YHybHCzFScLaCH9xMB5jLOOVIiNuHsCm5yanbUimQ/uCZ6AIjksAm";
/// "x" 80 times, hashed by a bcrypt that truncates to 72 bytes (as Python's bcrypt 4 did).
const X80_COST_4: &str = "$2b$04$o79nXvvqgTy73h1EYcvjC.BtIKX77.rriiN9JUjjI4GZLu6eylNmW";
const PW_COST_5: &str = "$2b$05$ij1/gnL5EfV3Lr.kHCcwwe4wG8kz3TagrqCi66rt5OOUoe.xKJmym";

fn logins_in_parallel(port: u16, forms: &[String]) -> Vec<u16> {
    std::thread::scope(|s| {
        let attempts: Vec<_> = forms
            .iter()
            .map(|form| s.spawn(move || login(port, form).status))
            .collect();
        attempts.into_iter().map(|a| a.join().unwrap()).collect()
    })
}

#[test]
fn parallel_wrong_logins_get_only_the_limit_evaluated() {
    let server = accounts_server("auth-parallel", &["--login-max-failed-attempts", "5"]);
    let forms = vec!["username=admin&password=wrong".to_owned(); 40];
    let statuses = logins_in_parallel(server.port, &forms);
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!((count(401), count(429)), (5, 35), "{statuses:?}");
    let evaluated = server.log_file().matches("login failed user=admin").count();
    assert!(evaluated <= 5, "{evaluated} attempts reached bcrypt");
}

#[test]
fn failures_for_other_names_do_not_unlock_the_target() {
    let server = Server::builder("auth-flood")
        .args(&["--workers", "2", "--login-max-failed-attempts", "3"])
        .env("AUTH_ACCOUNTS", &format!("admin:{{bcrypt}}{PW_COST_4}"))
        .env("TOKEN_SECRET", SECRET)
        .start();
    for _ in 0..3 {
        assert_eq!(login(server.port, "username=admin&password=no").status, 401);
    }
    // More names than the throttle table has records (4096), from the same address.
    let names: Vec<String> = (0..4200)
        .map(|i| format!("username=flood-{i}&password=no"))
        .collect();
    for batch in names.chunks(8) {
        let statuses = logins_in_parallel(server.port, batch);
        assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    }
    let r = login(server.port, "username=admin&password=pw");
    assert_eq!(r.status, 429, "the target is still locked out: {}", r.body);
}

#[test]
fn bcrypt_passwords_over_72_bytes_are_refused_and_not_hashed() {
    let long = "x".repeat(80);
    let out = std::process::Command::new(common::BIN)
        .args(["hash-password", &long])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no hash printed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("80 bytes") && stderr.contains("first 72"),
        "{stderr}"
    );
    let server = Server::builder("auth-long")
        .env(
            "AUTH_ACCOUNTS",
            &format!(
                "long:{{bcrypt}}{X80_COST_4},plain:{long},a:{{bcrypt}}{PW_COST_4},\
                 odd:{{bcrypt}}{PW_COST_5}"
            ),
        )
        .env("TOKEN_SECRET", SECRET)
        .start();
    let form = |user: &str, password: &str| format!("username={user}&password={password}");
    assert_eq!(login(server.port, &form("long", &long)).status, 401);
    assert_eq!(
        login(server.port, &form("long", &format!("{}yy", &long[..72]))).status,
        401,
        "not truncated to its first 72 bytes"
    );
    token_of(&login(server.port, &form("long", &long[..72])));
    token_of(&login(server.port, &form("plain", &long)));
    token_of(&login(server.port, &form("odd", "pw")));
    assert!(
        server.wait_output("another bcrypt cost", Duration::from_secs(5)),
        "the account at cost 5 among cost-4 ones is reported:\n{}",
        server.output()
    );
}

#[test]
fn hash_password_output_verifies_at_login() {
    let out = std::process::Command::new(common::BIN)
        .args(["hash-password", "s3cret pw"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(hash.starts_with("{bcrypt}$2b$12$"), "{hash}");
    let server = Server::builder("auth-hash")
        .env("AUTH_ACCOUNTS", &format!("carol:{hash}"))
        .env("TOKEN_SECRET", SECRET)
        .start();
    token_of(&login(server.port, "username=carol&password=s3cret%20pw"));
    assert_eq!(
        login(server.port, "username=carol&password=s3cret").status,
        401
    );
}

#[test]
fn whitelist_matches_whole_segments_after_the_prefix() {
    let server = Server::builder("auth-whitelist")
        .env("LIGHTRAG_API_KEY", "k3y")
        .env("WHITELIST_PATHS", "/health,/metrics/*,/auth/*")
        .env("LIGHTRAG_API_PREFIX", "/rag")
        .start();
    assert_eq!(
        server.get("/metrics").status,
        200,
        "prefix/* covers the prefix itself"
    );
    assert_eq!(
        server.get("/rag/metrics").status,
        200,
        "API prefix removed first"
    );
    assert_eq!(server.get("/rag/health").status, 200);
    assert_eq!(
        server.get("/auth/verify").status,
        403,
        "/auth/verify ignores the whitelist"
    );
    let narrow = Server::builder("auth-whitelist-narrow")
        .env("LIGHTRAG_API_KEY", "k3y")
        .env("WHITELIST_PATHS", "/metric/*")
        .start();
    assert_eq!(
        narrow.get("/metrics").status,
        403,
        "no match across a segment boundary"
    );
}
