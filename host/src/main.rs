//! `ferry`: moves a Confluence or Jira Server / Data Center site to Atlassian Cloud (see `ferry --help`).

// The only unsafe code of the binary: three libc calls made before any thread starts.
#[allow(unsafe_code)]
fn main() {
    // Output piped into `head` and the like ends quietly, as other command-line tools do,
    // instead of panicking on a closed pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Everything ferry writes (FERRY_HOME and its files, the compile cache, staging data,
    // exports) is private to the user who runs it: directories 0700, files 0600.
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask.
    unsafe {
        libc::umask(0o077);
    }
    // glibc gives each thread that allocates its own arena; a migration allocates on
    // every runtime thread, and the arenas' freed memory stays resident. Two arenas
    // keep the peak RSS of a large migration near what it holds.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator, before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    std::process::exit(ferry_host::cli::main());
}
