//! The `musicvae` command line. All work happens in the library and `cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    // `musicvae inspect FILE --windows | head` must end quietly when the reader goes away, as
    // command-line tools do, instead of panicking on a failed print.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    keep_freed_memory();
    cli::main()
}

/// Training allocates and frees the same large buffers (activations, gradients) at every step.
/// glibc returns each block above its mmap threshold to the kernel on free, and the next step pays
/// for fresh zeroed pages (measured: ~11 % of a `cat-mel_2bar_small` step in page clearing). Keep
/// freed blocks in the heap for reuse instead.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20); // glibc's maximum on 64-bit
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
