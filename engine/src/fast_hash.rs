//! Maps and sets of names and ids that live for one query or one write: foldhash is
//! several times faster than std's SipHash on short strings and is still seeded per
//! process, so an uploaded document cannot aim at its buckets. (foldhash's own aliases
//! need its `std` feature, which would rebuild what depends on hashbrown.)

pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type FastSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
