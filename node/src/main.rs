//! The `safemesh` binary: everything lives in the `safemesh_node` library.

fn main() -> std::process::ExitCode {
    safemesh_node::cli::main()
}
