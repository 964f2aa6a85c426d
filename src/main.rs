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
/// glibc maps every block above its mmap threshold (at most 32 MiB) on its own and returns it to
/// the kernel on free, and the next step pays for fresh zeroed pages (measured: ~15 % of a
/// `cat-mel_2bar_small` step at batch 512 in page faults and clearing, whose encoder buffers are
/// 128 MiB). Serve every block from the heap and keep freed ones for reuse instead: +25 %
/// teacher-forced throughput at batch 512, same losses (README, benchmarks).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0); // no block is mapped on its own
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
