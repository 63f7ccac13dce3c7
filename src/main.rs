//! The `eventmap` binary: command-line front ends over the library.
#![forbid(unsafe_code)]

mod cli;

// The engine allocates many small maps per event; mimalloc makes that markedly less costly
// (measured with `eventmap bench`, see the README).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
