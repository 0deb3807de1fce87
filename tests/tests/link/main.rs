//! The link runner (`crates/link`) on the harness's deterministic in-memory mesh
//! ([`safemesh_testkit::mesh`]): real stores and `run_link` pairs over channels (`mesh`), and one
//! runner against a peer the test plays frame by frame (`driver`, `hostile`). One thread, a virtual
//! clock, waits that await the mesh's quiet condition. They live here rather than in
//! `crates/link/tests` because the harness sits above `link`: a dev-dependency of `link` on it would
//! point back up.

mod blobs;
mod driver;
mod hostile;
mod mesh;
