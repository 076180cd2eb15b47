//! The pool server functions: authorize, check, call `Storage`, audit.

use leptos::server;
use leptos::server_fn::codec::{GetUrl, Json};

use super::{CreatedPools, NewPool, PoolSource, PoolSummary, PoolTypes, ScanRequest};
#[cfg(feature = "ssr")]
use super::{HostPoolResult, PoolAction, ScanSpec};
use crate::api::ApiError;
#[cfg(feature = "ssr")]
use crate::api::{
    audit::{AuditAction, Target},
    auth::Role,
    size::StorageName,
    ssr,
};

/// Every pool on every reachable host.
#[server(prefix = "/api", endpoint = "pools", input = GetUrl, output = crate::api::JsonText)]
pub async fn list_pools() -> Result<Vec<PoolSummary>, ApiError> {
    ssr::authorized(|ctx| async move { Ok(ctx.services.storage.pools().await) }).await
}

/// The pool types `host` supports, each with its fields.
#[server(name = PoolTypesFn, prefix = "/api", endpoint = "pools/types", input = GetUrl, output = crate::api::JsonText)]
pub async fn pool_types(host: String) -> Result<PoolTypes, ApiError> {
    ssr::authorized(|ctx| async move { ctx.services.storage.pool_types(&host).await }).await
}

/// Lists the sources (exports, targets, volume groups) a host can see.
#[server(prefix = "/api", endpoint = "pools/scan", input = Json, output = crate::api::JsonText)]
pub async fn scan_pool_sources(
    #[server(flatten)] request: ScanRequest,
) -> Result<Vec<PoolSource>, ApiError> {
    ssr::authorized_as(Role::Admin, |ctx| async move {
        let spec = request.validate()?;
        let spec = ScanSpec {
            initiator_iqn: spec
                .initiator_iqn
                .map(|i| i.replace("{host}", &request.host.to_ascii_lowercase())),
            ..spec
        };
        ctx.services.storage.scan(&request.host, &spec).await
    })
    .await
}

/// Defines, builds and starts a pool on one or several hosts (admins only).
/// A `dir`, `fs` or `netfs` pool's directory must lie under the host's
/// storage roots (`storage_roots` in virtdeck.toml) or a pool it has.
#[server(prefix = "/api", endpoint = "pools", input = Json, output = crate::api::JsonText)]
pub async fn create_pool(#[server(flatten)] request: NewPool) -> Result<CreatedPools, ApiError> {
    ssr::authorized_as(Role::Admin, |ctx| async move {
        let target = |host: &str| Target::pool(host, &request.name);
        let checked = request
            .target_hosts()
            .and_then(|hosts| Ok((hosts, request.validate()?)));
        let (hosts, spec) = match checked {
            Ok(ok) => ok,
            Err(e) => {
                let hosts = request
                    .host
                    .clone()
                    .or_else(|| request.hosts.as_ref().map(|h| h.join(",")))
                    .unwrap_or_default();
                let result: Result<(), _> = Err(e.clone());
                ctx.audit(AuditAction::PoolCreate, &target(&hosts), &result)
                    .await;
                return Err(e);
            }
        };
        let single = request.host.is_some();
        let results = futures_join(hosts.iter().map(|host| {
            let spec = spec.for_host(host);
            let storage = ctx.services.storage.clone();
            let host = host.clone();
            async move {
                let result = storage.create_pool(&host, &spec).await;
                (host, result)
            }
        }))
        .await;
        for (host, result) in &results {
            ctx.audit(AuditAction::PoolCreate, &target(host), result)
                .await;
        }
        if single {
            let (_, result) = results.into_iter().next().expect("one host");
            return result.map(|p| CreatedPools::One(Box::new(p)));
        }
        Ok(CreatedPools::Many(
            results
                .into_iter()
                .map(|(host, result)| match result {
                    Ok(pool) => HostPoolResult {
                        host,
                        pool: Some(pool),
                        error: None,
                    },
                    Err(e) => HostPoolResult {
                        host,
                        pool: None,
                        error: Some(e),
                    },
                })
                .collect(),
        ))
    })
    .await
}

#[cfg(feature = "ssr")]
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    futures::future::join_all(futures).await
}

/// Starts, stops, refreshes, (un)sets autostart of, or deletes a pool. Answers
/// the pool's new summary, or `null` once it is deleted.
#[server(name = PoolActionFn, prefix = "/api", endpoint = "pools/action", input = Json, output = crate::api::JsonText)]
pub async fn pool_action(
    host: String,
    pool: String,
    action: String,
    #[server(default)] delete_storage: bool,
) -> Result<Option<PoolSummary>, ApiError> {
    ssr::authorized_as(Role::Operator, |ctx| async move {
        let parsed = PoolAction::parse(&action);
        let audit = AuditAction::pool(parsed.as_ref().ok().copied(), delete_storage);
        ctx.audited(audit, Target::pool(&host, &pool), async {
            let action = parsed?;
            if action == PoolAction::Delete && !ctx.user.can(Role::Admin) {
                return Err(ApiError::Forbidden(format!(
                    "your role ({}) cannot delete a pool; it needs admin (operators use the \
                     pools there are)",
                    ctx.user.role
                )));
            }
            let name = StorageName::parse("pool name", &pool)?;
            if delete_storage && action != PoolAction::Delete {
                return Err(ApiError::BadRequest(
                    "delete_storage only applies to the delete action".into(),
                ));
            }
            ctx.services
                .storage
                .pool_action(&host, &name, action, delete_storage)
                .await
        })
        .await
    })
    .await
}
