//! Start-up: configuration errors, pidfile rules, bind conflicts, socket activation.

#![cfg(feature = "testing")]

mod common;

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{BIN, Server, free_port, temp_dir};

#[test]
fn an_invalid_value_stops_the_master_before_binding() {
    let dir = temp_dir("badcfg");
    let port = free_port();
    common::write_file(&dir, ".env", "WORKERS=zero\n");
    let out = Command::new(BIN)
        .current_dir(&dir)
        .args(["--port", &port.to_string()])
        .env_remove("WORKERS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("WORKERS") && stderr.contains(".env") && stderr.contains("\"zero\""),
        "{stderr}"
    );
    assert!(
        TcpListener::bind(("0.0.0.0", port)).is_ok(),
        "nothing was bound"
    );

    std::fs::remove_file(dir.join(".env")).unwrap();
    let out = Command::new(BIN)
        .current_dir(&dir)
        .args(["--keepalive", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("KEEPALIVE") && stderr.contains("command line --keepalive"),
        "{stderr}"
    );
}

#[test]
fn help_lists_every_setting_with_its_env_var() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "HOST",
        "PORT",
        "WORKERS",
        "WORKER_TIMEOUT",
        "GRACEFUL_TIMEOUT",
        "LOG_MAX_BYTES",
        "PIDFILE",
    ] {
        assert!(
            help.contains(&format!("[env: {var}]")),
            "{var} missing:\n{help}"
        );
    }
}

#[test]
fn pidfile_is_written_refused_while_live_and_removed_on_exit() {
    let builder =
        Server::builder("pidfile").args(&["--pidfile", "run/master.pid", "--workers", "1"]);
    // The parent directory must exist, as with gunicorn.
    std::fs::create_dir_all(builder.dir().join("run")).unwrap();
    let mut server = builder.start();
    let path = server.dir.join("run/master.pid");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{}\n", server.pid())
    );

    let second = Command::new(BIN)
        .current_dir(&server.dir)
        .args([
            "--pidfile",
            "run/master.pid",
            "--port",
            &free_port().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("Already running on PID"));

    server.signal(libc::SIGTERM);
    assert_eq!(
        server.wait_exit(Duration::from_secs(5)).unwrap().code(),
        Some(0)
    );
    assert!(!path.exists(), "pidfile removed on clean exit");

    // A stale pidfile (dead pid) is replaced.
    std::fs::write(&path, "999999999\n").unwrap();
    let pidfile = path.to_str().unwrap();
    let server = Server::builder("pidfile-stale")
        .args(&["--pidfile", pidfile, "--workers", "1"])
        .start();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{}\n", server.pid())
    );
}

#[test]
fn a_busy_port_is_retried_then_exit_1_naming_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(BIN)
        .current_dir(temp_dir("busy"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("Can't connect to 127.0.0.1:{port}")),
        "{stderr}"
    );
    // Five attempts, as gunicorn makes: four retries announced, then the failure.
    let retries: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("connection in use, retrying in 1 second"))
        .filter_map(|l| l.split("attempt=").nth(1)?.split(' ').next())
        .collect();
    assert_eq!(retries, ["1", "2", "3", "4"], "{stderr}");
}

fn activated(
    listener: &TcpListener,
    listen_pid: &str,
    dir: &std::path::Path,
    port_arg: u16,
) -> std::process::Child {
    let fd = listener.as_raw_fd();
    let out = std::fs::File::create(dir.join("output.log")).unwrap();
    let mut cmd = Command::new("sh");
    cmd.current_dir(dir)
        .arg("-c")
        .arg(format!(
            "LISTEN_PID={listen_pid} LISTEN_FDS=1 exec \"$0\" --workers 2 --host 127.0.0.1 --port {port_arg}"
        ))
        .arg(BIN)
        .env("WORKER_THREADS", "1")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null());
    // SAFETY: only dup2/fcntl between fork and exec. dup2 onto itself would keep
    // FD_CLOEXEC, so clear the flag explicitly.
    unsafe {
        cmd.pre_exec(move || {
            let ok = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if ok < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().unwrap()
}

#[test]
fn systemd_socket_activation_serves_on_fd_3_and_hides_the_variables() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = temp_dir("activation");
    // `$$` is the shell's pid, which `exec` hands to the server.
    let mut child = activated(&listener, "$$", &dir, free_port());
    drop(listener);
    assert!(
        common::healthy_within(port, Duration::from_secs(10)),
        "not serving on fd 3"
    );
    let log = std::fs::read_to_string(dir.join("output.log")).unwrap();
    assert!(log.contains("Listening on an inherited socket"), "{log}");
    for name in ["LISTEN_FDS", "LISTEN_PID"] {
        for _ in 0..10 {
            let seen = common::get(port, &format!("/debug/env?name={name}")).unwrap();
            assert_eq!(
                seen.json()["value"],
                serde_json::Value::Null,
                "{name} visible to a worker"
            );
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
}

#[test]
fn socket_activation_for_another_pid_is_ignored() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let own_port = free_port();
    let dir = temp_dir("activation-other");
    let mut child = activated(&listener, "1", &dir, own_port);
    assert!(
        common::healthy_within(own_port, Duration::from_secs(10)),
        "did not bind its own port"
    );
    let log = std::fs::read_to_string(dir.join("output.log")).unwrap();
    assert!(log.contains("LISTEN_PID is not ours"), "{log}");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
}
