//! A process-shared, robust pthread mutex for data in the arena.
//!
//! The master SIGKILLs workers that stop beating, possibly while they hold a lock. A
//! robust mutex turns that into `EOWNERDEAD` for the next locker instead of a deadlock:
//! the guard then reports [`RobustGuard::recovered`] so the caller can repair the data.
//! The lock blocks the calling thread; keep critical sections short, or call it from
//! `spawn_blocking` inside a runtime.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("pthread mutex operation failed: {0}")]
    Os(#[source] std::io::Error),
    #[error("mutex is unrecoverable: a previous owner died and it was not made consistent")]
    NotRecoverable,
}

/// A mutex that works across processes sharing one mapping and survives owner death.
#[repr(C)]
pub struct RobustMutex<T> {
    raw: UnsafeCell<libc::pthread_mutex_t>,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by the process-shared mutex.
unsafe impl<T: Send> Sync for RobustMutex<T> {}
unsafe impl<T: Send> Send for RobustMutex<T> {}

fn check(rc: libc::c_int) -> Result<(), LockError> {
    if rc == 0 {
        Ok(())
    } else {
        Err(LockError::Os(std::io::Error::from_raw_os_error(rc)))
    }
}

impl<T> RobustMutex<T> {
    /// Initialises a mutex holding `value` at `place`.
    ///
    /// # Safety
    /// `place` must be valid, aligned for `Self`, inside a `MAP_SHARED` mapping that
    /// outlives every process using it, and not yet initialised or in use. Call it in the
    /// master before forking. `T` must be plain data (no pointers into one process).
    pub unsafe fn init_at(place: *mut Self, value: T) -> Result<&'static Self, LockError> {
        unsafe {
            Self::init_lock_at(place)?;
            UnsafeCell::raw_get(&raw const (*place).value).write(value);
            Ok(&*place)
        }
    }

    /// Initialises the mutex at `place` around the value the zero-filled mapping already
    /// holds there. Writing a large table's empty value would make every page of it
    /// resident (in the master, before any worker needs it); left alone, a page of the
    /// table exists only once a worker writes to it.
    ///
    /// # Safety
    /// As [`RobustMutex::init_at`], and the bytes at `place` are still zero and all-zero
    /// bytes are a valid `T`.
    pub unsafe fn init_zeroed_at(place: *mut Self) -> Result<&'static Self, LockError> {
        unsafe {
            Self::init_lock_at(place)?;
            Ok(&*place)
        }
    }

    /// The process-shared, robust pthread mutex at `place`.
    ///
    /// # Safety
    /// As [`RobustMutex::init_at`].
    unsafe fn init_lock_at(place: *mut Self) -> Result<(), LockError> {
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            check(libc::pthread_mutexattr_init(&mut attr))?;
            let result = check(libc::pthread_mutexattr_setpshared(
                &mut attr,
                libc::PTHREAD_PROCESS_SHARED,
            ))
            .and_then(|()| {
                check(libc::pthread_mutexattr_setrobust(
                    &mut attr,
                    libc::PTHREAD_MUTEX_ROBUST,
                ))
            })
            .and_then(|()| {
                check(libc::pthread_mutex_init(
                    UnsafeCell::raw_get(&raw const (*place).raw),
                    &attr,
                ))
            });
            libc::pthread_mutexattr_destroy(&mut attr);
            result
        }
    }

    /// Locks, blocking the thread. A lock taken over from a dead owner is made
    /// consistent and flagged on the guard.
    pub fn lock(&self) -> Result<RobustGuard<'_, T>, LockError> {
        // SAFETY: `raw` was initialised by `init_at`.
        let rc = unsafe { libc::pthread_mutex_lock(self.raw.get()) };
        let recovered = match rc {
            0 => false,
            libc::EOWNERDEAD => {
                // SAFETY: we hold the lock after EOWNERDEAD, as pthread_mutex_consistent requires.
                check(unsafe { libc::pthread_mutex_consistent(self.raw.get()) })?;
                true
            }
            libc::ENOTRECOVERABLE => return Err(LockError::NotRecoverable),
            other => return Err(LockError::Os(std::io::Error::from_raw_os_error(other))),
        };
        Ok(RobustGuard {
            mutex: self,
            recovered,
        })
    }
}

/// Access to the protected value; unlocks on drop.
pub struct RobustGuard<'a, T> {
    mutex: &'a RobustMutex<T>,
    recovered: bool,
}

impl<T> RobustGuard<'_, T> {
    /// True when the previous owner died holding the lock: the value may be half-updated.
    pub fn recovered(&self) -> bool {
        self.recovered
    }
}

impl<T> Deref for RobustGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the lock is held for the guard's lifetime.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> DerefMut for RobustGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the lock is held for the guard's lifetime.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for RobustGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard holds the lock.
        unsafe { libc::pthread_mutex_unlock(self.mutex.raw.get()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arena::Arena;
    use nix::sys::wait::waitpid;
    use nix::unistd::{ForkResult, fork};

    #[test]
    fn a_dead_owner_does_not_deadlock_the_next_locker() {
        let arena = Arena::map(std::process::id() as i32).unwrap();
        let place = arena.app_region().as_ptr().cast::<RobustMutex<u64>>();
        // SAFETY: the region is zeroed, 64-byte aligned, shared, and used by nobody else.
        let mutex = unsafe { RobustMutex::init_at(place, 1) }.unwrap();
        // SAFETY: the child locks, writes and dies without unlocking or allocating.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let mut guard = mutex.lock().unwrap();
                *guard = 2;
                std::mem::forget(guard);
                unsafe { libc::_exit(0) };
            }
            ForkResult::Parent { child } => {
                waitpid(child, None).unwrap();
            }
        }
        let guard = mutex.lock().unwrap();
        assert!(guard.recovered());
        assert_eq!(*guard, 2);
        drop(guard);
        assert!(!mutex.lock().unwrap().recovered());
    }
}
