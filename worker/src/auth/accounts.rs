//! Account passwords: plain text (compared in constant time) or `{bcrypt}` hashes.
//! Every login costs exactly one bcrypt verification, also for unknown users and plain
//! passwords, so the time taken does not tell whether a user exists.

use lightrag_config::api::{Account, Password};

use super::constant_time_eq;

/// A bcrypt hash (cost 12) of a random string, verified against for users that do not
/// exist or have a plain password.
const DUMMY_HASH: &str = "$2b$12$bYIWlbSAwBsTSjxLxXmiOOXiQkL6bkbrHT77vBreYaEr8fsXxDMdS";
pub const BCRYPT_COST: u32 = 12;

/// Checks `username`/`password` against `accounts`. Blocking (bcrypt): call it off the
/// async threads.
pub fn verify(accounts: &[Account], username: &str, password: &str) -> bool {
    let account = accounts
        .iter()
        .find(|a| constant_time_eq(a.username.as_bytes(), username.as_bytes()));
    match account.map(|a| &a.password) {
        Some(Password::Bcrypt(hash)) => bcrypt::verify(password, hash).unwrap_or(false),
        Some(Password::Plain(expected)) => {
            let _ = bcrypt::verify(password, DUMMY_HASH);
            constant_time_eq(expected.as_bytes(), password.as_bytes())
        }
        None => {
            let _ = bcrypt::verify(password, DUMMY_HASH);
            false
        }
    }
}

/// `{bcrypt}<hash>` for AUTH_ACCOUNTS.
pub fn hash_password(password: &str) -> Result<String, bcrypt::BcryptError> {
    Ok(format!(
        "{{bcrypt}}{}",
        bcrypt::hash(password, BCRYPT_COST)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_plain_and_bcrypt_and_unknown() {
        let hashed = hash_password("pw2").unwrap();
        let accounts = vec![
            Account {
                username: "a".into(),
                password: Password::Plain("pw1".into()),
            },
            Account {
                username: "b".into(),
                password: Password::Bcrypt(hashed.strip_prefix("{bcrypt}").unwrap().into()),
            },
        ];
        assert!(verify(&accounts, "a", "pw1"));
        assert!(!verify(&accounts, "a", "pw"));
        assert!(verify(&accounts, "b", "pw2"));
        assert!(!verify(&accounts, "b", "pw1"));
        assert!(!verify(&accounts, "c", "pw1"));
        assert!(bcrypt::verify("lightrag-master-dummy-password", DUMMY_HASH).unwrap());
    }
}
