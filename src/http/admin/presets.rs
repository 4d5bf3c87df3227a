//! `/admin/presets`: list, show, save (each change a new version), delete, and a preset's
//! versions. Saves are validated as the config file's presets are; requests see a change
//! at once on this replica and on the next refresh elsewhere.

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::{invalid, json_body};
use crate::http::extract::ApiPath;
use crate::http::{ApiError, AppState};
use crate::store::Origin;
use crate::types::preset::{valid_name, PresetDecl};

fn check_name(name: &str) -> Result<(), ApiError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(invalid(
            format!("`{name}` is not a valid preset name: use at most 64 lowercase letters, digits, `-`, `_` and `.`, starting with a letter or digit"),
            Some("name"),
        ))
    }
}

fn missing(name: &str) -> ApiError {
    ApiError::NotFound(format!("no preset `{name}`"))
}

pub async fn list_presets(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let data = s.store.presets().await?;
    Ok(Json(json!({ "object": "list", "data": data })))
}

pub async fn show_preset(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    check_name(&name)?;
    match s.store.preset(&name).await? {
        Some(p) => Ok(Json(json!(p))),
        None => Err(missing(&name)),
    }
}

/// Creates the preset or, when the body differs from its current version, adds a version.
/// The body is the whole preset (fields left out are cleared), as `PUT` means.
pub async fn put_preset(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    check_name(&name)?;
    let mut decl: PresetDecl = json_body(body).await?;
    if !decl.name.is_empty() && decl.name != name {
        return Err(invalid(
            format!(
                "`name` is `{}` but the path names `{name}`; a preset cannot be renamed",
                decl.name
            ),
            Some("name"),
        ));
    }
    decl.name.clone_from(&name);
    decl.validate().map_err(|e| {
        let field = match e.field.split(['.', '[']).next() {
            Some("model") => Some("model"),
            Some("models") => Some("models"),
            Some("provider") => Some("provider"),
            Some("parameters") => Some("parameters"),
            _ => None,
        };
        invalid(e.to_string(), field)
    })?;
    let saved = s
        .store
        .save_presets(std::slice::from_ref(&decl), Origin::Admin)
        .await?;
    s.registry.reload().await?;
    let Some(stored) = s.store.preset(&name).await? else {
        return Err(missing(&name));
    };
    let mut v = json!(stored);
    v["changed"] = json!(saved.first().is_some_and(|s| s.changed));
    Ok(Json(v))
}

pub async fn delete_preset(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    check_name(&name)?;
    s.store.delete_preset(&name).await?;
    s.registry.reload().await?;
    Ok(Json(json!({ "name": name, "deleted": true })))
}

pub async fn list_versions(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    check_name(&name)?;
    let data = s.store.preset_versions(&name).await?;
    if data.is_empty() {
        return Err(missing(&name));
    }
    Ok(Json(json!({ "object": "list", "data": data })))
}
