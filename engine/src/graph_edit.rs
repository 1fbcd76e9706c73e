//! Reading and editing the knowledge graph by hand: subgraphs for the explorer, label
//! search ([`explorer`]), and entity and relation creation, edits, renames, merges
//! ([`merge`]) and deletions.
//!
//! Every edit keeps the places an element lives in step (graph, vector, chunk list:
//! [`crate::storage::elements`]) and the per-document lists ([`documents`]). A renamed
//! or merged entity is found under its new name and no longer under the old one. The
//! caller holds the pipeline lock.

mod documents;
mod explorer;
mod merge;

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::embedding::{Batching, Embedder};
use crate::llm::ModelError;
use crate::storage::StorageError;
use crate::storage::bundle::Stores;
use crate::storage::graph::{Entity, Relation, fragments};

pub use explorer::{GraphEdge, GraphNode, Subgraph, label_score};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The element named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The edit is not allowed or not well formed.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

type Result<T> = std::result::Result<T, EditError>;

/// The changes `/graph/entity/edit` may make; a new `entity_name` renames the entity.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityUpdate {
    pub entity_name: Option<String>,
    pub entity_type: Option<String>,
    pub description: Option<String>,
    pub source_id: Option<String>,
    pub file_path: Option<String>,
}

impl EntityUpdate {
    /// Applies the property changes; whether there were any.
    fn apply(&self, entity: &mut Entity) -> bool {
        let changes = [
            (&mut entity.entity_type, &self.entity_type),
            (&mut entity.description, &self.description),
            (&mut entity.source_id, &self.source_id),
            (&mut entity.file_path, &self.file_path),
        ];
        let mut changed = false;
        for (property, value) in changes {
            if let Some(value) = value {
                property.clone_from(value);
                changed = true;
            }
        }
        changed
    }
}

/// The changes `/graph/relation/edit` may make.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationUpdate {
    pub description: Option<String>,
    pub keywords: Option<String>,
    pub source_id: Option<String>,
    pub file_path: Option<String>,
    pub weight: Option<f64>,
}

impl RelationUpdate {
    fn apply(&self, relation: &mut Relation) {
        let changes = [
            (&mut relation.description, &self.description),
            (&mut relation.keywords, &self.keywords),
            (&mut relation.source_id, &self.source_id),
            (&mut relation.file_path, &self.file_path),
        ];
        for (property, value) in changes {
            if let Some(value) = value {
                property.clone_from(value);
            }
        }
        if let Some(weight) = self.weight {
            relation.weight = weight;
        }
    }
}

/// Fields a request gives for a new element, with the ones the editor sets itself
/// (name, creation time) removed and `defaults` filled in where absent or null.
fn new_element_fields(fields: &Map<String, Value>, defaults: &[(&str, Value)]) -> Value {
    let mut fields = fields.clone();
    for key in ["entity_id", "created_at"] {
        fields.shift_remove(key);
    }
    for (key, default) in defaults {
        if fields.get(*key).is_none_or(Value::is_null) {
            fields.insert((*key).to_owned(), default.clone());
        }
    }
    Value::Object(fields)
}

fn unreadable(e: serde_json::Error) -> EditError {
    EditError::Invalid(e.to_string())
}

pub struct GraphEditor<'a> {
    pub stores: Stores<'a>,
    pub embedder: &'a dyn Embedder,
    pub batching: Batching,
}

impl GraphEditor<'_> {
    fn put_entity(&self, entity: &Entity) -> Result<()> {
        self.stores
            .put_entities(self.embedder, self.batching, std::slice::from_ref(entity))
    }

    fn put_relation(&self, relation: &Relation) -> Result<()> {
        self.stores
            .put_relations(self.embedder, self.batching, std::slice::from_ref(relation))
    }

    /// Removes an entity with all its relations from every place.
    fn drop_entity(&self, name: &str) -> Result<()> {
        let relations: Vec<(String, String)> = self
            .stores
            .graph
            .edges_of(name)?
            .into_iter()
            .map(|e| (e.source, e.target))
            .collect();
        self.stores.drop_relations(&relations)?;
        self.stores.drop_entities(&[name.to_owned()])?;
        Ok(())
    }

    /// A new entity from the request's fields (unknown ones kept); `Invalid` when the
    /// name is taken.
    pub fn create_entity(&self, name: &str, fields: &Map<String, Value>) -> Result<Entity> {
        if self.stores.graph.node_get(name)?.is_some() {
            return Err(EditError::Invalid(format!(
                "Entity '{name}' already exists"
            )));
        }
        let fields = new_element_fields(fields, &[("entity_type", Value::from("UNKNOWN"))]);
        let entity = Entity {
            name: name.to_owned(),
            created_at: Some(crate::clock::now_epoch_secs()),
            ..serde_json::from_value(fields).map_err(unreadable)?
        };
        self.put_entity(&entity)?;
        Ok(entity)
    }

    /// A new relation between two existing entities (weight 1 unless given).
    pub fn create_relation(
        &self,
        source: &str,
        target: &str,
        fields: &Map<String, Value>,
    ) -> Result<Relation> {
        for (role, name) in [("Source", source), ("Target", target)] {
            if self.stores.graph.node_get(name)?.is_none() {
                return Err(EditError::Invalid(format!(
                    "{role} entity '{name}' does not exist"
                )));
            }
        }
        if self.stores.graph.edge_get(source, target)?.is_some() {
            return Err(EditError::Invalid(format!(
                "Relation from '{source}' to '{target}' already exists"
            )));
        }
        let mut fields = new_element_fields(fields, &[]);
        if fields.get("weight").is_some_and(|w| !w.is_number()) {
            fields["weight"] = Value::from(1.0);
        }
        let relation = Relation {
            source: source.to_owned(),
            target: target.to_owned(),
            created_at: Some(crate::clock::now_epoch_secs()),
            ..serde_json::from_value(fields).map_err(unreadable)?
        };
        self.put_relation(&relation)?;
        Ok(relation)
    }

    /// Applies `update` to an entity; a new name moves it (merging into an existing
    /// entity only with `allow_merge`). Returns the entity as it ends up, and whether a
    /// merge happened.
    pub fn edit_entity(
        &self,
        name: &str,
        update: &EntityUpdate,
        allow_rename: bool,
        allow_merge: bool,
    ) -> Result<(Entity, bool)> {
        if self.stores.graph.node_get(name)?.is_none() {
            return Err(EditError::Invalid(format!(
                "Entity '{name}' does not exist"
            )));
        }
        let new_name = update
            .entity_name
            .as_deref()
            .map(str::trim)
            .filter(|n| *n != name);
        let mut final_name = name;
        let mut merged = false;
        if let Some(new_name) = new_name {
            if new_name.is_empty() {
                return Err(EditError::Invalid("Entity name cannot be empty".to_owned()));
            }
            if !allow_rename {
                return Err(EditError::Invalid(format!(
                    "Renaming entity '{name}' requires allow_rename=true"
                )));
            }
            let exists = self.stores.graph.node_get(new_name)?.is_some();
            if exists && !allow_merge {
                return Err(EditError::Invalid(format!(
                    "Entity name '{new_name}' already exists, cannot rename"
                )));
            }
            self.merge_entities(&[name.to_owned()], new_name)?;
            final_name = new_name;
            merged = exists;
        }
        let mut entity =
            self.stores.graph.node_get(final_name)?.ok_or_else(|| {
                EditError::NotFound(format!("Entity '{final_name}' does not exist"))
            })?;
        if update.apply(&mut entity) {
            self.put_entity(&entity)?;
        }
        Ok((entity, merged))
    }

    /// Applies `update` to a relation; the weight may not fall below its number of
    /// distinct source chunks.
    pub fn edit_relation(
        &self,
        source: &str,
        target: &str,
        update: &RelationUpdate,
    ) -> Result<Relation> {
        let mut relation = self.stores.graph.edge_get(source, target)?.ok_or_else(|| {
            EditError::Invalid(format!(
                "Relation from '{source}' to '{target}' does not exist"
            ))
        })?;
        update.apply(&mut relation);
        let sources = fragments(&relation.source_id).collect::<HashSet<_>>().len();
        let weight = relation.weight;
        if weight < sources as f64 {
            return Err(EditError::Invalid(format!(
                "Weight {weight} is below the relation's {sources} distinct source chunks"
            )));
        }
        self.put_relation(&relation)?;
        Ok(relation)
    }

    pub fn delete_entity(&self, name: &str) -> Result<()> {
        if self.stores.graph.node_get(name)?.is_none() {
            return Err(EditError::NotFound(format!("Entity '{name}' not found")));
        }
        self.drop_entity(name)?;
        self.rewrite_document_lists(&HashMap::from([(name.to_owned(), None)]))
    }

    pub fn delete_relation(&self, source: &str, target: &str) -> Result<()> {
        if self.stores.graph.edge_get(source, target)?.is_none() {
            return Err(EditError::NotFound(format!(
                "Relation from '{source}' to '{target}' not found"
            )));
        }
        self.stores
            .drop_relations(&[(source.to_owned(), target.to_owned())])?;
        self.forget_relation(source, target)
    }
}
