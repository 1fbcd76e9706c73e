//! Sets `cfg(as_root)` when the build runs as root, as CI does. The black-box tests
//! that only root can run (switching the workers' user) run then and are reported as
//! ignored otherwise, rather than passing without testing anything.
//!
//! It also links the binary as a non-PIE executable (`-no-pie`). As a PIE, its 54 000
//! pointers in `.data.rel.ro` are relocated by the loader at every start: 1.25 MiB of
//! `.rela.dyn` read into the master and about 1 MiB of RELRO pages dirtied and held by
//! every process (idle PSS, issue 17). Linked at a fixed address, those pages stay clean
//! file pages, loaded only when used and shared through the page cache. The code is
//! still compiled position-independent; only the executable's own base is fixed (shared
//! libraries and the stack stay randomised).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(as_root)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=USER");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        println!("cargo::rustc-cfg=as_root");
    }
}
