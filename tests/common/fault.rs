//! Which seam call fails, and how: the fault plans of the fault suite.

use std::io;

/// The kind of a seam call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    Create,
    Open,
    Rename,
    Remove,
    MkDir,
    SyncDir,
    Write,
    SyncData,
    SetLen,
    Allocate,
}

/// An injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The call fails with `EIO`.
    Eio,
    /// The call fails with `ENOSPC`.
    NoSpace,
    /// A write writes only the first half of its buffer (and reports so).
    Short,
}

impl Fault {
    /// The error a failing call returns.
    pub fn error(self) -> io::Error {
        match self {
            Fault::Eio => rustix::io::Errno::IO.into(),
            Fault::NoSpace | Fault::Short => rustix::io::Errno::NOSPC.into(),
        }
    }

    /// The faults that make sense for a call of `kind`.
    pub fn applicable(kind: OpKind) -> &'static [Fault] {
        match kind {
            OpKind::Write => &[Fault::Eio, Fault::NoSpace, Fault::Short],
            OpKind::Allocate | OpKind::SetLen | OpKind::Create => &[Fault::NoSpace],
            OpKind::SyncData | OpKind::SyncDir | OpKind::Open | OpKind::Remove | OpKind::Rename | OpKind::MkDir => {
                &[Fault::Eio]
            }
        }
    }
}

/// Call `at` fails with `fault`. If `persistent`, the failure stays: `EIO`
/// hits every later call of the same kind (a dying device), `ENOSPC` and a
/// short write leave the disk full (every later call that needs free space
/// fails with `ENOSPC`; overwriting allocated space still works).
#[derive(Clone, Copy, Debug)]
pub struct FaultPlan {
    pub at: usize,
    pub fault: Fault,
    pub persistent: bool,
    /// Only calls that need free space fail, from `at` on (a full disk).
    pub full_only: bool,
    hit: Option<OpKind>,
}

impl FaultPlan {
    pub fn once(at: usize, fault: Fault) -> FaultPlan {
        FaultPlan { at, fault, persistent: false, full_only: false, hit: None }
    }

    pub fn persistent(at: usize, fault: Fault) -> FaultPlan {
        FaultPlan { at, fault, persistent: true, full_only: false, hit: None }
    }

    /// A disk that is full from the first call on.
    pub fn disk_full() -> FaultPlan {
        FaultPlan::disk_full_from(0)
    }

    /// A disk that fills up at call `at`.
    pub fn disk_full_from(at: usize) -> FaultPlan {
        FaultPlan { at, fault: Fault::NoSpace, persistent: true, full_only: true, hit: None }
    }

    /// The fault for call `index` of `kind` (`grows`: it needs free space).
    pub fn fault_for(&mut self, index: usize, kind: OpKind, grows: bool) -> Option<Fault> {
        let needs_space = grows && matches!(kind, OpKind::Write | OpKind::Allocate | OpKind::SetLen | OpKind::Create);
        if index < self.at {
            return None;
        }
        if self.full_only {
            return needs_space.then_some(Fault::NoSpace);
        }
        if index == self.at {
            self.hit = Some(kind);
            return Some(self.fault);
        }
        if !self.persistent {
            return None;
        }
        match self.fault {
            Fault::Eio => (self.hit == Some(kind)).then_some(Fault::Eio),
            Fault::NoSpace | Fault::Short => needs_space.then_some(Fault::NoSpace),
        }
    }
}
