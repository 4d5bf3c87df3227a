//! Applying the config file's registry declarations (`serve` and `migrate` only).
//!
//! The file is applied where it changed, not wholesale: each row remembers the file's
//! declaration last applied to it (`config_hash`). A declaration the file still states as it
//! did is left alone, so an edit made through the admin API since (a model disabled during an
//! incident) survives restarts. A declaration the operator changed in the file replaces the
//! row, admin edits included, and the log names each one it replaced.

use std::collections::HashMap;
use std::fmt;

use super::registry::decl_hash;
use super::{on_pool, Origin, Store, StoreError};
use crate::types::registry::{ModelDecl, ProviderDecl};

/// What applying the config file did, for the log and `switchyard migrate`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigApplied {
    pub models_added: Vec<String>,
    pub models_updated: Vec<String>,
    pub providers_added: Vec<String>,
    pub providers_updated: Vec<String>,
    /// Rows last written through the admin API that a changed declaration in the file replaced
    /// (`model a/b`, `provider x`).
    pub replaced_admin_edits: Vec<String>,
    /// Rows last written through the admin API left as they are: the file's declaration of
    /// them has not changed since it was last applied.
    pub kept_admin_edits: Vec<String>,
}

impl ConfigApplied {
    pub fn is_unchanged(&self) -> bool {
        self.models_added.is_empty()
            && self.models_updated.is_empty()
            && self.providers_added.is_empty()
            && self.providers_updated.is_empty()
    }
}

/// `config applied: 2 models added, 1 provider updated`, or `config unchanged`.
impl fmt::Display for ConfigApplied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unchanged() {
            return f.write_str("config unchanged");
        }
        let parts: Vec<String> = [
            (&self.models_added, "model", "added"),
            (&self.models_updated, "model", "updated"),
            (&self.providers_added, "provider", "added"),
            (&self.providers_updated, "provider", "updated"),
        ]
        .into_iter()
        .filter(|(v, _, _)| !v.is_empty())
        .map(|(v, what, done)| {
            let s = if v.len() == 1 { "" } else { "s" };
            format!("{} {what}{s} {done}", v.len())
        })
        .collect();
        write!(f, "config applied: {}", parts.join(", "))
    }
}

/// A stored row as the decision sees it.
#[derive(Debug, Clone, Copy)]
struct Stored<'a> {
    /// The row already says what the file says.
    matches: bool,
    /// Last written through the admin API.
    admin: bool,
    /// The file's declaration last applied to it.
    applied: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Add,
    /// The file's declaration is as last applied: the row stays as it is.
    Keep {
        admin_edited: bool,
    },
    /// The row already matches the file: only remember that the file said so.
    Record,
    /// The file changed: its declaration replaces the row.
    Replace {
        admin_edited: bool,
    },
}

fn decide(stored: Option<Stored<'_>>, file_hash: &str) -> Step {
    match stored {
        None => Step::Add,
        Some(s) if s.applied == Some(file_hash) => Step::Keep {
            admin_edited: s.admin && !s.matches,
        },
        Some(s) if s.matches => Step::Record,
        Some(s) => Step::Replace {
            admin_edited: s.admin,
        },
    }
}

/// Per row: (origin, config_hash).
type RowState = HashMap<String, (String, Option<String>)>;

fn stored<'a>(state: &'a RowState, key: &str, matches: bool) -> Option<Stored<'a>> {
    state.get(key).map(|(origin, hash)| Stored {
        matches,
        admin: origin == Origin::Admin.as_str(),
        applied: hash.as_deref(),
    })
}

impl Store {
    /// Applies the config file's providers and models where the file changed (see the module
    /// doc) and says what it did.
    pub async fn apply_config(
        &self,
        providers: &[ProviderDecl],
        models: &[ModelDecl],
    ) -> Result<ConfigApplied, StoreError> {
        let rows = self.load_registry().await?;
        let (provider_state, model_state): (RowState, RowState) = on_pool!(self, p => {
            let providers: Vec<(String, String, Option<String>)> =
                sqlx::query_as("SELECT id, origin, config_hash FROM providers").fetch_all(p).await?;
            let models: Vec<(String, String, Option<String>)> =
                sqlx::query_as("SELECT slug, origin, config_hash FROM models").fetch_all(p).await?;
            let index = |v: Vec<(String, String, Option<String>)>| -> RowState {
                v.into_iter().map(|(k, o, h)| (k, (o, h))).collect()
            };
            (index(providers), index(models))
        });
        let mut out = ConfigApplied::default();
        let (mut write_providers, mut record_providers) = (Vec::new(), Vec::new());
        for d in providers {
            let hash = decl_hash(d);
            let matches = rows.providers.iter().any(|p| p == d);
            let name = format!("provider {}", d.id);
            match decide(stored(&provider_state, &d.id, matches), &hash) {
                Step::Add => {
                    out.providers_added.push(d.id.clone());
                    write_providers.push(d.clone());
                }
                Step::Keep { admin_edited } => {
                    if admin_edited {
                        out.kept_admin_edits.push(name);
                    }
                }
                Step::Record => record_providers.push((d.id.clone(), hash)),
                Step::Replace { admin_edited } => {
                    if admin_edited {
                        out.replaced_admin_edits.push(name);
                    }
                    out.providers_updated.push(d.id.clone());
                    write_providers.push(d.clone());
                }
            }
        }
        let (mut write_models, mut record_models) = (Vec::new(), Vec::new());
        for m in models {
            let hash = decl_hash(m);
            let matches = rows.models.iter().any(|(s, _)| s == m);
            let name = format!("model {}", m.slug);
            match decide(stored(&model_state, &m.slug, matches), &hash) {
                Step::Add => {
                    out.models_added.push(m.slug.clone());
                    write_models.push(m.clone());
                }
                Step::Keep { admin_edited } => {
                    if admin_edited {
                        out.kept_admin_edits.push(name);
                    }
                }
                Step::Record => record_models.push((m.slug.clone(), hash)),
                Step::Replace { admin_edited } => {
                    if admin_edited {
                        out.replaced_admin_edits.push(name);
                    }
                    out.models_updated.push(m.slug.clone());
                    write_models.push(m.clone());
                }
            }
        }

        if !write_providers.is_empty() || !write_models.is_empty() {
            self.apply_declarations(&write_providers, &write_models, Origin::Config)
                .await?;
        }
        if !record_providers.is_empty() || !record_models.is_empty() {
            // Nothing a replica serves changes, so the registry version stays.
            on_pool!(self, p => {
                let mut tx = p.begin().await?;
                for (id, hash) in &record_providers {
                    sqlx::query("UPDATE providers SET config_hash = $1 WHERE id = $2")
                        .bind(hash).bind(id).execute(&mut *tx).await?;
                }
                for (slug, hash) in &record_models {
                    sqlx::query("UPDATE models SET config_hash = $1 WHERE slug = $2")
                        .bind(hash).bind(slug).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(matches: bool, admin: bool, applied: Option<&str>) -> Option<Stored<'_>> {
        Some(Stored {
            matches,
            admin,
            applied,
        })
    }

    #[test]
    fn the_file_applies_only_where_it_changed() {
        assert_eq!(decide(None, "h1"), Step::Add);
        // Disabled through the admin API, file as before: the edit stays.
        assert_eq!(
            decide(row(false, true, Some("h1")), "h1"),
            Step::Keep { admin_edited: true }
        );
        assert_eq!(
            decide(row(true, false, Some("h1")), "h1"),
            Step::Keep {
                admin_edited: false
            }
        );
        // The operator changed the file: it wins, and says so when it undoes an admin edit.
        assert_eq!(
            decide(row(false, true, Some("h1")), "h2"),
            Step::Replace { admin_edited: true }
        );
        assert_eq!(
            decide(row(false, false, Some("h1")), "h2"),
            Step::Replace {
                admin_edited: false
            }
        );
        // Rows from before hashes were kept: equal ones are only recorded, others replaced.
        assert_eq!(decide(row(true, false, None), "h1"), Step::Record);
        assert_eq!(
            decide(row(false, false, None), "h1"),
            Step::Replace {
                admin_edited: false
            }
        );
    }

    #[test]
    fn summary_counts_what_changed() {
        assert_eq!(ConfigApplied::default().to_string(), "config unchanged");
        let kept = ConfigApplied {
            kept_admin_edits: vec!["model a/b".into()],
            ..Default::default()
        };
        assert_eq!(kept.to_string(), "config unchanged");
        let s = ConfigApplied {
            models_added: vec!["a/b".into(), "c/d".into()],
            providers_updated: vec!["x".into()],
            ..Default::default()
        };
        assert_eq!(
            s.to_string(),
            "config applied: 2 models added, 1 provider updated"
        );
    }
}
