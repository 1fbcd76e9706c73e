//! Sets `cfg(as_root)` when the build runs as root, as CI does. The black-box tests
//! that only root can run (switching the workers' user) run then and are reported as
//! ignored otherwise, rather than passing without testing anything.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(as_root)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=USER");
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        println!("cargo::rustc-cfg=as_root");
    }
}
