//! openraft's storage conformance suite on the temporary in-memory log store
//! and the key-value state machine: checks the state machine, its snapshots
//! and the suite's wiring until the seawall log store takes over
//! (`log_store_suite.rs`).

use openraft::testing::{StoreBuilder, Suite};
use seawall_raft::mem_log_store::MemLogStore;
use seawall_raft::state_machine::KvStateMachine;
use seawall_raft::types::{StorageError, TypeConfig};
use tempfile::TempDir;

struct Builder;

impl StoreBuilder<TypeConfig, MemLogStore, KvStateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, MemLogStore, KvStateMachine), StorageError> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let sm = KvStateMachine::open(dir.path().join("sm"))?;
        Ok((dir, MemLogStore::new(), sm))
    }
}

#[test]
fn mem_log_store_and_state_machine_pass_openraft_suite() {
    if let Err(e) = Suite::test_all(Builder) {
        panic!("openraft's storage suite failed: {e}");
    }
}
