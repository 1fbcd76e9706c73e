//! Account passwords: plain text (compared in constant time) or `{bcrypt}` hashes.
//!
//! Every login costs exactly one bcrypt verification, also for unknown users and plain
//! passwords, and at the same cost: bcrypt's time is set by the hash's cost, so the
//! stand-in hash those logins are verified against takes the cost of the configured
//! hashes (the most common one). Otherwise an account hashed at cost 10 answers in a
//! quarter of the time an unknown name does, and tells that it exists.
//!
//! bcrypt reads at most 72 bytes of a password. A longer one is refused for `{bcrypt}`
//! accounts, as LightRAG does with the Python `bcrypt` 5 it installs (its `checkpw`
//! raises, which LightRAG answers as a failed login), rather than silently accepted on
//! its first 72 bytes; `hash-password` refuses to hash one.

use lightrag_config::api::{Account, Password};

use super::constant_time_eq;

/// The cost `hash-password` hashes at (LightRAG's `bcrypt.gensalt()` default).
pub const BCRYPT_COST: u32 = 12;

/// The most a bcrypt password may be; bcrypt ignores what follows.
pub const MAX_BCRYPT_PASSWORD_BYTES: usize = 72;

/// Salt and digest of a stand-in hash (of a random string); its cost is substituted.
const DUMMY_SALT_AND_DIGEST: &str = "bYIWlbSAwBsTSjxLxXmiOOXiQkL6bkbrHT77vBreYaEr8fsXxDMdS";

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error(
        "the password is {0} bytes long; bcrypt uses only the first {MAX_BCRYPT_PASSWORD_BYTES} \
         and /login refuses longer passwords for {{bcrypt}} accounts: choose a shorter one"
    )]
    TooLong(usize),
    #[error(transparent)]
    Bcrypt(#[from] bcrypt::BcryptError),
}

/// The configured accounts, with the stand-in hash unknown users are verified against.
pub struct Accounts {
    accounts: Vec<Account>,
    dummy_hash: String,
}

/// The cost of a bcrypt hash, when it is one.
fn cost_of(hash: &str) -> Option<u32> {
    hash.parse::<bcrypt::HashParts>()
        .ok()
        .map(|parts| parts.get_cost())
}

/// The most common cost among `accounts`' hashes (the highest of equally common ones),
/// [`BCRYPT_COST`] when none is hashed.
fn dummy_cost(accounts: &[Account]) -> u32 {
    let mut costs: Vec<u32> = accounts
        .iter()
        .filter_map(|a| match &a.password {
            Password::Bcrypt(hash) => cost_of(hash),
            Password::Plain(_) => None,
        })
        .collect();
    costs.sort_unstable();
    costs
        .chunk_by(|a, b| a == b)
        .max_by_key(|run| (run.len(), run[0]))
        .map_or(BCRYPT_COST, |run| run[0])
}

impl Accounts {
    /// Logs what makes logins tell accounts apart: hashes that do not parse, and hashes
    /// at another cost than the rest.
    pub fn new(accounts: Vec<Account>) -> Accounts {
        let cost = dummy_cost(&accounts);
        for account in &accounts {
            let Password::Bcrypt(hash) = &account.password else {
                continue;
            };
            match cost_of(hash) {
                None => tracing::warn!(
                    user = %account.username,
                    "the account's bcrypt hash cannot be parsed; it cannot log in"
                ),
                Some(other) if other != cost => tracing::warn!(
                    user = %account.username,
                    cost = other,
                    usual_cost = cost,
                    "the account is hashed at another bcrypt cost than the others; the time \
                     its logins take tells that it exists: hash it again at the usual cost"
                ),
                Some(_) => {}
            }
        }
        Accounts {
            accounts,
            dummy_hash: format!("$2b${cost:02}${DUMMY_SALT_AND_DIGEST}"),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Checks `username`/`password`. Blocking (bcrypt): call it off the async threads.
    pub fn verify(&self, username: &str, password: &str) -> bool {
        let account = self
            .accounts
            .iter()
            .find(|a| constant_time_eq(a.username.as_bytes(), username.as_bytes()));
        match account.map(|a| &a.password) {
            Some(Password::Bcrypt(hash)) => match bcrypt::verify(password, hash) {
                Ok(matches) => matches && password.len() <= MAX_BCRYPT_PASSWORD_BYTES,
                Err(_) => self.spend_one_verification(password),
            },
            Some(Password::Plain(expected)) => {
                self.spend_one_verification(password);
                constant_time_eq(expected.as_bytes(), password.as_bytes())
            }
            None => self.spend_one_verification(password),
        }
    }

    /// One bcrypt verification at the accounts' cost, for its time only; false.
    fn spend_one_verification(&self, password: &str) -> bool {
        let _ = bcrypt::verify(password, &self.dummy_hash);
        false
    }
}

/// `{bcrypt}<hash>` for AUTH_ACCOUNTS.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    if password.len() > MAX_BCRYPT_PASSWORD_BYTES {
        return Err(HashError::TooLong(password.len()));
    }
    Ok(format!(
        "{{bcrypt}}{}",
        bcrypt::hash(password, BCRYPT_COST)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(username: &str, password: Password) -> Account {
        Account {
            username: username.into(),
            password,
        }
    }

    fn hashed(password: &str, cost: u32) -> Password {
        Password::Bcrypt(bcrypt::hash(password, cost).unwrap())
    }

    #[test]
    fn verifies_plain_and_bcrypt_and_unknown() {
        let accounts = Accounts::new(vec![
            account("a", Password::Plain("pw1".into())),
            account("b", hashed("pw2", 4)),
            account("c", Password::Bcrypt("$2b$04$garbage".into())),
        ]);
        assert!(accounts.verify("a", "pw1"));
        assert!(!accounts.verify("a", "pw"));
        assert!(accounts.verify("b", "pw2"));
        assert!(!accounts.verify("b", "pw1"));
        assert!(!accounts.verify("c", "garbage"));
        assert!(!accounts.verify("d", "pw1"));
    }

    #[test]
    fn the_stand_in_hash_takes_the_accounts_usual_cost() {
        let plain = || account("p", Password::Plain("x".into()));
        assert_eq!(dummy_cost(&[]), BCRYPT_COST);
        assert_eq!(dummy_cost(&[plain()]), BCRYPT_COST);
        assert_eq!(dummy_cost(&[plain(), account("a", hashed("x", 5))]), 5);
        let mixed = [
            account("a", hashed("x", 4)),
            account("b", hashed("x", 6)),
            account("c", hashed("x", 4)),
        ];
        assert_eq!(dummy_cost(&mixed), 4, "the most common");
        let tie = [account("a", hashed("x", 4)), account("b", hashed("x", 5))];
        assert_eq!(dummy_cost(&tie), 5, "the highest of a tie");
        let garbage = [account("a", Password::Bcrypt("$2b$14$garbage".into()))];
        assert_eq!(
            dummy_cost(&garbage),
            BCRYPT_COST,
            "unparsable hashes do not count"
        );
        let accounts = Accounts::new(mixed.to_vec());
        assert_eq!(cost_of(&accounts.dummy_hash), Some(4));
        assert_eq!(
            bcrypt::verify("x", &accounts.dummy_hash).map_err(|e| e.to_string()),
            Ok(false),
            "a well-formed hash that matches nothing"
        );
    }

    #[test]
    fn bcrypt_passwords_over_72_bytes_are_refused_not_truncated() {
        let long = "x".repeat(80);
        let at_limit = "y".repeat(MAX_BCRYPT_PASSWORD_BYTES);
        let accounts = Accounts::new(vec![
            account("b", hashed(&long, 4)),
            account("c", hashed(&at_limit, 4)),
            account("p", Password::Plain(long.clone())),
        ]);
        assert!(!accounts.verify("b", &long));
        assert!(!accounts.verify("b", &"x".repeat(90)));
        assert!(accounts.verify("c", &at_limit));
        assert!(accounts.verify("p", &long), "plain passwords compare whole");
        assert!(matches!(hash_password(&long), Err(HashError::TooLong(80))));
        assert!(hash_password(&at_limit).is_ok());
    }
}
