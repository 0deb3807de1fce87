//! The `safemesh` binary: everything lives in the `safemesh_node` library.

/// mimalloc instead of glibc malloc: a node's receiver allocates and frees many small objects on
/// several threads (Automerge's op sets, rows, frames), where glibc malloc spent a third of the
/// province simulation's CPU (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    safemesh_node::cli::main()
}
