//! Running workers as another user: the master keeps its credentials (so it can bind
//! privileged ports and signal every worker); each worker switches right after fork,
//! before it builds its runtime or serves anything, as gunicorn does.

use nix::unistd::{Gid, Group, Uid, User};

#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("invalid value {0:?} for WORKER_USER: no such user")]
    NoSuchUser(String),
    #[error("invalid value {0:?} for WORKER_GROUP: no such group")]
    NoSuchGroup(String),
    #[error("cannot switch to uid {uid} gid {gid}: {source}")]
    Switch {
        uid: u32,
        gid: u32,
        #[source]
        source: nix::Error,
    },
}

/// Resolved worker credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    uid: Option<Uid>,
    gid: Option<Gid>,
}

fn lookup_user(spec: &str) -> Option<User> {
    match spec.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)).ok().flatten(),
        Err(_) => User::from_name(spec).ok().flatten(),
    }
}

fn lookup_group(spec: &str) -> Option<Gid> {
    match spec.parse::<u32>() {
        Ok(gid) => Some(Gid::from_raw(gid)),
        Err(_) => Group::from_name(spec).ok().flatten().map(|g| g.gid),
    }
}

impl Credentials {
    /// Resolves names or ids; `None` when neither is set. A user without a group runs
    /// with that user's primary group.
    pub fn resolve(
        user: Option<&str>,
        group: Option<&str>,
    ) -> Result<Option<Credentials>, PrivilegeError> {
        let user = user
            .map(|u| lookup_user(u).ok_or_else(|| PrivilegeError::NoSuchUser(u.to_owned())))
            .transpose()?;
        let gid = group
            .map(|g| lookup_group(g).ok_or_else(|| PrivilegeError::NoSuchGroup(g.to_owned())))
            .transpose()?
            .or(user.as_ref().map(|u| u.gid));
        if user.is_none() && gid.is_none() {
            return Ok(None);
        }
        Ok(Some(Credentials {
            uid: user.map(|u| u.uid),
            gid,
        }))
    }

    /// Switches the calling (worker) process: supplementary groups, gid, then uid.
    pub fn apply(&self) -> Result<(), PrivilegeError> {
        let err = |source| PrivilegeError::Switch {
            uid: self.uid.unwrap_or_else(Uid::current).as_raw(),
            gid: self.gid.unwrap_or_else(Gid::current).as_raw(),
            source,
        };
        if let Some(gid) = self.gid {
            if Uid::effective().is_root() {
                nix::unistd::setgroups(&[gid]).map_err(err)?;
            }
            nix::unistd::setgid(gid).map_err(err)?;
        }
        if let Some(uid) = self.uid {
            nix::unistd::setuid(uid).map_err(err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_ids() {
        assert_eq!(Credentials::resolve(None, None).unwrap(), None);
        let root = Credentials::resolve(Some("root"), None).unwrap().unwrap();
        assert_eq!(root.uid, Some(Uid::from_raw(0)));
        assert_eq!(root.gid, Some(Gid::from_raw(0)));
        let by_id = Credentials::resolve(Some("0"), Some("0")).unwrap().unwrap();
        assert_eq!(by_id, root);
        let err = Credentials::resolve(Some("no-such-user-xyz"), None).unwrap_err();
        assert!(err.to_string().contains("WORKER_USER"));
    }
}
