//! The `musicvae` command line. All work happens in the library and `cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    // `musicvae inspect FILE --windows | head` must end quietly when the reader goes away, as
    // command-line tools do, instead of panicking on a failed print.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    cli::main()
}
