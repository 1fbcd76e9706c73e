//! Running it like production: hooks, USR2 binary upgrade, sd_notify, PID 1.

#![cfg(feature = "testing")]

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, is_alive};
use lightrag_config::Hook;

/// Every hook appends `name pid-of-its-process master-pid workers-old workers-new`, the
/// name as the master passes it in `LIGHTRAG_HOOK`.
fn with_recording_hooks(mut builder: common::Builder, log: &Path) -> common::Builder {
    for hook in Hook::ALL {
        let cmd = format!(
            "echo \"$LIGHTRAG_HOOK $PPID $LIGHTRAG_MASTER_PID ${{LIGHTRAG_WORKERS_OLD:--}} ${{LIGHTRAG_WORKERS_NEW:--}}\" >> {}",
            log.display()
        );
        builder = builder.env(
            &format!("LIGHTRAG_HOOK_{}", hook.as_str().to_uppercase()),
            &cmd,
        );
    }
    builder
}

/// Whether a record of `read_hooks` is of `hook`.
fn is(record: &[String], hook: Hook) -> bool {
    record[0] == hook.as_str()
}

fn read_hooks(log: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn hooks_run_in_gunicorn_order_and_process() {
    let dir = common::temp_dir("hooks-log");
    let log = dir.join("hooks.log");
    let builder = with_recording_hooks(Server::builder("hooks").args(&["--workers", "1"]), &log);
    let mut server = builder.start();
    let master = server.pid().to_string();
    let worker = server.wait_workers(1, Duration::from_secs(5))[0];
    wait_for("post_worker_init", Duration::from_secs(5), || {
        read_hooks(&log).iter().any(|h| is(h, Hook::PostWorkerInit))
    });
    unsafe { libc::kill(worker, libc::SIGKILL) };
    let replacement = loop {
        let now = server.workers();
        if now.len() == 1 && now[0] != worker {
            break now[0];
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    server.wait_healthy(Duration::from_secs(5));
    wait_for("replacement init", Duration::from_secs(5), || {
        read_hooks(&log)
            .iter()
            .filter(|h| is(h, Hook::PostWorkerInit))
            .count()
            == 2
    });
    server.signal(libc::SIGHUP);
    assert!(server.wait_output("reload complete", Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(500));
    let current = server.wait_workers(1, Duration::from_secs(5))[0];
    server.signal(libc::SIGINT);
    assert_eq!(
        server.wait_exit(Duration::from_secs(5)).unwrap().code(),
        Some(0)
    );

    let hooks = read_hooks(&log);
    let names: Vec<&str> = hooks.iter().map(|h| h[0].as_str()).collect();
    let first = |hook: Hook| {
        names
            .iter()
            .position(|n| *n == hook.as_str())
            .unwrap_or_else(|| panic!("{hook} missing: {names:?}"))
    };
    // Start-up order.
    assert!(first(Hook::OnStarting) < first(Hook::WhenReady));
    assert!(first(Hook::WhenReady) < first(Hook::NworkersChanged));
    assert!(first(Hook::NworkersChanged) < first(Hook::PreFork));
    assert!(first(Hook::PreFork) < first(Hook::PostFork));
    assert!(first(Hook::PostFork) < first(Hook::PostWorkerInit));
    assert!(first(Hook::ChildExit) > first(Hook::PostWorkerInit));
    assert!(first(Hook::OnReload) > first(Hook::ChildExit));
    assert_eq!(names.last(), Some(&Hook::OnExit.as_str()));
    assert!(first(Hook::WorkerInt) < first(Hook::OnExit));
    // Processes: master hooks run in the master, worker hooks in a worker.
    for h in &hooks {
        assert_eq!(h[2], master, "{h:?}: LIGHTRAG_MASTER_PID");
        let in_master = h[1] == master;
        let worker_hooks = [
            Hook::PostFork,
            Hook::PostWorkerInit,
            Hook::WorkerInt,
            Hook::WorkerExit,
        ];
        if worker_hooks.iter().any(|&hook| is(h, hook)) {
            assert!(!in_master, "{h:?} ran in the master");
            let pid: i32 = h[1].parse().unwrap();
            assert!(
                [worker, replacement, current].contains(&pid) || !is_alive(pid),
                "{h:?}"
            );
        } else {
            assert!(in_master, "{h:?} ran outside the master");
        }
    }
    let start = hooks.iter().find(|h| is(h, Hook::NworkersChanged)).unwrap();
    assert_eq!((start[3].as_str(), start[4].as_str()), ("-", "1"));
    let worker_int = hooks.iter().find(|h| is(h, Hook::WorkerInt)).unwrap();
    assert_eq!(worker_int[1], current.to_string());
    assert!(
        hooks
            .iter()
            .any(|h| is(h, Hook::WorkerExit) && h[1] == current.to_string())
    );
}

#[test]
fn ttin_reports_nworkers_changed_and_abrt_runs_worker_abort() {
    let dir = common::temp_dir("hooks-abort-log");
    let log = dir.join("hooks.log");
    let builder = with_recording_hooks(
        Server::builder("hooks-abort").args(&["--workers", "1"]),
        &log,
    );
    let server = builder.start();
    server.signal(libc::SIGTTIN);
    let workers = server.wait_workers(2, Duration::from_secs(5));
    wait_for("nworkers_changed 1 2", Duration::from_secs(3), || {
        read_hooks(&log)
            .iter()
            .any(|h| is(h, Hook::NworkersChanged) && h[3] == "1" && h[4] == "2")
    });
    // SIGABRT is what the watchdog sends; a worker whose runtime can still run handles it
    // with worker_abort, then worker_exit, and exits 1.
    let victim = workers[0];
    unsafe { libc::kill(victim, libc::SIGABRT) };
    wait_for("worker_abort", Duration::from_secs(5), || {
        let hooks = read_hooks(&log);
        let ran = |hook: Hook| {
            hooks
                .iter()
                .any(|h| is(h, hook) && h[1] == victim.to_string())
        };
        ran(Hook::WorkerAbort) && ran(Hook::WorkerExit)
    });
    assert!(server.wait_output(
        &format!("Worker (pid:{victim}) exited with code 1"),
        Duration::from_secs(3)
    ));
    server.wait_workers(2, Duration::from_secs(5));
}

#[test]
fn a_failing_on_starting_hook_aborts_start_and_other_failures_are_only_logged() {
    let mut server = Server::builder("hook-fail-start")
        .env(
            "LIGHTRAG_HOOK_ON_STARTING",
            "echo 'database not mounted' >&2; exit 3",
        )
        .no_wait()
        .start();
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("start-up aborted");
    assert_eq!(status.code(), Some(1));
    let output = server.output();
    assert!(output.contains("database not mounted"), "{output}");
    assert!(!output.contains("Booting worker"));

    let server = Server::builder("hook-fail-other")
        .args(&["--workers", "2", "--hook-timeout", "1"])
        .env("LIGHTRAG_HOOK_PRE_FORK", "exit 1")
        .env("LIGHTRAG_HOOK_POST_WORKER_INIT", "sleep 5")
        .start();
    assert_eq!(server.wait_workers(2, Duration::from_secs(5)).len(), 2);
    assert!(server.output().contains("hook pre_fork failed"));
    assert!(server.wait_output("hook post_worker_init timed out", Duration::from_secs(5)));
    assert_eq!(server.get("/health").status, 200);
}

/// A copy of the binary in its own directory, so a test can replace it on disk.
fn binary_copy(dir: &Path) -> PathBuf {
    let path = dir.join("lightrag-master");
    install(&std::fs::read(common::BIN).unwrap(), &path);
    path
}

/// Replaces `path` the way deployments do: write beside it, then rename over it.
fn install(bytes: &[u8], path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

struct Notifications {
    messages: Arc<Mutex<Vec<String>>>,
    path: PathBuf,
}

impl Notifications {
    fn listen(dir: &Path) -> Notifications {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        });
        Notifications { messages, path }
    }

    fn all(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    fn wait(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.all().iter().any(|m| m.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

#[test]
fn usr2_upgrade_under_load_fails_nothing_and_hands_over_the_pidfile() {
    let builder = Server::builder("upgrade").args(&["--workers", "2", "--pidfile", "master.pid"]);
    let dir = builder.dir().to_owned();
    let exe = binary_copy(&dir);
    let notify = Notifications::listen(&dir);
    let mut server = builder
        .binary(&exe)
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .start();
    let old_master = server.pid();
    let pidfile = dir.join("master.pid");
    let pending = dir.join("master.pid.2");
    assert_eq!(read_pid(&pidfile), Some(old_master));
    // A new build lands on disk.
    install(&std::fs::read(common::BIN).unwrap(), &exe);

    let load = common::Load::start(server.port, 3, "/health");

    std::thread::sleep(Duration::from_millis(300));
    server.signal(libc::SIGUSR2);
    assert!(
        server.wait_output("is ready", Duration::from_secs(10)),
        "{}",
        server.output()
    );
    let new_master = read_pid(&pending).expect("<pidfile>.2 holds the new master");
    assert_ne!(new_master, old_master);
    assert!(
        common::children(old_master).contains(&new_master),
        "new master is a child of the old"
    );
    assert_eq!(
        read_pid(&pidfile),
        Some(old_master),
        "plain pidfile unchanged so far"
    );
    assert!(notify.wait(&format!("MAINPID={new_master}"), Duration::from_secs(3)));

    // A second USR2 while one is pending is refused.
    server.signal(libc::SIGUSR2);
    assert!(server.wait_output("USR2 ignored", Duration::from_secs(3)));

    let old_workers: Vec<i32> = server
        .workers()
        .into_iter()
        .filter(|&p| p != new_master)
        .collect();
    server.signal(libc::SIGWINCH);
    wait_for("old workers to stop", Duration::from_secs(5), || {
        old_workers.iter().all(|&w| !is_alive(w))
    });
    std::thread::sleep(Duration::from_millis(300));
    server.signal(libc::SIGTERM);
    assert_eq!(
        server.wait_exit(Duration::from_secs(5)).unwrap().code(),
        Some(0)
    );
    wait_for("promotion", Duration::from_secs(5), || {
        read_pid(&pidfile) == Some(new_master) && !pending.exists()
    });
    std::thread::sleep(Duration::from_millis(300));
    let (ok, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(ok > 100);
    assert_eq!(
        common::children(new_master).len(),
        2,
        "the new master serves with its workers"
    );
    unsafe { libc::kill(new_master, libc::SIGTERM) };
    wait_for("new master to stop", Duration::from_secs(5), || {
        !is_alive(new_master)
    });
    assert!(!pidfile.exists());
}

#[test]
fn a_new_binary_that_fails_leaves_the_old_master_serving() {
    let builder =
        Server::builder("upgrade-fail").args(&["--workers", "1", "--pidfile", "master.pid"]);
    let dir = builder.dir().to_owned();
    let exe = binary_copy(&dir);
    let server = builder.binary(&exe).start();
    install(b"#!/bin/sh\nsleep 1\necho broken build >&2\nexit 1\n", &exe);
    server.signal(libc::SIGUSR2);
    std::thread::sleep(Duration::from_millis(200));
    server.signal(libc::SIGUSR2);
    assert!(server.wait_output("an upgrade is already pending", Duration::from_secs(3)));
    assert!(
        server.wait_output("upgrade failed", Duration::from_secs(5)),
        "{}",
        server.output()
    );
    assert_eq!(read_pid(&dir.join("master.pid")), Some(server.pid()));
    assert!(!dir.join("master.pid.2").exists());
    assert_eq!(server.get("/health").status, 200);
    assert!(server.workers().len() == 1);
}

#[test]
fn sd_notify_lifecycle() {
    let builder = Server::builder("notify").args(&["--workers", "2"]);
    let dir = builder.dir().to_owned();
    let notify = Notifications::listen(&dir);
    let mut server = builder
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .env("WATCHDOG_USEC", "400000")
        .no_wait()
        .start();
    assert!(notify.wait("READY=1", Duration::from_secs(10)));
    // READY means serving: every worker accepts by then.
    assert_eq!(server.get("/health").status, 200);
    assert_eq!(server.workers().len(), 2);
    assert!(notify.wait("STATUS=2 workers ready", Duration::from_secs(2)));
    // WATCHDOG_USEC asks for a ping at least every 400 ms: they keep coming.
    wait_for("three watchdog pings", Duration::from_secs(5), || {
        notify
            .all()
            .iter()
            .filter(|m| m.as_str() == "WATCHDOG=1")
            .count()
            >= 3
    });

    server.signal(libc::SIGHUP);
    assert!(server.wait_output("reload complete", Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(100));
    let all = notify.all();
    let reloading = all
        .iter()
        .position(|m| m.starts_with("RELOADING=1\nMONOTONIC_USEC="))
        .expect("RELOADING");
    assert!(
        all[reloading + 1..].iter().any(|m| m == "READY=1"),
        "{all:?}"
    );

    server.signal(libc::SIGTERM);
    assert!(notify.wait("STOPPING=1", Duration::from_secs(3)));
    assert!(server.wait_exit(Duration::from_secs(5)).is_some());
}

/// The master as PID 1 of a PID namespace (a container's init). Root unshares one
/// directly; anyone else does it inside a user namespace of their own, where they are
/// root, so the test runs for real either way.
#[test]
fn as_pid_1_stray_children_are_reaped_and_term_is_graceful() {
    let dir = common::temp_dir("pid1");
    let port = common::free_port();
    let out = std::fs::File::create(dir.join("output.log")).unwrap();
    let user_namespace: &[&str] = if unsafe { libc::geteuid() } == 0 {
        &[]
    } else {
        &["--user", "--map-root-user"]
    };
    // when_ready leaves an orphan behind: it is re-parented to the master (PID 1).
    let mut unshare = std::process::Command::new("unshare")
        .args(user_namespace)
        .args(["--pid", "--fork", "--mount-proc", common::BIN])
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--workers",
            "2",
        ])
        .env("LIGHTRAG_HOOK_WHEN_READY", "sh -c 'sleep 2' &")
        .env("WORKER_THREADS", "1")
        .current_dir(&dir)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(dir.join("output.log")).unwrap_or_default();
    assert!(
        common::healthy_within(port, Duration::from_secs(10)),
        "{}",
        log()
    );
    let master = common::children(unshare.id() as i32)[0];
    wait_for(
        "the orphan to join the workers",
        Duration::from_secs(5),
        || common::children(master).len() == 3,
    );
    wait_for("the orphan to be reaped", Duration::from_secs(10), || {
        let children = common::children(master);
        children.len() == 2 && children.iter().all(|&c| is_alive(c))
    });
    let log = log();
    assert!(!log.contains("exited with code"), "{log}");
    assert!(!log.contains("was sent"), "{log}");
    assert_eq!(common::get(port, "/health").unwrap().status, 200);
    unsafe { libc::kill(master, libc::SIGTERM) };
    let status = unshare.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn healthcheck_command_probes_the_configured_port() {
    let server = Server::builder("healthcheck")
        .args(&["--workers", "1"])
        .start();
    let status = std::process::Command::new(common::BIN)
        .args(["healthcheck", "--port", &server.port.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let dead = common::free_port();
    let status = std::process::Command::new(common::BIN)
        .args(["healthcheck", "--port", &dead.to_string()])
        .env_remove("PORT")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}
