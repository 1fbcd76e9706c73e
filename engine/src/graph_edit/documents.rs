//! The per-document lists of entities and relations (`full_entities`,
//! `full_relations`), which deleting a document starts from: a hand edit that renames,
//! merges or deletes what they name rewrites them.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::{GraphEditor, Result};
use crate::ids;
use crate::storage::KvNamespace;

impl GraphEditor<'_> {
    /// Rewrites the per-document entity and relation lists: names in `renamed` become
    /// their new name (`None`: dropped), duplicates and self-relations vanish.
    pub(super) fn rewrite_document_lists(
        &self,
        renamed: &HashMap<String, Option<String>>,
    ) -> Result<()> {
        let kv = self.stores.kv;
        let map = |name: &str| -> Option<String> {
            match renamed.get(name) {
                Some(new) => new.clone(),
                None => Some(name.to_owned()),
            }
        };
        for doc in kv.kv_keys(KvNamespace::FullEntities)? {
            let Some(record) = kv.kv_get(KvNamespace::FullEntities, &doc)? else {
                continue;
            };
            let names: Vec<&str> = record["entity_names"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !names.iter().any(|n| renamed.contains_key(*n)) {
                continue;
            }
            let new: BTreeSet<String> = names.iter().filter_map(|n| map(n)).collect();
            kv.kv_upsert(
                KvNamespace::FullEntities,
                &[(doc, json!({"entity_names": new, "count": new.len()}))],
            )?;
        }
        for doc in kv.kv_keys(KvNamespace::FullRelations)? {
            let Some(record) = kv.kv_get(KvNamespace::FullRelations, &doc)? else {
                continue;
            };
            let pairs: Vec<(String, String)> = record["relation_pairs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| {
                            Some((
                                p.get(0)?.as_str()?.to_owned(),
                                p.get(1)?.as_str()?.to_owned(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            if !pairs
                .iter()
                .any(|(a, b)| renamed.contains_key(a) || renamed.contains_key(b))
            {
                continue;
            }
            let new: BTreeSet<(String, String)> = pairs
                .iter()
                .filter_map(|(a, b)| Some(ids::endpoints(map(a)?, map(b)?)))
                .filter(|(a, b)| a != b)
                .collect();
            let list: Vec<[&String; 2]> = new.iter().map(|(a, b)| [a, b]).collect();
            kv.kv_upsert(
                KvNamespace::FullRelations,
                &[(doc, json!({"relation_pairs": list, "count": list.len()}))],
            )?;
        }
        Ok(())
    }

    /// Removes a relation (the pair in either order) from every document's list.
    pub(super) fn forget_relation(&self, source: &str, target: &str) -> Result<()> {
        let kv = self.stores.kv;
        let pair = ids::endpoints(source, target);
        for doc in kv.kv_keys(KvNamespace::FullRelations)? {
            let Some(record) = kv.kv_get(KvNamespace::FullRelations, &doc)? else {
                continue;
            };
            let pairs: Vec<Value> = record["relation_pairs"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let kept: Vec<Value> = pairs
                .iter()
                .filter(|p| {
                    let (a, b) = (
                        p[0].as_str().unwrap_or_default(),
                        p[1].as_str().unwrap_or_default(),
                    );
                    ids::endpoints(a, b) != pair
                })
                .cloned()
                .collect();
            if kept.len() != pairs.len() {
                kv.kv_upsert(
                    KvNamespace::FullRelations,
                    &[(doc, json!({"relation_pairs": kept, "count": kept.len()}))],
                )?;
            }
        }
        Ok(())
    }
}
